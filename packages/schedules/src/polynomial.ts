import { defineSchedule, type NamedSchedule } from './schedule.js';
import { finite, nonNegativeInteger, positive, positiveInteger, readOptions } from './validate.js';

/** Options of {@link linear}. */
export interface LinearOptions {
  /** Value up to and including step `transitionBegin`. */
  initValue: number;
  /** Value from step `transitionBegin + transitionSteps` on. */
  endValue: number;
  /** Number of steps the transition lasts (integer > 0). */
  transitionSteps: number;
  /** Steps to hold `initValue` before the transition starts (integer ≥ 0), default `0`. */
  transitionBegin?: number;
}

/** Options of {@link polynomial}. */
export interface PolynomialOptions extends LinearOptions {
  /** Power of the polynomial (> 0); `1` is {@link linear}. */
  power: number;
}

function polynomialValue(
  init: number,
  end: number,
  power: number,
  steps: number,
  begin: number,
  step: number,
): number {
  const count = Math.min(Math.max(step - begin, 0), steps);
  return (init - end) * (1 - count / steps) ** power + end;
}

function readPolynomial(fn: string, o: Record<string, unknown>) {
  return {
    initValue: finite(fn, 'initValue', o.initValue),
    endValue: finite(fn, 'endValue', o.endValue),
    transitionSteps: positiveInteger(fn, 'transitionSteps', o.transitionSteps),
    transitionBegin: nonNegativeInteger(fn, 'transitionBegin', o.transitionBegin, 0),
  };
}

/**
 * Polynomial transition from `initValue` to `endValue` over `transitionSteps` steps, starting after
 * `transitionBegin` steps:
 * ```
 * c = clamp(t − transitionBegin, 0, transitionSteps)
 * value(t) = (initValue − endValue) · (1 − c / transitionSteps)^power + endValue
 * ```
 * `initValue` up to step `transitionBegin`, `endValue` from step `transitionBegin + transitionSteps`
 * on (clamped past the end). Any finite values are accepted, so it also schedules hyperparameters
 * that rise or are negative.
 *
 * Equivalent: Optax `polynomial_schedule(init_value, end_value, power, transition_steps,
 * transition_begin)` (where `transition_steps ≤ 0` silently gives a constant; here it throws);
 * PyTorch `PolynomialLR(total_iters=T, power)` is `polynomial({ initValue: lr, endValue: 0, power,
 * transitionSteps: T })`.
 *
 * @param options.initValue Start value (required).
 * @param options.endValue End value (required).
 * @param options.power Power of the polynomial, > 0 (required).
 * @param options.transitionSteps Length of the transition, integer > 0 (required).
 * @param options.transitionBegin Steps before the transition starts, integer ≥ 0, default `0`.
 * @example
 * ```ts
 * sgd({ learningRate: polynomial({ initValue: 0.1, endValue: 0, power: 2, transitionSteps: 10_000 }) });
 * ```
 */
export function polynomial(options: PolynomialOptions): NamedSchedule<Required<PolynomialOptions>> {
  const fn = 'polynomial';
  const o = readOptions(fn, options, [
    'initValue',
    'endValue',
    'power',
    'transitionSteps',
    'transitionBegin',
  ]);
  const c = { ...readPolynomial(fn, o), power: positive(fn, 'power', o.power) };
  return defineSchedule(fn, c, (t) =>
    polynomialValue(c.initValue, c.endValue, c.power, c.transitionSteps, c.transitionBegin, t),
  );
}

/**
 * Linear transition from `initValue` to `endValue` over `transitionSteps` steps, starting after
 * `transitionBegin` steps (typical: a linear warmup):
 * ```
 * c = clamp(t − transitionBegin, 0, transitionSteps)
 * value(t) = (initValue − endValue) · (1 − c / transitionSteps) + endValue
 * ```
 * `initValue` up to step `transitionBegin`, `endValue` from step `transitionBegin + transitionSteps`
 * on (clamped past the end). Any finite values are accepted.
 *
 * Equivalent: Optax `linear_schedule(init_value, end_value, transition_steps, transition_begin)`;
 * PyTorch `LinearLR(start_factor=s, end_factor=e, total_iters=T)` on a base lr `b` is
 * `linear({ initValue: s·b, endValue: e·b, transitionSteps: T })`.
 *
 * @param options.initValue Start value (required).
 * @param options.endValue End value (required).
 * @param options.transitionSteps Length of the transition, integer > 0 (required).
 * @param options.transitionBegin Steps before the transition starts, integer ≥ 0, default `0`.
 * @example
 * ```ts
 * adamw({ learningRate: linear({ initValue: 1e-3, endValue: 0, transitionSteps: 10_000 }) });
 * ```
 */
export function linear(options: LinearOptions): NamedSchedule<Required<LinearOptions>> {
  const fn = 'linear';
  const o = readOptions(fn, options, ['initValue', 'endValue', 'transitionSteps', 'transitionBegin']);
  const c = readPolynomial(fn, o);
  return defineSchedule(fn, c, (t) =>
    polynomialValue(c.initValue, c.endValue, 1, c.transitionSteps, c.transitionBegin, t),
  );
}
