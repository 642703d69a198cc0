export { AdaBelief, type AdaBeliefDefaults, type AdaBeliefOptions, adabelief } from './adabelief.js';
export { Adam, type AdamDefaults, type AdamOptions, adam } from './adam.js';
export { Adamax, type AdamaxDefaults, type AdamaxOptions, adamax } from './adamax.js';
export { AdamW, type AdamWDefaults, type AdamWOptions, adamw } from './adamw.js';
export { Adopt, type AdoptDefaults, type AdoptOptions, adopt } from './adopt.js';
export { NAdam, type NAdamDefaults, type NAdamOptions, nadam } from './nadam.js';
export { RAdam, type RAdamDefaults, type RAdamOptions, radam } from './radam.js';
export { Yogi, type YogiDefaults, type YogiOptions, yogi } from './yogi.js';
