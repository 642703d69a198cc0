/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdanOptions, AdEMAMixOptions } from './index.js';

const groups = [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.05 }];

export const adanCases: AdanOptions[] = [
  {},
  { learningRate: 0.01, weightDecay: 0.02 },
  { learningRate: 0.01, weightDecay: 0.1, noProx: true },
  { learningRate: 0.02, beta1: 0.9, beta2: 0.5, beta3: 0.999, epsilon: 1e-4 },
  {
    learningRate: (s) => 0.01 * 0.9 ** s,
    beta2: (s) => 0.9 - 0.01 * s,
    weightDecay: 0.1,
    paramGroups: groups,
  },
];

export const ademamixCases: AdEMAMixOptions[] = [
  {},
  { learningRate: 0.01, weightDecay: 0.1, alpha: 5 },
  { learningRate: 0.01, alpha: 8, alphaWarmup: 10, beta3Warmup: 15, beta3: 0.999 },
  { learningRate: 0.02, beta1: 0, beta2: 0.99, epsilon: 1e-4, beta3Warmup: 100 },
  { learningRate: (s) => 0.01 * 0.9 ** s, alpha: (s) => 0.1 * s, weightDecay: 0.1, paramGroups: groups },
];
