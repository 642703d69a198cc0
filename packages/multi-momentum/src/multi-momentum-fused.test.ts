import { describeFusedEquivalence } from '@optimkit/testing';
import { adanCases, ademamixCases } from './fused-cases.js';
import { type AdanOptions, type AdEMAMixOptions, adan, ademamix } from './index.js';

// The golden tests' option sets, plus schedules and param groups.
describeFusedEquivalence<AdanOptions>({
  name: 'adan',
  create: adan,
  optionSets: adanCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdEMAMixOptions>({
  name: 'ademamix',
  create: ademamix,
  optionSets: ademamixCases,
  bitIdentical: ['cpu', 'wasm'],
});
