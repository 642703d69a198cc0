import type * as tf from '@tensorflow/tfjs-core';
import { describeSchedule, restoreSchedule, type ScheduleRecord } from './schedule-registry.js';
import type { Defaults, ParamGroup, Resolved, Schedule } from './types.js';
import { checkLearningRate } from './validation.js';

/** Keys that are never accepted in an options or config object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A param group after checking: how it selects variables and what it overrides. */
export interface NormalizedGroup {
  names: ReadonlySet<string>;
  match: ((variable: tf.Variable) => boolean) | null;
  overrides: Readonly<Record<string, unknown>>;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Throws unless `value` is a plain object without prototype-polluting keys. */
export function checkPlainObject(value: unknown, what: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new TypeError(`${what} must be a plain object`);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) throw new TypeError(`${what} must not carry the key '${key}'`);
  }
  return value;
}

/**
 * Checks the hyperparameter entries of an options object or param group against the defaults:
 * unknown names, wrong types. Returns them without undefined entries.
 */
export function checkHyperparameters(
  className: string,
  defaults: Defaults,
  given: Record<string, unknown>,
  where: string,
  extraKeys: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (extraKeys.includes(key)) continue;
    if (!Object.hasOwn(defaults, key)) {
      const valid = [...Object.keys(defaults), ...extraKeys].join(', ');
      throw new TypeError(`Unknown option '${key}' in ${where} of ${className}; valid options: ${valid}`);
    }
    if (value === undefined) continue;
    const def = defaults[key];
    if (typeof def === 'boolean') {
      if (typeof value !== 'boolean')
        throw new TypeError(`Option '${key}' of ${className} must be a boolean`);
    } else if (typeof def === 'string') {
      if (typeof value !== 'string') throw new TypeError(`Option '${key}' of ${className} must be a string`);
    } else if (
      !(typeof value === 'number' || typeof value === 'function' || (value === null && def === null))
    ) {
      throw new TypeError(`Option '${key}' of ${className} must be a number or a schedule function`);
    }
    out[key] = value;
  }
  return out;
}

export function normalizeGroup(
  className: string,
  defaults: Defaults,
  group: ParamGroup,
  index: number,
): NormalizedGroup {
  const where = `paramGroups[${index}]`;
  const { params, match, ...rest } = checkPlainObject(group, `${where} of ${className}`) as ParamGroup;
  if ((params === undefined) === (match === undefined)) {
    throw new TypeError(`${where} of ${className} needs exactly one of 'params' or 'match'`);
  }
  if (match !== undefined && typeof match !== 'function') {
    throw new TypeError(`${where}.match of ${className} must be a function`);
  }
  const names = new Set<string>();
  if (params !== undefined) {
    if (!Array.isArray(params)) throw new TypeError(`${where}.params of ${className} must be an array`);
    for (const p of params as unknown[]) {
      if (typeof p === 'string') names.add(p);
      else if (p && typeof p === 'object' && typeof (p as tf.Variable).name === 'string') {
        names.add((p as tf.Variable).name);
      } else throw new TypeError(`${where}.params of ${className} must hold variables or variable names`);
    }
  }
  return {
    names,
    match: match ?? null,
    overrides: checkHyperparameters(className, defaults, rest, where, []),
  };
}

function isScheduleConfig(value: unknown): value is ScheduleRecord {
  return isPlainObject(value) && typeof value.schedule === 'string' && typeof value.value === 'number';
}

/** The JSON form of a hyperparameter value for `getConfig`. */
export function serializeHyperparameter(value: unknown, step: number): unknown {
  if (typeof value !== 'function') return value ?? null;
  return describeSchedule(value as Schedule, step);
}

/**
 * Turns a config written by `getConfig` back into options. A schedule recorded with its name and
 * config (those of `@optimkit/schedules`) is rebuilt through the schedule registry, with its state
 * if it is stateful. Any other schedule (a hand-written function, or one whose package is not
 * imported) becomes the constant it had when the config was taken, unless `overrides` supplies it
 * again, and a warning says so.
 */
export function configToOptions(
  className: string,
  config: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const { customObjects: _ignored, ...rest } = checkPlainObject(config, `config of ${className}`);
  const restore = (source: Record<string, unknown>, where: string) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      if (isScheduleConfig(value)) {
        if (where === '' && Object.hasOwn(overrides, key)) continue;
        const restored = restoreSchedule(value);
        if (restored.schedule) {
          out[key] = restored.schedule;
          continue;
        }
        console.warn(
          `optimkit: ${where}${key} of ${className} was the schedule '${value.schedule}' when saved; ` +
            `it is restored as the constant ${value.value} (${restored.why})`,
        );
        out[key] = value.value;
      } else out[key] = value;
    }
    return out;
  };
  const options = restore(rest, '');
  if (Array.isArray(options.paramGroups)) {
    options.paramGroups = options.paramGroups.map((g: unknown, i) =>
      restore(checkPlainObject(g, `paramGroups[${i}] of ${className}`), `paramGroups[${i}].`),
    );
  }
  return { ...options, ...overrides };
}

const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * Evaluates every hyperparameter of `raw` at `step` and validates the result: the definition's
 * `validate`, no NaN, every number within float32's range, every epsilon 0 or a normal float32.
 */
export function resolveHyperparameters<D extends Defaults>(
  className: string,
  defaults: D,
  raw: Readonly<Record<string, unknown>>,
  step: number,
  validate: ((h: Resolved<D>) => void) | undefined,
  epsilons: readonly string[] = [],
): Resolved<D> {
  const h: Record<string, unknown> = {};
  let scheduled = false;
  for (const key of Object.keys(defaults)) {
    const value = raw[key];
    if (typeof value === 'function') {
      scheduled = true;
      const v = (value as (s: number) => number)(step);
      if (typeof v !== 'number') {
        throw new TypeError(`The schedule of ${key} of ${className} returned ${String(v)} at step ${step}`);
      }
      h[key] = v;
    } else h[key] = value;
  }
  try {
    if (typeof h.learningRate === 'number') checkLearningRate(h.learningRate);
    for (const [key, value] of Object.entries(h)) {
      if (typeof value !== 'number') continue;
      if (Number.isNaN(value)) throw new RangeError(`Invalid ${key}: NaN`);
      // The kernels compute in float32: a finite value beyond its range would become ±Infinity.
      if (Number.isFinite(value) && !Number.isFinite(Math.fround(value))) {
        throw new RangeError(`Invalid ${key}: ${value} (beyond float32's range, ±${FLOAT32_MAX})`);
      }
    }
    for (const key of epsilons) {
      const value = h[key];
      // An epsilon keeps a division finite: one that is 0 (or subnormal, which GPUs flush to 0)
      // in float32 would not, though it looks positive here.
      if (typeof value === 'number' && value !== 0 && Math.abs(value) < FLOAT32_MIN_NORMAL) {
        throw new RangeError(
          `Invalid ${key}: ${value} (below float32's smallest normal number, ${FLOAT32_MIN_NORMAL}, it would vanish)`,
        );
      }
    }
    validate?.(h as Resolved<D>);
  } catch (error) {
    if (scheduled && error instanceof RangeError) {
      throw new RangeError(`${error.message} (scheduled hyperparameters of ${className} at step ${step})`);
    }
    throw error;
  }
  return h as Resolved<D>;
}

export function hasSchedule(raw: Readonly<Record<string, unknown>>): boolean {
  return Object.values(raw).some((v) => typeof v === 'function');
}
