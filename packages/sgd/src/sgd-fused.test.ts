import { describeFusedEquivalence } from '@optimkit/testing';
import { asgdCases, sgdCases, signumCases } from './fused-cases.js';
import { type ASGDOptions, asgd, type SGDOptions, type SignumOptions, sgd, signum } from './index.js';

describeFusedEquivalence<SGDOptions>({
  name: 'sgd',
  create: sgd,
  optionSets: sgdCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<ASGDOptions>({
  name: 'asgd',
  create: asgd,
  optionSets: asgdCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<SignumOptions>({
  name: 'signum',
  create: signum,
  optionSets: signumCases,
  bitIdentical: ['cpu', 'wasm'],
});
