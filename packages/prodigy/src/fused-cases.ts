/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ProdigyOptions } from './index.js';

const isRankAtMostOne = (v: tf.Variable) => v.rank <= 1;

export const prodigyCases: ProdigyOptions[] = [
  {},
  { beta1: 0, weightDecay: 0.1, decouple: false, useBiasCorrection: true, d0: 1e-3, growthRate: 1.02 },
  {
    weightDecay: 0.05,
    safeguardWarmup: true,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, epsilon: 1e-4, learningRate: 0 }],
  },
];
