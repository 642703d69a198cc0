/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ScheduleFreeAdamWOptions, ScheduleFreeSgdOptions } from './index.js';

const isRankAtMostOne = (v: tf.Variable) => v.rank <= 1;

export const scheduleFreeAdamWCases: ScheduleFreeAdamWOptions[] = [
  {},
  {
    learningRate: 0.05,
    warmupSteps: 5,
    r: 1,
    weightLrPower: 1,
    weightDecay: 0.1,
    beta1: 0.3,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, learningRate: 0.01 }],
  },
  { learningRate: (step) => 0.01 * (1 + step), innerMomentum: 0.9, beta2: 0.5, epsilon: 1e-4 },
];

export const scheduleFreeSgdCases: ScheduleFreeSgdOptions[] = [
  {},
  { learningRate: 0.1, warmupSteps: 4, weightDecay: 0.05, momentum: 0.4, r: 0.5 },
  { learningRate: (step) => 0.2 / (1 + step), weightLrPower: 0 },
];
