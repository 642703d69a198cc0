import { defineSchedule, type NamedSchedule, pieceConfig, type Schedule, statefulOf } from './schedule.js';
import { nonNegative, nonNegativeInteger, oneOf, readOptions } from './validate.js';

/** Options of {@link swaLearningRate}. */
export interface SwaLearningRateOptions {
  /**
   * The learning rate before SWA: a number, or a schedule (any schedule of this package, or a
   * function, which then cannot be saved) that runs up to `swaStart`. Its value at step `swaStart`
   * is the value in effect, which the anneal starts from.
   */
  before: number | Schedule;
  /** Step at which the anneal starts (integer ≥ 0), default `0`. */
  swaStart?: number;
  /** The constant learning rate of SWA, reached after `annealSteps` (≥ 0). */
  swaLearningRate: number;
  /** Length of the anneal in steps (integer ≥ 0; `0` jumps at `swaStart`), default `10`. */
  annealSteps?: number;
  /** Shape of the anneal: `'cos'` (default) or `'linear'`. */
  anneal?: 'cos' | 'linear';
}

/** The options of a {@link swaLearningRate} schedule as stored in its `scheduleConfig`. */
export interface SwaLearningRateConfig {
  /** The number, or the saved name and config of the schedule before SWA. */
  before: number | { scheduleName: string; scheduleConfig: unknown };
  /** First step of the anneal. */
  swaStart: number;
  /** The constant learning rate of SWA. */
  swaLearningRate: number;
  /** Length of the anneal in steps. */
  annealSteps: number;
  /** Shape of the anneal. */
  anneal: 'cos' | 'linear';
}

/**
 * The learning rate of stochastic weight averaging (Izmailov et al., "Averaging Weights Leads to
 * Wider Optima and Better Generalization", UAI 2018, arXiv 1803.05407), as PyTorch's
 * `swa_utils.SWALR`: the schedule `before` until step `swaStart`, then an anneal from the value in
 * effect to the constant `swaLearningRate` over `annealSteps` steps, then that constant for ever.
 * With `S = swaStart`, `A = annealSteps`, `v₀ = before(S)` (or the number `before`):
 * ```
 * t < S:    value(t) = before(t)
 * t ≥ S:    τ = min(1, (t − S) / A)            (τ = 1 if A = 0)
 *           α = (1 − cos(π τ)) / 2  'cos'   |   α = τ  'linear'
 *           value(t) = swaLearningRate · α + v₀ · (1 − α)
 * ```
 * so `value(S) = v₀` (`swaLearningRate` if `A = 0`) and `value(t) = swaLearningRate` from `S + A` on.
 * Use it as the learning rate of the optimizer whose weights are averaged from step `S` (for
 * instance by the `swa` wrapper of `@optimkit/averaging`); the averaging itself is not part of a
 * schedule. The steps are optimizer steps: PyTorch steps SWALR once per epoch, so there
 * `annealSteps` counts epochs; multiply by the batches per epoch, or pass a per-step `before`.
 *
 * The schedule is serializable when `before` is a number or a schedule of this package (its name
 * and config are saved in `before`); a plain function `before` is saved as `'custom'` and the
 * optimizer then restores the saved value instead, with a warning. A stateful `before`
 * (`reduceOnPlateau`) is refused.
 *
 * Equivalent: PyTorch's loop `for epoch …: train; if epoch > swa_start: swa_scheduler.step() else:
 * scheduler.step()` with `SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy='cos')` is
 * `swaLearningRate({ before: <scheduler>, swaStart: swa_start + 1, swaLearningRate: swa_lr,
 * annealSteps: anneal_epochs })` on a per-epoch step. (With `anneal_epochs=0`, PyTorch's SWALR sets
 * the rate to `swa_lr` as soon as it is created, so there it must be created at the switch.)
 *
 * @param options.before The learning rate before SWA, a number ≥ 0 or a schedule (required).
 * @param options.swaStart First step of the anneal, integer ≥ 0, default `0`.
 * @param options.swaLearningRate The SWA learning rate, ≥ 0 (required).
 * @param options.annealSteps Anneal length, integer ≥ 0, default `10`.
 * @param options.anneal `'cos'` or `'linear'`, default `'cos'`.
 * @example
 * ```ts
 * // cosine decay for 7.5k steps, then SWA: anneal to 0.05 over 500 steps and average from 7.5k on
 * const learningRate = swaLearningRate({
 *   before: cosineDecay({ initValue: 0.1, decaySteps: 10_000 }),
 *   swaStart: 7_500,
 *   swaLearningRate: 0.05,
 *   annealSteps: 500,
 * });
 * sgd({ learningRate, momentum: 0.9 });
 * ```
 */
export function swaLearningRate(options: SwaLearningRateOptions): NamedSchedule<SwaLearningRateConfig> {
  const fn = 'swaLearningRate';
  const o = readOptions(fn, options, ['before', 'swaStart', 'swaLearningRate', 'annealSteps', 'anneal']);
  const swaStart = nonNegativeInteger(fn, 'swaStart', o.swaStart, 0);
  const config: SwaLearningRateConfig = {
    before: 0,
    swaStart,
    swaLearningRate: nonNegative(fn, 'swaLearningRate', o.swaLearningRate),
    annealSteps: nonNegativeInteger(fn, 'annealSteps', o.annealSteps, 10),
    anneal: oneOf(fn, 'anneal', o.anneal, ['cos', 'linear'], 'cos'),
  };
  let before: (step: number) => number;
  if (typeof o.before === 'function') {
    const schedule = o.before as Schedule;
    if (statefulOf(schedule)) {
      throw new TypeError(
        `${fn}: before must not be stateful (${schedule.scheduleName ?? 'a stateful schedule'}); its value at swaStart would change with its state`,
      );
    }
    before = schedule;
    config.before = pieceConfig(schedule);
  } else {
    if (o.before === undefined) throw new TypeError(`${fn}: missing required option 'before'`);
    const value = nonNegative(fn, 'before', o.before);
    before = () => value;
    config.before = value;
  }
  const start = before(swaStart);
  if (typeof start !== 'number' || !Number.isFinite(start)) {
    throw new RangeError(
      `${fn}: before(${swaStart}) is ${String(start)}, not the finite value in effect at swaStart`,
    );
  }
  const { swaLearningRate: target, annealSteps, anneal } = config;
  return defineSchedule(fn, config, (t) => {
    if (t < swaStart) return before(t);
    const tau = annealSteps === 0 ? 1 : Math.min(1, (t - swaStart) / annealSteps);
    const alpha = anneal === 'cos' ? (1 - Math.cos(Math.PI * tau)) / 2 : tau;
    return target * alpha + start * (1 - alpha);
  });
}
