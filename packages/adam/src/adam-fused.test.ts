import { describeFusedEquivalence } from '@optimkit/core/testing';
import type * as tf from '@tensorflow/tfjs-core';
import {
  type AdamaxOptions,
  type AdamOptions,
  type AdamWOptions,
  adam,
  adamax,
  adamw,
  type NAdamOptions,
  nadam,
  type RAdamOptions,
  radam,
} from './index.js';

// The golden tests' option sets, plus schedules and param groups.
const groups = [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.05 }];

describeFusedEquivalence<AdamOptions>({
  name: 'adam',
  create: adam,
  optionSets: [
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
  ],
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdamWOptions>({
  name: 'adamw',
  create: adamw,
  optionSets: [
    {},
    { learningRate: 0.05, weightDecay: 0.1, amsgrad: true },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0 },
    { learningRate: 0.03, beta2: 0.9, weightDecay: 0.5, amsgrad: true },
    { learningRate: (s) => 0.01 * 0.9 ** s, beta1: (s) => 0.5 + 0.02 * s, paramGroups: groups },
  ],
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdamaxOptions>({
  name: 'adamax',
  create: adamax,
  optionSets: [
    {},
    { learningRate: 0.05, weightDecay: 0.1 },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-2 },
    { learningRate: 0.03, beta1: 0, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 },
    { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
  ],
  bitIdentical: ['cpu', 'wasm'],
});

const nadamSets: NAdamOptions[] = [
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

describeFusedEquivalence<NAdamOptions>({
  name: 'nadam',
  create: nadam,
  optionSets: nadamSets,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<NAdamOptions>({
  name: 'nadam over 80 steps (past the end of the μ product series)',
  create: nadam,
  optionSets: [nadamSets[3]!],
  steps: 80,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<RAdamOptions>({
  name: 'radam',
  create: radam,
  optionSets: [
    {},
    { learningRate: 0.01, weightDecay: 0.1 },
    { learningRate: 0.01, beta1: 0.8, epsilon: 1e-3, weightDecay: 0.1, decoupledWeightDecay: true },
    { learningRate: 0.02, beta2: 0.9 },
    { learningRate: 0.005, beta2: 0.6 },
    { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: groups },
  ],
  bitIdentical: ['cpu', 'wasm'],
});
