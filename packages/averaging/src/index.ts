export { Ema, type EmaDefaults, type EmaOptions, ema } from './ema.js';
export { Lookahead, type LookaheadDefaults, type LookaheadOptions, lookahead } from './lookahead.js';
export { Swa, type SwaDefaults, type SwaOptions, swa } from './swa.js';
export type { AverageSwap, AveragingClass, AveragingOptimizer } from './wrapper.js';
