/**
 * The option sets of this family's fused-kernel equivalence tests, shared with the browser tests
 * (`apps/browser`), which run them on WebGL and WebGPU against the cpu backend. Variables that are
 * not matrices take the AdamW path (`useMuon: false`), as in the usual setup.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { MuonOptions } from './index.js';

const notMatrix = (v: tf.Variable) => v.rank !== 2;

export const muonCases: MuonOptions[] = [
  { paramGroups: [{ match: notMatrix, useMuon: false }] },
  {
    learningRate: 0.02,
    momentum: 0.9,
    nesterov: false,
    weightDecay: 0,
    adjustLearningRate: 'matchRmsAdamW',
    paramGroups: [
      { match: notMatrix, useMuon: false, learningRate: 3e-3, weightDecay: 0.01, adamBeta2: 0.999 },
    ],
  },
  {
    learningRate: (step) => 0.05 * 0.9 ** step,
    momentum: 0.3,
    nsSteps: 3,
    paramGroups: [{ match: notMatrix, useMuon: false, adamBeta1: 0.3, adamBeta2: 0.4, adamEpsilon: 1e-8 }],
  },
];
