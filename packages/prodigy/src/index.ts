export { Prodigy, type ProdigyDefaults, type ProdigyOptions, prodigy } from './prodigy.js';
