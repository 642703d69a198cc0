export { Adadelta, type AdadeltaDefaults, type AdadeltaOptions, adadelta } from './adadelta.js';
export { Adagrad, type AdagradDefaults, type AdagradOptions, adagrad } from './adagrad.js';
export { RMSprop, type RMSpropDefaults, type RMSpropOptions, rmsprop } from './rmsprop.js';
export { Rprop, type RpropDefaults, type RpropOptions, rprop } from './rprop.js';
