import { defineSchedule, type NamedSchedule } from './schedule.js';
import { callFactor, type FactorOptions, lookUpFactor, readFactorOptions } from './schedule-factor.js';
import { finite, readOptions } from './validate.js';

/** Options of {@link lambdaSchedule}. */
export interface LambdaScheduleOptions {
  /** The base value the factor multiplies (finite; PyTorch's base lr). */
  initValue: number;
  /** Name of a factor function registered with {@link registerScheduleFactor}. */
  factor: string;
  /** JSON options passed to the factor at every step (saved with the schedule), default `{}`. */
  factorOptions?: FactorOptions;
}

/** The options of a {@link lambdaSchedule} as stored in its `scheduleConfig`. */
export type LambdaScheduleConfig = Required<LambdaScheduleOptions>;

/**
 * A base value times a factor function of the step, PyTorch's `LambdaLR`:
 * ```
 * value(t) = initValue · λ(t, factorOptions)
 * ```
 * with `λ` the function registered under the name `factor` by {@link registerScheduleFactor}. The
 * schedule saves the name and `factorOptions`, not the function: register the same function under
 * the same name before restoring a saved optimizer or model, or the restore says which name is
 * missing. The factor is looked up, and called once at step 0, when the schedule is made, so a
 * missing name or a bad result throws then; a non-finite result at a later step throws at that step.
 *
 * Equivalent: PyTorch `LambdaLR(optimizer, lr_lambda)` on a base lr `initValue`, whose
 * `last_epoch` is the step here (λ is called with 0 on the first update).
 *
 * @param options.initValue Base value, finite (required).
 * @param options.factor Registered factor name (required).
 * @param options.factorOptions JSON options for the factor, default `{}`.
 * @example
 * ```ts
 * registerScheduleFactor('inverseSqrt', (step, o) => Math.min((step + 1) / Number(o.warmup), Math.sqrt(Number(o.warmup) / (step + 1))));
 * adamw({ learningRate: lambdaSchedule({ initValue: 1e-3, factor: 'inverseSqrt', factorOptions: { warmup: 4000 } }) });
 * ```
 */
export function lambdaSchedule(options: LambdaScheduleOptions): NamedSchedule<LambdaScheduleConfig> {
  const fn = 'lambdaSchedule';
  const o = readOptions(fn, options, ['initValue', 'factor', 'factorOptions']);
  const initValue = finite(fn, 'initValue', o.initValue);
  const factor = lookUpFactor(fn, o.factor);
  const config: LambdaScheduleConfig = {
    initValue,
    factor: o.factor as string,
    factorOptions: readFactorOptions(fn, o.factorOptions),
  };
  const lambda = (t: number) => callFactor(fn, config.factor, factor, t, config.factorOptions);
  lambda(0);
  return defineSchedule(fn, config, (t) => initValue * lambda(t));
}
