/**
 * The option sets of this family's fused-kernel equivalence tests (the wrapper class's options:
 * `inner` names the inner optimizer, whose options sit beside the wrapper's).
 */
import type * as tf from '@tensorflow/tfjs-core';

const rankAtMostOne = (v: tf.Variable) => v.rank <= 1;

export const lookaheadCases: Record<string, unknown>[] = [
  { inner: 'OptimkitSGD', learningRate: 0.05, momentum: 0.9 },
  {
    inner: 'OptimkitSGD',
    learningRate: 0.05,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 0.01,
    syncPeriod: 3,
    slowStepSize: (step: number) => 0.3 + 0.5 / (1 + step),
    paramGroups: [{ match: rankAtMostOne, learningRate: 0.01, slowStepSize: 0.8 }],
  },
  { inner: 'OptimkitAdamW', learningRate: 0.01, syncPeriod: 2 },
];

export const emaCases: Record<string, unknown>[] = [
  { inner: 'OptimkitSGD', learningRate: 0.05, momentum: 0.9, decay: 0.9 },
  { inner: 'OptimkitAdamW', learningRate: 0.01, decay: 0.99, warmup: true, warmupPower: 0.75 },
  {
    inner: 'OptimkitAdamW',
    learningRate: (step: number) => 0.01 / (1 + step),
    decay: (step: number) => 0.5 + 0.4 * Math.min(1, step / 10),
    paramGroups: [{ match: rankAtMostOne, decay: 0 }],
  },
];

export const swaCases: Record<string, unknown>[] = [
  { inner: 'OptimkitSGD', learningRate: 0.05, momentum: 0.9 },
  { inner: 'OptimkitSGD', learningRate: 0.05, momentum: 0.9, swaStart: 4, swaFrequency: 3 },
  {
    inner: 'OptimkitAdamW',
    learningRate: 0.01,
    swaStart: 2,
    paramGroups: [{ match: rankAtMostOne, swaFrequency: 2 }],
  },
];
