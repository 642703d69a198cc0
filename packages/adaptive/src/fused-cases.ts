/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdadeltaOptions, AdagradOptions, RMSpropOptions, RpropOptions } from './index.js';

export const adagradCases: AdagradOptions[] = [
  {},
  { learningRate: 0.1, lrDecay: 0.05, weightDecay: 0.1, initialAccumulatorValue: 0.5, epsilon: 1e-3 },
  {
    learningRate: (s) => 0.05 / (1 + 0.1 * s),
    epsilon: 0.1,
    paramGroups: [{ match: (v: tf.Variable) => v.rank === 2, lrDecay: 0.2, weightDecay: 0.01 }],
  },
  { learningRate: 0.1, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1, epsilon: 1e-8 },
];

export const rmspropCases: RMSpropOptions[] = [
  {},
  { learningRate: 0.01, alpha: 0.9, momentum: 0.9 },
  { learningRate: 0.02, alpha: 0.95, epsilon: 1e-4, weightDecay: 0.05, centered: true },
  {
    learningRate: (s) => 0.02 * 0.97 ** s,
    momentum: (s) => Math.min(0.9, 0.5 + 0.05 * s),
    alpha: (s) => 0.8 + 0.005 * s,
    epsilon: 1e-3,
    weightDecay: 0.01,
    centered: true,
  },
  {
    learningRate: 0.005,
    paramGroups: [{ match: (v: tf.Variable) => v.rank % 2 === 1, momentum: 0.8, centered: true }],
  },
  // A scheduled momentum that reaches 0 keeps updating the buffer.
  { learningRate: 0.01, momentum: (s) => (s < 8 ? 0.9 : 0), weightDecay: 0.1 },
];

export const adadeltaCases: AdadeltaOptions[] = [
  {},
  { learningRate: 0.5, rho: 0.95, epsilon: 1e-4, weightDecay: 0.1 },
  {
    learningRate: (s) => 2 / (1 + 0.05 * s),
    rho: (s) => 0.5 + 0.01 * s,
    epsilon: 1e-3,
    paramGroups: [{ match: (v: tf.Variable) => v.rank === 3, rho: 0.99, weightDecay: 0.01 }],
  },
];

export const rpropCases: RpropOptions[] = [
  {},
  { learningRate: 0.05, etaMinus: 0.3, etaPlus: 1.5, stepSizeMin: 0.01, stepSizeMax: 0.2 },
  // A scheduled learning rate is read once, at each variable's first update.
  {
    learningRate: (s) => 0.02 / (1 + s),
    etaPlus: (s) => 1.1 + 0.01 * s,
    paramGroups: [{ match: (v: tf.Variable) => v.rank === 2, etaMinus: 0.7, stepSizeMax: 0.05 }],
  },
];
