import { describeFusedEquivalence } from '@optimkit/testing';
import { lambCases, larsCases, novogradCases } from './fused-cases.js';
import { type LAMBOptions, type LARSOptions, lamb, lars, type NovoGradOptions, novograd } from './index.js';

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

describeFusedEquivalence<NovoGradOptions>({
  name: 'novograd',
  create: novograd,
  optionSets: novogradCases,
  bitIdentical: ['cpu'],
});
