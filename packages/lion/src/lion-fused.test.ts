import { describeFusedEquivalence } from '@optimkit/testing';
import { lionCases } from './fused-cases.js';
import { type LionOptions, lion } from './index.js';

// The golden tests' option sets, plus β₁ = 0 (sign descent, where exact zeros of the gradient
// give a sign of 0).
describeFusedEquivalence<LionOptions>({
  name: 'lion',
  create: lion,
  optionSets: lionCases,
  bitIdentical: ['cpu', 'wasm'],
});
