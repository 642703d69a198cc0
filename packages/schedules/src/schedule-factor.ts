import type { JSONValue } from './schedule.js';

/** The JSON options a factor function receives, saved in the schedule's config. */
export type FactorOptions = Readonly<Record<string, JSONValue>>;

/**
 * A factor function for {@link lambdaSchedule} and {@link multiplicative}: the multiplier at a step,
 * given the schedule's `factorOptions`. It must be a pure function of its arguments (it is called
 * again, on any step, after a restore) and return a finite number.
 */
export type ScheduleFactor = (step: number, options: FactorOptions) => number;

const FACTORS_KEY = Symbol.for('optimkit.scheduleFactors');

/** One map for every copy of this package in the process (ESM and CommonJS builds alike). */
function factors(): Map<string, ScheduleFactor> {
  const holder = globalThis as { [FACTORS_KEY]?: Map<string, ScheduleFactor> };
  let map = holder[FACTORS_KEY];
  if (map === undefined) {
    map = new Map();
    Object.defineProperty(globalThis, FACTORS_KEY, { value: map, configurable: false });
  }
  return map;
}

/**
 * Registers a factor function under a name, for the schedules that take a function in PyTorch
 * ({@link lambdaSchedule} for `LambdaLR`, {@link multiplicative} for `MultiplicativeLR`). A function
 * cannot be saved, so those schedules save the name (and the factor's JSON options) instead; to
 * restore a saved optimizer or model (`fromConfig`, `loadOptimizer`, `tf.loadLayersModel`), register
 * the same function under the same name first, typically in the module that defines it. Registering
 * a different function under a name already taken throws (the same function again is accepted);
 * the registry is shared by every copy of this package in the process.
 *
 * @param name The name saved in the schedule's config, a non-empty string.
 * @param factor `(step, factorOptions) => multiplier`, pure and finite.
 * @example
 * ```ts
 * registerScheduleFactor('inverseSqrt', (step, { warmup }) => Math.min((step + 1) / Number(warmup), Math.sqrt(Number(warmup) / (step + 1))));
 * adamw({ learningRate: lambdaSchedule({ initValue: 1e-3, factor: 'inverseSqrt', factorOptions: { warmup: 4000 } }) });
 * ```
 */
export function registerScheduleFactor(name: string, factor: ScheduleFactor): void {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`registerScheduleFactor: the name must be a non-empty string, got ${String(name)}`);
  }
  if (typeof factor !== 'function') {
    throw new TypeError(
      `registerScheduleFactor: the factor '${name}' must be a function, got ${typeof factor}`,
    );
  }
  const map = factors();
  const existing = map.get(name);
  if (existing !== undefined && existing !== factor) {
    throw new TypeError(`registerScheduleFactor: a different factor is already registered as '${name}'`);
  }
  map.set(name, factor);
}

/** The factor named `name`, or a clear error saying how to register it. */
export function lookUpFactor(fn: string, name: unknown): ScheduleFactor {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(
      `${fn}: factor must be the name of a factor registered with registerScheduleFactor, got ${typeof name === 'function' ? 'a function (register it under a name and pass the name)' : String(name)}`,
    );
  }
  const factor = factors().get(name);
  if (factor === undefined) {
    throw new TypeError(
      `${fn}: no factor is registered as '${name}'; call registerScheduleFactor('${name}', fn) before making or restoring this schedule`,
    );
  }
  return factor;
}

/** The factor options, copied through JSON (so they can be saved), default `{}`. */
export function readFactorOptions(fn: string, value: unknown): FactorOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${fn}: factorOptions must be a plain object of JSON values`);
  }
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(value));
  } catch (error) {
    throw new TypeError(`${fn}: factorOptions must be JSON: ${(error as Error).message}`);
  }
  return copy as FactorOptions;
}

/** Calls the factor, refusing a result that is not a finite number. */
export function callFactor(
  fn: string,
  name: string,
  factor: ScheduleFactor,
  step: number,
  options: FactorOptions,
): number {
  const value = factor(step, options);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(
      `${fn}: the factor '${name}' returned ${String(value)} at step ${step} (must be a finite number)`,
    );
  }
  return value;
}
