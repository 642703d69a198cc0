import { describeFusedEquivalence } from '@optimkit/testing';
import { adamaxCases, adamCases, adamwCases, nadamCases, radamCases } from './fused-cases.js';
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
describeFusedEquivalence<AdamOptions>({
  name: 'adam',
  create: adam,
  optionSets: adamCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdamWOptions>({
  name: 'adamw',
  create: adamw,
  optionSets: adamwCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdamaxOptions>({
  name: 'adamax',
  create: adamax,
  optionSets: adamaxCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<NAdamOptions>({
  name: 'nadam',
  create: nadam,
  optionSets: nadamCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<NAdamOptions>({
  name: 'nadam over 80 steps (past the end of the μ product series)',
  create: nadam,
  optionSets: [nadamCases[3]!],
  steps: 80,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<RAdamOptions>({
  name: 'radam',
  create: radam,
  optionSets: radamCases,
  bitIdentical: ['cpu', 'wasm'],
});
