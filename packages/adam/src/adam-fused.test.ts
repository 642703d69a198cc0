import { describeFusedEquivalence } from '@optimkit/testing';
import {
  adabeliefCases,
  adamaxCases,
  adamCases,
  adamwCases,
  adoptCases,
  nadamCases,
  radamCases,
  yogiCases,
} from './fused-cases.js';
import {
  type AdaBeliefOptions,
  type AdamaxOptions,
  type AdamOptions,
  type AdamWOptions,
  type AdoptOptions,
  adabelief,
  adam,
  adamax,
  adamw,
  adopt,
  type NAdamOptions,
  nadam,
  type RAdamOptions,
  radam,
  type YogiOptions,
  yogi,
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

describeFusedEquivalence<AdaBeliefOptions>({
  name: 'adabelief',
  create: adabelief,
  optionSets: adabeliefCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<YogiOptions>({
  name: 'yogi',
  create: yogi,
  optionSets: yogiCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdoptOptions>({
  name: 'adopt',
  create: adopt,
  optionSets: adoptCases,
  bitIdentical: ['cpu', 'wasm'],
});
