export { Adan, type AdanDefaults, type AdanOptions, adan } from './adan.js';
export { AdEMAMix, type AdEMAMixDefaults, type AdEMAMixOptions, ademamix } from './ademamix.js';
