export { Adafactor, type AdafactorDefaults, type AdafactorOptions, adafactor } from './adafactor.js';
export { CAME, type CAMEDefaults, type CAMEOptions, came } from './came.js';
export { SM3, type SM3Defaults, type SM3Options, sm3 } from './sm3.js';
