/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LAMBOptions, LARSOptions, NovoGradOptions } from './index.js';

const isRankAtMostOne = (v: tf.Variable) => v.rank <= 1;

export const larsCases: LARSOptions[] = [
  { learningRate: 5 },
  {
    learningRate: 2,
    momentum: 0.8,
    dampening: 0.3,
    weightDecay: 0.05,
    trustCoefficient: 0.02,
    epsilon: 1e-3,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.05 }],
  },
  {
    learningRate: (step) => 3 / (1 + 0.1 * step),
    nesterov: true,
    weightDecay: 0.01,
    trustCoefficient: 0.01,
  },
  { learningRate: 1, momentum: 0, weightDecay: 0.1, trustCoefficient: 0.05 },
  { learningRate: 0.5, momentum: (step) => (step < 10 ? 0.9 : 0), epsilon: 1e-4, trustRatio: false },
];

export const lambCases: LAMBOptions[] = [
  {},
  {
    learningRate: 0.02,
    beta1: 0.8,
    beta2: 0.95,
    epsilon: 1e-4,
    weightDecay: 0.1,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.01 }],
  },
  { learningRate: (step) => 0.05 * 0.9 ** step, weightDecay: 0.3 },
  { learningRate: 0.01, weightDecay: 0.05, trustRatio: false },
];

export const novogradCases: NovoGradOptions[] = [
  { learningRate: 0.01 },
  {
    learningRate: 0.02,
    beta1: 0.5,
    beta2: 0.9,
    epsilon: 1e-3,
    epsilonRoot: 1e-4,
    weightDecay: 0.1,
    paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, learningRate: 0.05 }],
  },
  { learningRate: (step) => 0.03 * 0.95 ** step, beta2: (step) => Math.min(0.98, 0.5 + 0.02 * step) },
];
