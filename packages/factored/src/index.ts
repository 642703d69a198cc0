export { Adafactor, type AdafactorDefaults, type AdafactorOptions, adafactor } from './adafactor.js';
export { CAME, type CAMEDefaults, type CAMEOptions, came } from './came.js';
