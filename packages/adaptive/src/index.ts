export { Adadelta, type AdadeltaDefaults, type AdadeltaOptions, adadelta } from './adadelta.js';
export { Adagrad, type AdagradDefaults, type AdagradOptions, adagrad } from './adagrad.js';
export { RMSprop, type RMSpropDefaults, type RMSpropOptions, rmsprop } from './rmsprop.js';
