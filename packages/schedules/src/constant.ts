import { defineSchedule, type NamedSchedule } from './schedule.js';
import { finite, readOptions } from './validate.js';

/** Options of {@link constant}. */
export interface ConstantOptions {
  /** The value at every step (any finite number). */
  value: number;
}

/**
 * A schedule that returns the same value at every step: `value(t) = value`.
 *
 * Mostly useful as a piece of {@link join} (e.g. a constant phase after a warmup) or to give a
 * constant a name in a serialized config. Any finite value is accepted, negative ones included
 * (some hyperparameters, e.g. Adafactor's `decayRate`, are negative).
 *
 * Equivalent: Optax `constant_schedule(value)`; PyTorch: no scheduler.
 *
 * @param options.value The value (required).
 * @example
 * ```ts
 * const lr = join([linear({ initValue: 0, endValue: 1e-3, transitionSteps: 100 }), constant({ value: 1e-3 })], [100]);
 * ```
 */
export function constant(options: ConstantOptions): NamedSchedule<ConstantOptions> {
  const o = readOptions('constant', options, ['value']);
  const value = finite('constant', 'value', o.value);
  return defineSchedule('constant', { value }, () => value);
}
