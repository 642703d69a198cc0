export { QHM, type QHMDefaults, type QHMOptions, qhm } from './qhm.js';
