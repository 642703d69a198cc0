import {
  checkNonNegative,
  checkUnitInterval,
  type Defaults,
  type HyperparameterOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { type AveragingClass, type AveragingOptimizer, defineAveraging, wrapOptions } from './wrapper.js';

const defaults = {
  /**
   * The decay of the average, in [0, 1): `avg ← decay·avg + (1 − decay)·θ` after each update.
   *
   * @defaultValue `0.9999`
   */
  decay: 0.9999,
  /**
   * timm's decay warmup: at a variable's t-th update the decay is
   * `max(minDecay, min(decay, 1 − (1 + (t−1)/warmupGamma)^−warmupPower))`, and 0 on the first
   * (the average starts as the weights after it).
   *
   * @defaultValue `false`
   */
  warmup: false,
  /**
   * γ of the warmup, > 0.
   *
   * @defaultValue `1`
   */
  warmupGamma: 1,
  /**
   * The power of the warmup, > 0 (2/3 for runs of a million steps, 3/4 for shorter ones).
   *
   * @defaultValue `2 / 3`
   */
  warmupPower: 2 / 3,
  /**
   * The smallest decay the warmup gives, in [0, decay].
   *
   * @defaultValue `0`
   */
  minDecay: 0,
};

/** Hyperparameters of {@link ema} (besides those of the inner optimizer). */
export type EmaDefaults = typeof defaults;
/** Options of {@link ema}: each a number or a schedule (counts of steps: numbers only). */
export type EmaOptions = HyperparameterOptions<EmaDefaults>;

/** The decay of a variable's `step`-th update (timm `ModelEmaV3.get_decay`, its step being t). */
function decayAt(h: EmaDefaults, step: number): number {
  if (!h.warmup) return h.decay;
  const t = step - 1;
  if (t <= 0) return 0;
  return Math.max(Math.min(1 - (1 + t / h.warmupGamma) ** -h.warmupPower, h.decay), h.minDecay);
}

/**
 * The EMA class (serialization name `OptimkitEma`). Built from options with `inner`, the className
 * of the inner optimizer, and the inner's options; {@link ema} is the usual way.
 */
export const Ema: AveragingClass = /* @__PURE__ */ defineAveraging({
  className: 'OptimkitEma',
  factory: 'ema',
  slot: 'emaWeights',
  defaults,
  constants: [],
  validate(h) {
    checkUnitInterval('decay', h.decay);
    if (!(h.warmupGamma > 0 && Number.isFinite(h.warmupGamma))) {
      throw new RangeError(`Invalid warmupGamma: ${h.warmupGamma}`);
    }
    if (!(h.warmupPower > 0 && Number.isFinite(h.warmupPower))) {
      throw new RangeError(`Invalid warmupPower: ${h.warmupPower}`);
    }
    checkNonNegative('minDecay', h.minDecay);
    if (h.minDecay > h.decay)
      throw new RangeError(`Invalid minDecay: ${h.minDecay} (above decay ${h.decay})`);
  },
  flags: () => ({}),
  scalars: (h, step) => ({ emaWeight: 1 - decayAt(h, step) }),
  combine(ar, { after, copy }, s) {
    return { param: after, copy: ar.add(copy, ar.mul(ar.sub(after, copy), s.emaWeight)) };
  },
});

/**
 * An exponential moving average of the parameters (Polyak averaging with exponential weights), as
 * timm's `ModelEmaV3`: after each update of a variable by the inner optimizer,
 * ```
 * avg ← avg + (1 − d)·(θ − avg)          (= d·avg + (1 − d)·θ; torch's lerp(avg, θ, 1 − d))
 * ```
 * with `d = decay`, or timm's warmup `d_t = max(minDecay, min(decay, 1 − (1 + (t−1)/warmupGamma)^−warmupPower))`
 * (0 on the first update) with `warmup: true`. The average starts as a copy of the variable's value
 * before its first update (timm deep-copies the model when the EMA is made), so with a constant
 * decay the first update gives `d·θ₀ + (1 − d)·θ₁`. It is a slot of the optimizer, saved with its
 * state: {@link AverageSwap.useAverage} puts it into the variables (evaluation, export),
 * {@link AverageSwap.useTraining} swaps back. Fused with the inner optimizer's rule.
 *
 * Optax's `optax.ema` is another thing: a gradient transformation that replaces the *updates* by
 * their (optionally debiased) moving average, which is momentum; the parameter EMA of Optax
 * programs is kept by hand (`optax.incremental_update`, which is this rule with step size 1 − d).
 *
 * The inner optimizer must be fresh (no step taken); it is only read (its class and options).
 *
 * Reference: B. T. Polyak and A. B. Juditsky, "Acceleration of stochastic approximation by
 * averaging", SIAM J. Control Optim. 30(4), 1992; huggingface/pytorch-image-models
 * `timm/utils/model_ema.py` (`ModelEmaV3`).
 *
 * @example
 * ```ts
 * import { sgd } from '@optimkit/sgd';
 * import { ema } from '@optimkit/averaging';
 * const optimizer = ema(sgd({ learningRate: 0.05, momentum: 0.9 }), { decay: 0.999 });
 * // … train …
 * optimizer.useAverage(); // evaluate or save the model with the averaged weights
 * optimizer.useTraining(); // and back, to train on
 * ```
 */
export function ema<D extends Defaults>(
  inner: OptimkitOptimizer<D>,
  options: EmaOptions = {},
): AveragingOptimizer {
  return new Ema(wrapOptions('ema', inner, options as Record<string, unknown>));
}
