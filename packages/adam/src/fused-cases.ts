/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdamaxOptions, AdamOptions, AdamWOptions, NAdamOptions, RAdamOptions } from './index.js';

const groups = [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.05 }];

export const nadamCases: NAdamOptions[] = [
  {},
  { learningRate: 0.02, momentumDecay: 0 },
  { learningRate: 0.02, weightDecay: 0.1 },
  {
    learningRate: 0.03,
    beta1: 0.8,
    beta2: 0.99,
    epsilon: 1e-3,
    weightDecay: 0.1,
    momentumDecay: 0.04,
    decoupledWeightDecay: true,
  },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
];

export const adamCases: AdamOptions[] = [
  {},
  { learningRate: 0.05, amsgrad: true },
  { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.1 },
  { learningRate: 0.03, beta1: 0, beta2: 0.9, amsgrad: true, weightDecay: 0.05 },
  {
    learningRate: (s) => 0.01 * 0.9 ** s,
    beta2: (s) => 0.99 - 0.001 * s,
    weightDecay: 0.1,
    paramGroups: groups,
  },
];

export const adamwCases: AdamWOptions[] = [
  {},
  { learningRate: 0.05, weightDecay: 0.1, amsgrad: true },
  { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0 },
  { learningRate: 0.03, beta2: 0.9, weightDecay: 0.5, amsgrad: true },
  { learningRate: (s) => 0.01 * 0.9 ** s, beta1: (s) => 0.5 + 0.02 * s, paramGroups: groups },
];

export const adamaxCases: AdamaxOptions[] = [
  {},
  { learningRate: 0.05, weightDecay: 0.1 },
  { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-2 },
  { learningRate: 0.03, beta1: 0, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
];

export const radamCases: RAdamOptions[] = [
  {},
  { learningRate: 0.01, weightDecay: 0.1 },
  { learningRate: 0.01, beta1: 0.8, epsilon: 1e-3, weightDecay: 0.1, decoupledWeightDecay: true },
  { learningRate: 0.02, beta2: 0.9 },
  { learningRate: 0.005, beta2: 0.6 },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
];
