import { describeFusedEquivalence } from '@optimkit/testing';
import { adafactorCases, cameCases } from './fused-cases.js';
import { type AdafactorOptions, adafactor, type CAMEOptions, came } from './index.js';

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
