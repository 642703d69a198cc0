import type { Defaults, HyperparameterOptions, OptimkitOptimizer } from '@optimkit/core';
import { type AveragingClass, type AveragingOptimizer, defineAveraging, wrapOptions } from './wrapper.js';

const defaults = {
  /**
   * The first update of a variable that enters the average, an integer ≥ 1 (a constant): the
   * update from which the learning rate is at its SWA value.
   *
   * @defaultValue `1`
   */
  swaStart: 1,
  /**
   * Updates between two that enter the average, an integer ≥ 1 (a constant): the average takes
   * updates swaStart, swaStart + swaFrequency, …
   *
   * @defaultValue `1`
   */
  swaFrequency: 1,
};

/** Hyperparameters of {@link swa} (besides those of the inner optimizer). */
export type SwaDefaults = typeof defaults;
/** Options of {@link swa}: each a number or a schedule (counts of steps: numbers only). */
export type SwaOptions = HyperparameterOptions<SwaDefaults>;

/** How many updates the average holds after a variable's `step`-th update, and whether it took this one. */
function averaged(h: SwaDefaults, step: number): { count: number; now: boolean } {
  if (step < h.swaStart) return { count: 0, now: false };
  const since = step - h.swaStart;
  return { count: Math.floor(since / h.swaFrequency) + 1, now: since % h.swaFrequency === 0 };
}

/**
 * The SWA class (serialization name `OptimkitSwa`). Built from options with `inner`, the className
 * of the inner optimizer, and the inner's options; {@link swa} is the usual way.
 */
export const Swa: AveragingClass = /* @__PURE__ */ defineAveraging({
  className: 'OptimkitSwa',
  factory: 'swa',
  slot: 'swaWeights',
  defaults,
  constants: ['swaStart', 'swaFrequency'],
  validate(h) {
    for (const key of ['swaStart', 'swaFrequency'] as const) {
      if (!(Number.isInteger(h[key]) && h[key] >= 1))
        throw new RangeError(`Invalid ${key}: ${h[key]} (an integer ≥ 1)`);
    }
  },
  flags: (h, step) => {
    const { count, now } = averaged(h, step);
    return { swaAverage: now, swaCopy: now && count === 1 };
  },
  scalars: (h, step) => ({ swaCount: Math.max(1, averaged(h, step).count) }),
  combine(ar, { after, copy }, s, f) {
    if (f.swaCopy) return { param: after, copy: after };
    if (!f.swaAverage) return { param: after, copy };
    return { param: after, copy: ar.add(copy, ar.div(ar.sub(after, copy), s.swaCount)) };
  },
});

/**
 * Stochastic weight averaging (Izmailov et al.), as torch's `swa_utils.AveragedModel` with its
 * default equal-weight average, updated from inside the optimizer: after a variable's t-th update
 * by the inner optimizer, if t ≥ swaStart and (t − swaStart) is a multiple of swaFrequency, the
 * average takes the weights,
 * ```
 * n ← n + 1;  avg ← θ if n = 1, else avg + (θ − avg)/n
 * ```
 * (torch: `avg + (θ − avg)/(n_averaged + 1)`, the first update a copy). Until then the average holds
 * the variable's value before its first update (torch's `AveragedModel` is a deep copy of the model
 * until its first `update_parameters`). Steps are counted per variable, as in {@link lookahead}.
 * The average is a slot of the optimizer, saved with its state: {@link AverageSwap.useAverage} puts
 * it into the variables (evaluation), {@link AverageSwap.useTraining} swaps back. As in PyTorch,
 * batch-normalisation statistics are not averaged: recompute them with the averaged weights
 * (torch's `update_bn`) before evaluating a model that has them. SWA is meant to run with a
 * constant or cyclical learning rate from swaStart: `swaLearningRate` of `@optimkit/schedules`
 * (torch's `SWALR`), given to the inner optimizer as its `learningRate`.
 *
 * The inner optimizer must be fresh (no step taken); it is only read (its class and options).
 *
 * Paper: Pavel Izmailov, Dmitrii Podoprikhin, Timur Garipov, Dmitry Vetrov, Andrew Gordon Wilson,
 * "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018, arXiv:1803.05407.
 * Code: pytorch/pytorch `torch/optim/swa_utils.py`.
 *
 * @example
 * ```ts
 * import { sgd } from '@optimkit/sgd';
 * import { swa } from '@optimkit/averaging';
 * const optimizer = swa(sgd({ learningRate: 0.05, momentum: 0.9 }), { swaStart: 1000, swaFrequency: 10 });
 * // … train …
 * optimizer.useAverage(); // evaluate with the average
 * ```
 */
export function swa<D extends Defaults>(
  inner: OptimkitOptimizer<D>,
  options: SwaOptions = {},
): AveragingOptimizer {
  return new Swa(wrapOptions('swa', inner, options as Record<string, unknown>));
}
