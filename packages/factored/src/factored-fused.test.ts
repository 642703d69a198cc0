import { describeFusedEquivalence } from '@optimkit/testing';
import { adafactorCases, cameCases, sm3Cases } from './fused-cases.js';
import { type AdafactorOptions, adafactor, type CAMEOptions, came, type SM3Options, sm3 } from './index.js';

// The golden tests' option sets, plus param groups (factored and unfactored variables differ).
describeFusedEquivalence<AdafactorOptions>({
  name: 'adafactor',
  create: adafactor,
  optionSets: adafactorCases,
  bitIdentical: ['cpu'],
});

describeFusedEquivalence<CAMEOptions>({
  name: 'came',
  create: came,
  optionSets: cameCases,
  bitIdentical: ['cpu'],
});

describeFusedEquivalence<SM3Options>({
  name: 'sm3',
  create: sm3,
  optionSets: sm3Cases,
  // tfjs's wasm backend computes rsqrt in float32: bit for bit only on cpu.
  bitIdentical: ['cpu'],
});
