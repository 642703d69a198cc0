import { defineSchedule, type NamedSchedule } from './schedule.js';
import {
  boolean,
  check,
  nonNegative,
  nonNegativeInteger,
  positive,
  positiveInteger,
  readOptions,
} from './validate.js';

/** Options of {@link exponential}. */
export interface ExponentialOptions {
  /** Value up to and including step `transitionBegin` (≥ 0). */
  initValue: number;
  /** Steps over which the value is multiplied by `decayRate` once (integer > 0). */
  transitionSteps: number;
  /** Factor per `transitionSteps` steps (> 0; < 1 decays, > 1 grows). */
  decayRate: number;
  /** Steps to hold `initValue` before the decay starts (integer ≥ 0), default `0`. */
  transitionBegin?: number;
  /** Decay in whole periods of `transitionSteps` (a staircase), default `false`. */
  staircase?: boolean;
  /** Bound where the decay stops: a floor if `decayRate < 1`, a ceiling otherwise; default none. */
  endValue?: number;
}

/** The options of an {@link exponential} schedule as stored in its `scheduleConfig`. */
export type ExponentialConfig = Required<Omit<ExponentialOptions, 'endValue'>> & { endValue?: number };

/**
 * Exponential decay (or growth) after an optional hold, optionally in a staircase, optionally
 * bounded:
 * ```
 * d = t − transitionBegin
 * value(t) = initValue                                     if d ≤ 0
 *          = initValue · decayRate^(d / transitionSteps)   otherwise (⌊d / transitionSteps⌋ if staircase)
 * then, if endValue is given: max(value, endValue) if decayRate < 1, else min(value, endValue)
 * ```
 * Past any end: without `endValue` it keeps decaying toward 0 (growing without bound if
 * `decayRate > 1`); with it, it stays at `endValue`.
 *
 * Equivalent: Optax `exponential_decay(init_value, transition_steps, decay_rate, transition_begin,
 * staircase, end_value)` (which silently returns a constant for `transition_steps ≤ 0` or
 * `decay_rate = 0`; here they throw); PyTorch `ExponentialLR(gamma)` on a base lr `b` is
 * `exponential({ initValue: b, decayRate: gamma, transitionSteps: 1 })`.
 *
 * @param options.initValue Start value, ≥ 0 (required).
 * @param options.transitionSteps Steps per factor of `decayRate`, integer > 0 (required).
 * @param options.decayRate Factor per `transitionSteps` steps, > 0 (required).
 * @param options.transitionBegin Steps before the decay starts, integer ≥ 0, default `0`.
 * @param options.staircase Decay in whole periods, default `false`.
 * @param options.endValue Floor (decay) or ceiling (growth), ≥ 0, on the right side of
 *   `initValue`; default none.
 * @example
 * ```ts
 * sgd({ learningRate: exponential({ initValue: 0.1, transitionSteps: 1000, decayRate: 0.5, endValue: 1e-4 }) });
 * ```
 */
export function exponential(options: ExponentialOptions): NamedSchedule<ExponentialConfig> {
  const fn = 'exponential';
  const o = readOptions(fn, options, [
    'initValue',
    'transitionSteps',
    'decayRate',
    'transitionBegin',
    'staircase',
    'endValue',
  ]);
  const initValue = nonNegative(fn, 'initValue', o.initValue);
  const transitionSteps = positiveInteger(fn, 'transitionSteps', o.transitionSteps);
  const decayRate = positive(fn, 'decayRate', o.decayRate);
  const transitionBegin = nonNegativeInteger(fn, 'transitionBegin', o.transitionBegin, 0);
  const staircase = boolean(fn, 'staircase', o.staircase, false);
  const config: ExponentialConfig = { initValue, transitionSteps, decayRate, transitionBegin, staircase };
  let endValue: number | undefined;
  if (o.endValue !== undefined) {
    endValue = nonNegative(fn, 'endValue', o.endValue);
    if (decayRate < 1) {
      check(
        fn,
        'endValue',
        endValue,
        endValue <= initValue,
        `must be ≤ initValue (${initValue}) when decaying`,
      );
    } else {
      check(
        fn,
        'endValue',
        endValue,
        endValue >= initValue,
        `must be ≥ initValue (${initValue}) when growing`,
      );
    }
    config.endValue = endValue;
  }
  return defineSchedule(fn, config, (t) => {
    const d = t - transitionBegin;
    let value = initValue;
    if (d > 0) {
      const p = d / transitionSteps;
      value = initValue * decayRate ** (staircase ? Math.floor(p) : p);
    }
    if (endValue === undefined) return value;
    return decayRate < 1 ? Math.max(value, endValue) : Math.min(value, endValue);
  });
}
