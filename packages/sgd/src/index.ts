export { SGD, type SGDDefaults, type SGDOptions, sgd } from './sgd.js';
