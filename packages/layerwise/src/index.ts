export { LAMB, type LAMBDefaults, type LAMBOptions, lamb } from './lamb.js';
export { LARS, type LARSDefaults, type LARSOptions, lars } from './lars.js';
export { NovoGrad, type NovoGradDefaults, type NovoGradOptions, novograd } from './novograd.js';
