export { AdEMAMix, type AdEMAMixDefaults, type AdEMAMixOptions, ademamix, ademamixWarmup } from './ademamix.js';
export { Adan, type AdanDefaults, type AdanOptions, adan } from './adan.js';
