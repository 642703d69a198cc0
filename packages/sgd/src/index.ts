export { ASGD, type ASGDDefaults, type ASGDOptions, asgd } from './asgd.js';
export { SGD, type SGDDefaults, type SGDOptions, sgd } from './sgd.js';
export { Signum, type SignumDefaults, type SignumOptions, signum } from './signum.js';
