import { defineSchedule, type NamedSchedule } from './schedule.js';
import { callFactor, type FactorOptions, lookUpFactor, readFactorOptions } from './schedule-factor.js';
import { check, finite, positiveInteger, readOptions } from './validate.js';

/** Options of {@link multiplicative}. */
export interface MultiplicativeOptions {
  /** Value at step 0 (finite; PyTorch's base lr). */
  initValue: number;
  /** Name of a factor function registered with {@link registerScheduleFactor}. */
  factor: string;
  /** JSON options passed to the factor (saved with the schedule), default `{}`. */
  factorOptions?: FactorOptions;
  /**
   * Last step at which the factor is called (integer in [1, 1e6]); later steps reuse its value
   * there. `1` for a constant factor.
   */
  factorSteps: number;
}

/** The options of a {@link multiplicative} schedule as stored in its `scheduleConfig`. */
export type MultiplicativeConfig = Required<MultiplicativeOptions>;

/** The largest `factorSteps`: a schedule evaluated cold at any step costs at most this many calls. */
export const MAX_FACTOR_STEPS = 1_000_000;

/**
 * Each value is the previous one times a factor function of the step, PyTorch's
 * `MultiplicativeLR`, in closed form with a horizon `H = factorSteps`:
 * ```
 * value(0) = initValue
 * value(t) = value(t − 1) · λ(t, factorOptions)          for 1 ≤ t ≤ H
 * value(t) = value(H) · λ(H, factorOptions)^(t − H)     for t > H  (the factor held at λ(H))
 * ```
 * with `λ` the function registered under the name `factor` by {@link registerScheduleFactor};
 * fractional steps use `⌊t⌋`. A schedule is a function of the step, called at any step (after a
 * restore, at step 1e9 just as at step 1), so the product is bounded by the horizon: any step costs
 * at most `H ≤ 1e6` calls of `λ` and constant memory (only the last value computed is kept, so
 * stepping forward costs one call per step). Beyond `H` the result is exact for a factor that is
 * constant from `H` on, which is what `H` declares: `factorSteps: 1` for a constant factor (an
 * exponential decay), the step after the last change otherwise. For a factor that never settles,
 * write the product in closed form as a {@link lambdaSchedule} factor.
 *
 * The schedule saves the factor's name and `factorOptions`, not the function: register the same
 * function under the same name before restoring. The factor is looked up, and called at step 1,
 * when the schedule is made; a non-finite result throws at the step that produces it.
 *
 * Equivalent: PyTorch `MultiplicativeLR(optimizer, lr_lambda)` on a base lr `initValue` (λ is
 * first called with 1, at the second update), exactly for the steps up to `H`, and beyond when λ
 * is constant from `H` on.
 *
 * @param options.initValue Value at step 0, finite (required).
 * @param options.factor Registered factor name (required).
 * @param options.factorOptions JSON options for the factor, default `{}`.
 * @param options.factorSteps Horizon `H`, integer in [1, 1e6] (required).
 * @example
 * ```ts
 * registerScheduleFactor('decayBy', (_step, o) => Number(o.rate));
 * sgd({ learningRate: multiplicative({ initValue: 0.1, factor: 'decayBy', factorOptions: { rate: 0.95 }, factorSteps: 1 }) });
 * ```
 */
export function multiplicative(options: MultiplicativeOptions): NamedSchedule<MultiplicativeConfig> {
  const fn = 'multiplicative';
  const o = readOptions(fn, options, ['initValue', 'factor', 'factorOptions', 'factorSteps']);
  const initValue = finite(fn, 'initValue', o.initValue);
  const factor = lookUpFactor(fn, o.factor);
  const horizon = positiveInteger(fn, 'factorSteps', o.factorSteps);
  check(
    fn,
    'factorSteps',
    horizon,
    horizon <= MAX_FACTOR_STEPS,
    `must be ≤ ${MAX_FACTOR_STEPS}, the most factor calls one step may cost; for a factor that changes later, give lambdaSchedule the product in closed form`,
  );
  const config: MultiplicativeConfig = {
    initValue,
    factor: o.factor as string,
    factorOptions: readFactorOptions(fn, o.factorOptions),
    factorSteps: horizon,
  };
  const lambda = (t: number) => callFactor(fn, config.factor, factor, t, config.factorOptions);
  lambda(1);
  // The last value computed, so that a training loop's increasing steps cost one call each. The
  // product is always taken in the order 1, 2, …, so a cold call gives the same bits.
  let lastStep = 0;
  let lastValue = initValue;
  const upTo = (s: number): number => {
    if (s < lastStep) {
      lastStep = 0;
      lastValue = initValue;
    }
    let value = lastValue;
    for (let k = lastStep + 1; k <= s; k++) value *= lambda(k);
    lastStep = s;
    lastValue = value;
    return value;
  };
  return defineSchedule(fn, config, (t) => {
    const s = Math.floor(t);
    if (s <= horizon) return upTo(s);
    return upTo(horizon) * lambda(horizon) ** (s - horizon);
  });
}
