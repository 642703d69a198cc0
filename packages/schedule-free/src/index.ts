export type { ScheduleFreeOptimizer, TrainEval } from './averaging.js';
export {
  ScheduleFreeAdamW,
  type ScheduleFreeAdamWDefaults,
  type ScheduleFreeAdamWOptions,
  scheduleFreeAdamW,
} from './schedule-free-adamw.js';
export {
  ScheduleFreeSgd,
  type ScheduleFreeSgdDefaults,
  type ScheduleFreeSgdOptions,
  scheduleFreeSgd,
} from './schedule-free-sgd.js';
