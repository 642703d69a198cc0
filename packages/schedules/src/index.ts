import { registerSchedules } from './register.js';

export { type ConstantOptions, constant } from './constant.js';
export { type CosineDecayOptions, cosineDecay } from './cosine-decay.js';
export { type CosineWarmRestartsOptions, cosineWarmRestarts } from './cosine-warm-restarts.js';
export { type CyclicConfig, type CyclicOptions, cyclic } from './cyclic.js';
export { type ExponentialConfig, type ExponentialOptions, exponential } from './exponential.js';
export { scheduleFromConfig } from './from-config.js';
export { type JoinConfig, join } from './join.js';
export { type LambdaScheduleConfig, type LambdaScheduleOptions, lambdaSchedule } from './lambda-schedule.js';
export {
  MAX_FACTOR_STEPS,
  type MultiplicativeConfig,
  type MultiplicativeOptions,
  multiplicative,
} from './multiplicative.js';
export {
  type OneCycleConfig,
  type OneCycleOptions,
  type OneCycleSchedules,
  oneCycle,
  oneCycleLearningRate,
} from './one-cycle.js';
export { type LinearOptions, linear, type PolynomialOptions, polynomial } from './polynomial.js';
export {
  type ReduceOnPlateau,
  type ReduceOnPlateauConfig,
  type ReduceOnPlateauOptions,
  reduceOnPlateau,
} from './reduce-on-plateau.js';
export type { JSONValue, NamedSchedule, Schedule, ScheduleState, StatefulSchedule } from './schedule.js';
export {
  type EpochController,
  type ScheduleCallback,
  type ScheduleCallbackOptions,
  type ScheduleHistoryEntry,
  scheduleCallback,
} from './schedule-callback.js';
export { type FactorOptions, registerScheduleFactor, type ScheduleFactor } from './schedule-factor.js';
export { type MultiStepOptions, multiStep, type StepDecayOptions, stepDecay } from './step-decay.js';
export {
  type SwaLearningRateConfig,
  type SwaLearningRateOptions,
  swaLearningRate,
} from './swa-learning-rate.js';
export { type WarmupCosineOptions, warmupCosine } from './warmup-cosine.js';
export {
  type WarmupStableDecayConfig,
  type WarmupStableDecayOptions,
  warmupStableDecay,
} from './warmup-stable-decay.js';

// Import-time work, declared in the package's `sideEffects` so that bundlers keep it: optimizers
// that were given these schedules can then save and restore them by name and config.
registerSchedules();
