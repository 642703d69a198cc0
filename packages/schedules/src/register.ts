import { name as packageName } from '../package.json' with { type: 'json' };
import { rebuild } from './from-config.js';
import { statefulOf } from './schedule.js';

/** What core's schedule registry holds for each schedule name (see `registerSchedule` in core). */
interface ScheduleFactory {
  readonly packageName: string;
  fromConfig(config: unknown, state?: unknown): (step: number) => number;
}

/** Every `scheduleName` this package makes. */
export const SCHEDULE_NAMES = [
  'constant',
  'linear',
  'polynomial',
  'exponential',
  'stepDecay',
  'multiStep',
  'cosineDecay',
  'warmupCosine',
  'cosineWarmRestarts',
  'oneCycle',
  'oneCycleMomentum',
  'cyclic',
  'warmupStableDecay',
  'lambdaSchedule',
  'multiplicative',
  'swaLearningRate',
  'join',
  'reduceOnPlateau',
] as const;

const REGISTRY_KEY = Symbol.for('optimkit.registry');

/**
 * Registers every schedule of this package with the optimizers' schedule registry, so that an
 * optimizer's `getConfig` records them by name and config and `fromConfig`, `loadOptimizer` and
 * `tf.loadLayersModel` rebuild them (stateful ones with their saved state). The registry lives on
 * `globalThis` under the key `@optimkit/core` uses, so this package needs no dependency on core
 * (or on tfjs); core creates the same fields if it comes second.
 */
export function registerSchedules(): void {
  const holder = globalThis as { [REGISTRY_KEY]?: { schedules?: Map<string, ScheduleFactory> } };
  let registry = holder[REGISTRY_KEY];
  if (registry === undefined) {
    registry = {};
    Object.defineProperty(globalThis, REGISTRY_KEY, { value: registry, configurable: false });
  }
  registry.schedules ??= new Map();
  for (const name of SCHEDULE_NAMES) {
    registry.schedules.set(name, {
      packageName,
      fromConfig(config: unknown, state?: unknown) {
        const schedule = rebuild({ scheduleName: name, scheduleConfig: config }, true);
        if (state !== undefined) {
          const stateful = statefulOf(schedule);
          if (!stateful) throw new TypeError(`${name}: a state was saved, but the schedule is not stateful`);
          stateful.loadState(state);
        }
        return schedule;
      },
    });
  }
}
