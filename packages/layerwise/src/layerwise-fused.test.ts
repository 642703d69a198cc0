import { describeFusedEquivalence } from '@optimkit/testing';
import { lambCases, larsCases } from './fused-cases.js';
import { type LAMBOptions, type LARSOptions, lamb, lars } from './index.js';

// The golden tests' option sets, plus a momentum schedule that reaches 0 (the buffer is kept).
describeFusedEquivalence<LARSOptions>({
  name: 'lars',
  create: lars,
  optionSets: larsCases,
  bitIdentical: ['cpu'],
});

describeFusedEquivalence<LAMBOptions>({
  name: 'lamb',
  create: lamb,
  optionSets: lambCases,
  bitIdentical: ['cpu'],
});
