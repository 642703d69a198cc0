import '@optimkit/adam';
import '@optimkit/sgd';
import { describeFusedEquivalence } from '@optimkit/testing';
import { emaCases, lookaheadCases, swaCases } from './fused-cases.js';
import { Ema, Lookahead, Swa } from './index.js';

// The inner rule and the averaging run as one fused kernel: it must equal the composite tfjs ops
// (bit for bit on cpu and wasm, as neither the wrapped rules nor the averagings reduce).
describeFusedEquivalence<Record<string, unknown>>({
  name: 'lookahead',
  create: (options) => new Lookahead(options),
  optionSets: lookaheadCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<Record<string, unknown>>({
  name: 'ema',
  create: (options) => new Ema(options),
  optionSets: emaCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<Record<string, unknown>>({
  name: 'swa',
  create: (options) => new Swa(options),
  optionSets: swaCases,
  bitIdentical: ['cpu', 'wasm'],
});
