import { describeFusedEquivalence } from '@optimkit/testing';
import { scheduleFreeAdamWCases, scheduleFreeSgdCases } from './fused-cases.js';
import {
  type ScheduleFreeAdamWOptions,
  type ScheduleFreeSgdOptions,
  scheduleFreeAdamW,
  scheduleFreeSgd,
} from './index.js';

describeFusedEquivalence<ScheduleFreeAdamWOptions>({
  name: 'scheduleFreeAdamW',
  create: scheduleFreeAdamW,
  optionSets: scheduleFreeAdamWCases,
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence<ScheduleFreeSgdOptions>({
  name: 'scheduleFreeSgd',
  create: scheduleFreeSgd,
  optionSets: scheduleFreeSgdCases,
  bitIdentical: ['cpu', 'wasm'],
});
