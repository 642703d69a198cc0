/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LionOptions } from './index.js';

const isRankAtMostOne = (v: tf.Variable) => v.rank <= 1;

export const lionCases: LionOptions[] = [
  {},
  {
    learningRate: 0.01,
    beta1: 0.95,
    beta2: 0.98,
    weightDecay: 0.5,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, learningRate: 0.003 }],
  },
  { learningRate: (step) => 0.02 * 0.95 ** step, beta1: 0.5, beta2: 0.6, weightDecay: 2 },
  { learningRate: 0.01, beta1: 0, beta2: (step) => 0.9 + 0.001 * step },
];
