import { defineSchedule, type NamedSchedule } from './schedule.js';
import { nonNegative, positiveInteger, readOptions, stepList } from './validate.js';

/** Options of {@link stepDecay}. */
export interface StepDecayOptions {
  /** Value for steps `0 … stepSize − 1` (≥ 0). */
  initValue: number;
  /** Steps between two multiplications by `gamma` (integer > 0). */
  stepSize: number;
  /** Factor applied every `stepSize` steps (≥ 0), default `0.1`. */
  gamma?: number;
}

/** Options of {@link multiStep}. */
export interface MultiStepOptions {
  /** Value before the first milestone (≥ 0). */
  initValue: number;
  /** Steps at which the value is multiplied by `gamma`: integers ≥ 0 in increasing order. */
  milestones: readonly number[];
  /** Factor applied at each milestone (≥ 0), default `0.1`. */
  gamma?: number;
}

/**
 * Multiplies the value by `gamma` every `stepSize` steps:
 * ```
 * value(t) = initValue · gamma^⌊t / stepSize⌋
 * ```
 * It has no end: it keeps decaying (toward 0 for `gamma < 1`).
 *
 * Equivalent: PyTorch `StepLR(step_size, gamma=0.1)` as absolute values (`initValue` is the
 * optimizer's base lr), with `t` the scheduler's `last_epoch`; Optax `exponential_decay(init,
 * step_size, gamma, staircase=True)`.
 *
 * @param options.initValue Start value, ≥ 0 (required).
 * @param options.stepSize Period of the decay in steps, integer > 0 (required).
 * @param options.gamma Factor per period, ≥ 0, default `0.1`.
 * @example
 * ```ts
 * sgd({ learningRate: stepDecay({ initValue: 0.1, stepSize: 30 * stepsPerEpoch }), momentum: 0.9 });
 * ```
 */
export function stepDecay(options: StepDecayOptions): NamedSchedule<Required<StepDecayOptions>> {
  const fn = 'stepDecay';
  const o = readOptions(fn, options, ['initValue', 'stepSize', 'gamma']);
  const c = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    stepSize: positiveInteger(fn, 'stepSize', o.stepSize),
    gamma: nonNegative(fn, 'gamma', o.gamma, 0.1),
  };
  return defineSchedule(fn, c, (t) => c.initValue * c.gamma ** Math.floor(t / c.stepSize));
}

/**
 * Multiplies the value by `gamma` at each milestone:
 * ```
 * value(t) = initValue · gamma^(number of milestones ≤ t)
 * ```
 * A milestone listed twice multiplies twice, as in PyTorch. After the last milestone the value
 * stays at `initValue · gamma^milestones.length`.
 *
 * Equivalent: PyTorch `MultiStepLR(milestones, gamma=0.1)` as absolute values (`bisect_right`
 * over the sorted milestones); Optax `piecewise_constant_schedule(init, {m: gamma, …})`.
 *
 * @param options.initValue Start value, ≥ 0 (required).
 * @param options.milestones Integer steps ≥ 0, sorted in increasing order (required).
 * @param options.gamma Factor per milestone, ≥ 0, default `0.1`.
 * @example
 * ```ts
 * sgd({ learningRate: multiStep({ initValue: 0.1, milestones: [30_000, 60_000, 80_000] }), momentum: 0.9 });
 * ```
 */
export function multiStep(
  options: MultiStepOptions,
): NamedSchedule<{ initValue: number; milestones: number[]; gamma: number }> {
  const fn = 'multiStep';
  const o = readOptions(fn, options, ['initValue', 'milestones', 'gamma']);
  const c = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    milestones: stepList(fn, 'milestones', o.milestones, false),
    gamma: nonNegative(fn, 'gamma', o.gamma, 0.1),
  };
  const milestones = c.milestones;
  return defineSchedule(fn, c, (t) => {
    // bisect_right: the number of milestones ≤ t.
    let lo = 0;
    let hi = milestones.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (milestones[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return c.initValue * c.gamma ** lo;
  });
}
