/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {
  AdaBeliefOptions,
  AdamaxOptions,
  AdamOptions,
  AdamWOptions,
  AdoptOptions,
  NAdamOptions,
  RAdamOptions,
  YogiOptions,
} from './index.js';

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

export const adabeliefCases: AdaBeliefOptions[] = [
  {},
  { learningRate: 0.01, weightDecay: 0.1, amsgrad: true },
  { learningRate: 0.01, rectify: false, epsilon: 1e-8, weightDecay: 0.1, decoupledWeightDecay: false },
  {
    learningRate: 0.02,
    beta1: 0.8,
    beta2: 0.99,
    rectify: false,
    amsgrad: true,
    fixedDecay: true,
    weightDecay: 0.01,
  },
  { learningRate: 0.02, beta2: 0.9, degeneratedToSgd: false, epsilon: 1e-6 },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
];

export const yogiCases: YogiOptions[] = [
  {},
  { learningRate: 0.05 },
  { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-6, initialAccumulatorValue: 0.5 },
  { learningRate: 0.03, beta1: 0, weightDecay: 0.1 },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
];

export const adoptCases: AdoptOptions[] = [
  {},
  { learningRate: 0.02, weightDecay: 0.1 },
  { learningRate: 0.02, weightDecay: 0.1, decoupledWeightDecay: true, beta2: 0.99 },
  { learningRate: 0.01, clip: false, beta1: 0.5, epsilon: 1e-3 },
  { learningRate: 0.01, clipExponent: (s) => 0.25 + 0.01 * s, beta2: 0.9, paramGroups: groups },
];
