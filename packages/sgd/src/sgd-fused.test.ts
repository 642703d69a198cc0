import { describeFusedEquivalence } from '@optimkit/testing';
import { sgdCases } from './fused-cases.js';
import { type SGDOptions, sgd } from './index.js';

describeFusedEquivalence<SGDOptions>({
  name: 'sgd',
  create: sgd,
  optionSets: sgdCases,
  bitIdentical: ['cpu', 'wasm'],
});
