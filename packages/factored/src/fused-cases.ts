/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdafactorOptions, CAMEOptions, SM3Options } from './index.js';

export const adafactorCases: AdafactorOptions[] = [
  {},
  { warmupInit: true },
  { scaleParameter: false },
  { learningRate: 0.02 },
  { learningRate: 0.03, scaleParameter: false, beta1: 0.9, weightDecay: 0.1 },
  { clipThreshold: 0.5, decayRate: -0.5, epsilon2: 0.45, beta1: 0.5, weightDecay: 0.05 },
  { learningRate: (s) => 0.05 / (1 + 0.1 * s), scaleParameter: false, epsilon1: 1e-3, decayRate: 0 },
  {
    learningRate: 0.01,
    paramGroups: [{ match: (v: tf.Variable) => v.rank >= 2, beta1: 0.8, weightDecay: 0.1 }],
  },
];

export const cameCases: CAMEOptions[] = [
  { learningRate: 2e-4 },
  { learningRate: 1e-2, weightDecay: 0.1 },
  {
    learningRate: 5e-3,
    beta1: 0.8,
    beta2: 0.99,
    beta3: 0.995,
    epsilon1: 1e-4,
    epsilon2: 1e-3,
    clipThreshold: 0.5,
    weightDecay: 0.02,
  },
  { learningRate: (s) => 0.01 * 0.9 ** s, clipThreshold: 3, beta2: 0.9 },
  {
    learningRate: 1e-3,
    paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, beta1: 0.5, beta2: 0.9, weightDecay: 0.1 }],
  },
];

export const sm3Cases: SM3Options[] = [
  { learningRate: 0.1 },
  { learningRate: 0.05, momentum: 0 },
  {
    learningRate: (s) => 0.2 / (1 + 0.1 * s),
    momentum: (s) => Math.min(0.9, 0.1 * s),
    paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, learningRate: 0.01, momentum: 0.5 }],
  },
];
