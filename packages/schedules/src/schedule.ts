/** A JSON value, as `JSON.stringify` writes it without loss. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

/**
 * A hyperparameter that changes with training: called with the number of completed optimizer
 * steps (0 on the first update, as in Optax) and returns the value for that update. Schedules made
 * by this package also carry their name and options for serialization.
 */
export type Schedule = ((step: number) => number) & {
  readonly scheduleName?: string;
  readonly scheduleConfig?: unknown;
};

/** A schedule made by this package: its factory's name and its options (defaults filled in). */
export type NamedSchedule<C = unknown> = ((step: number) => number) & {
  /** The factory that made it, e.g. `'warmupCosine'`. */
  readonly scheduleName: string;
  /** Its options as plain JSON, defaults included; `scheduleFromConfig` rebuilds it from them. */
  readonly scheduleConfig: C;
};

/** How a stateful schedule's state is saved and restored with the optimizer's state. */
export interface ScheduleState {
  /** A JSON snapshot of the schedule's state. */
  saveState(): JSONValue;
  /**
   * Restores a snapshot made by `saveState`. Throws a clear error on a malformed or foreign
   * snapshot and then leaves the schedule unchanged.
   */
  loadState(state: unknown): void;
}

/** A schedule whose value depends on more than the step (e.g. `reduceOnPlateau`). */
export type StatefulSchedule<C = unknown> = NamedSchedule<C> & {
  /** Looked for by the optimizer, which saves and restores it with its own state. */
  readonly stateful: ScheduleState;
};

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Throws unless `step` is a finite number ≥ 0; fractional steps are evaluated by the formula. */
export function checkStep(name: string, step: number): void {
  if (typeof step !== 'number') throw new TypeError(`${name}: step must be a number, got ${typeof step}`);
  if (!(step >= 0) || step === Number.POSITIVE_INFINITY) {
    throw new RangeError(`${name}: invalid step: ${step} (must be a finite number ≥ 0)`);
  }
}

/** Wraps `fn` in a checked schedule carrying read-only `scheduleName` and frozen `scheduleConfig`. */
export function defineSchedule<C>(name: string, config: C, fn: (step: number) => number): NamedSchedule<C> {
  const schedule = (step: number): number => {
    checkStep(name, step);
    return fn(step);
  };
  Object.defineProperties(schedule, {
    scheduleName: { value: name, enumerable: true },
    scheduleConfig: { value: deepFreeze(config), enumerable: true },
  });
  return schedule as NamedSchedule<C>;
}

/** Adds a read-only `stateful` property to a named schedule. */
export function makeStateful<C>(schedule: NamedSchedule<C>, state: ScheduleState): StatefulSchedule<C> {
  Object.defineProperty(schedule, 'stateful', { value: Object.freeze(state), enumerable: true });
  return schedule as StatefulSchedule<C>;
}

/** The `stateful` property of a schedule, if it has a valid one. */
export function statefulOf(schedule: Schedule): ScheduleState | undefined {
  const state = (schedule as { stateful?: unknown }).stateful;
  if (typeof state !== 'object' || state === null) return undefined;
  const { saveState, loadState } = state as Partial<ScheduleState>;
  return typeof saveState === 'function' && typeof loadState === 'function'
    ? (state as ScheduleState)
    : undefined;
}

/** A schedule's config as JSON, without freezing a user's object in place. */
function copyConfig(config: unknown): unknown {
  if (config === undefined) return null;
  if (typeof config !== 'object' || config === null || Object.isFrozen(config)) return config;
  try {
    return JSON.parse(JSON.stringify(config)) as unknown;
  } catch {
    return null;
  }
}

/**
 * How a schedule inside another one (a join's piece, what precedes SWA) is saved: its name and
 * config, or `'custom'` and `null` for a plain function, which cannot be rebuilt.
 */
export function pieceConfig(schedule: Schedule): { scheduleName: string; scheduleConfig: unknown } {
  return {
    scheduleName: typeof schedule.scheduleName === 'string' ? schedule.scheduleName : 'custom',
    scheduleConfig: copyConfig(schedule.scheduleConfig),
  };
}
