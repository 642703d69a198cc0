import { describeFusedEquivalence } from '@optimkit/testing';
import { adadeltaCases, adagradCases, rmspropCases, rpropCases } from './fused-cases.js';
import {
  type AdadeltaOptions,
  type AdagradOptions,
  adadelta,
  adagrad,
  type RMSpropOptions,
  type RpropOptions,
  rmsprop,
  rprop,
} from './index.js';

// The golden tests' option sets (param groups selected by rank instead of by variable), plus sets
// that turn on what those leave off.

describeFusedEquivalence<AdagradOptions>({
  name: 'adagrad',
  create: adagrad,
  optionSets: adagradCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<RMSpropOptions>({
  name: 'rmsprop',
  create: rmsprop,
  optionSets: rmspropCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<AdadeltaOptions>({
  name: 'adadelta',
  create: adadelta,
  optionSets: adadeltaCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<RpropOptions>({
  name: 'rprop',
  create: rprop,
  optionSets: rpropCases,
  bitIdentical: ['cpu', 'wasm'],
});
