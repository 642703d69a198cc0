export { Lion, type LionDefaults, type LionOptions, lion } from './lion.js';
