/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ASGDOptions, SGDOptions, SignumOptions } from './index.js';

export const sgdCases: SGDOptions[] = [
  // The golden tests' option sets.
  { learningRate: 0.1 },
  { learningRate: 0.05, momentum: 0.9 },
  { learningRate: 0.03, momentum: 0.8, dampening: 0.5, weightDecay: 0.01 },
  { learningRate: 0.02, momentum: 0.95, nesterov: true, weightDecay: 0.05 },
  { momentum: 0.5, dampening: 1 },
  // Weight decay without momentum; schedules (momentum reaching 0 keeps the buffer); groups.
  { learningRate: 0.1, weightDecay: 0.2 },
  {
    learningRate: (step) => 0.1 / (1 + step),
    momentum: (step) => (step < 10 ? 0.9 : 0),
    paramGroups: [
      { match: (v: tf.Variable) => v.rank === 2, nesterov: true, momentum: 0.7, weightDecay: 0.1 },
      { match: (v: tf.Variable) => v.rank === 0, momentum: 0, learningRate: 0.5 },
    ],
  },
];

export const asgdCases: ASGDOptions[] = [
  {},
  // Averaging from the fourth step (the variant switches from copying to averaging).
  { learningRate: 0.1, lambd: 0.02, alpha: 0.5, t0: 2, weightDecay: 0.05 },
  {
    learningRate: (step) => 0.05 / (1 + 0.1 * step),
    t0: 0,
    paramGroups: [
      { match: (v: tf.Variable) => v.rank === 2, lambd: 0.1, alpha: 1, t0: 5, weightDecay: 0.01 },
    ],
  },
];

export const signumCases: SignumOptions[] = [
  {},
  { learningRate: 0.05, momentum: 0.5, weightDecay: 0.1 },
  { learningRate: 0.02, momentum: 0.8, weightDecay: 0.05, decoupledWeightDecay: true },
  { momentum: 0, weightDecay: 0.01 },
  {
    learningRate: (step) => 0.01 * 0.9 ** step,
    momentum: (step) => (step < 10 ? 0.9 : 0),
    paramGroups: [
      { match: (v: tf.Variable) => v.rank <= 1, momentum: 0, decoupledWeightDecay: true, weightDecay: 0.2 },
    ],
  },
];
