import { type ScheduleFactory, sharedRegistry } from './registry.js';
import type { Schedule } from './types.js';

/**
 * A scheduled hyperparameter as `getConfig` records it: the schedule's name, its value at the step
 * the config was taken, and, for a schedule that carries them (`scheduleName`, `scheduleConfig`:
 * every schedule of `@optimkit/schedules`), its config, the package that registered it and, if it
 * is stateful, its state, from which `fromConfig` rebuilds the schedule itself.
 */
export interface ScheduleRecord {
  schedule: string;
  step: number;
  value: number;
  config?: unknown;
  package?: string;
  state?: unknown;
}

/**
 * Registers how the schedules named `name` are rebuilt from their config (and saved state), so
 * that `fromConfig`, `loadOptimizer` and `tf.loadLayersModel` restore them. The registry is shared
 * by every copy of core; `@optimkit/schedules` registers its schedules into it on import, without
 * depending on core, through the same `globalThis` key.
 */
export function registerSchedule(name: string, factory: ScheduleFactory): void {
  if (typeof name !== 'string' || name === '')
    throw new TypeError('registerSchedule: the name must be a string');
  if (typeof factory?.fromConfig !== 'function' || typeof factory.packageName !== 'string') {
    throw new TypeError(`registerSchedule: the factory of '${name}' needs fromConfig and packageName`);
  }
  sharedRegistry().schedules.set(name, factory);
}

/** The factory registered for the schedules named `name`, if any. */
export function getRegisteredSchedule(name: string): ScheduleFactory | undefined {
  return sharedRegistry().schedules.get(name);
}

interface Described extends Schedule {
  scheduleName?: unknown;
  scheduleConfig?: unknown;
  stateful?: { saveState?: unknown };
}

/** The record of a schedule at `step`, for `getConfig`. */
export function describeSchedule(schedule: Schedule, step: number): ScheduleRecord {
  const s = schedule as Described;
  const named = typeof s.scheduleName === 'string' && s.scheduleConfig !== undefined;
  const record: ScheduleRecord = {
    schedule: named ? (s.scheduleName as string) : schedule.name || 'custom',
    step,
    value: schedule(step),
  };
  if (!named) return record;
  record.config = JSON.parse(JSON.stringify(s.scheduleConfig)) as unknown;
  const factory = getRegisteredSchedule(record.schedule);
  if (factory) record.package = factory.packageName;
  if (typeof s.stateful?.saveState === 'function') {
    record.state = (s.stateful as { saveState(): unknown }).saveState();
  }
  return record;
}

/**
 * The schedule a record stands for, rebuilt through its registered factory; `undefined` when it
 * cannot be (a hand-written function, or its package is not imported), with `why` saying what to do.
 */
export function restoreSchedule(record: ScheduleRecord): { schedule?: Schedule; why: string } {
  if (record.config === undefined) return { why: 'pass the schedule again to keep it' };
  const factory = getRegisteredSchedule(record.schedule);
  if (!factory) {
    const source = record.package ? `import '${record.package}'` : 'register it';
    return { why: `${source} to restore it, or pass the schedule again` };
  }
  try {
    return { schedule: factory.fromConfig(record.config, record.state) as Schedule, why: '' };
  } catch (error) {
    return { why: `it could not be rebuilt: ${(error as Error).message}` };
  }
}
