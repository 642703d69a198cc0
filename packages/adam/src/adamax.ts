import { defineOptimizer, type OptimizerOptions, type OptimkitOptimizer } from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { applyWeightDecay, decayVariant, firstMoment, momentScalars, validateMoments } from './shared.js';

const defaults = {
  /**
   * Step size, default `2e-3`.
   *
   * @defaultValue `2e-3`
   */
  learningRate: 2e-3,
  /**
   * Decay of the first moment, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the infinity norm, in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to `|g|` inside the max, > 0, default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Coupled L2 penalty added to the gradient, ≥ 0, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link adamax}. */
export type AdamaxDefaults = typeof defaults;
/** Options of {@link adamax}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdamaxOptions = OptimizerOptions<AdamaxDefaults>;
/** An Adamax optimizer instance. */
export type Adamax = OptimkitOptimizer<AdamaxDefaults>;

/** The Adamax optimizer class (serialization name `OptimkitAdamax`; `Adamax` is tfjs's own). */
export const Adamax = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdamax',
  packageName,
  packageVersion,
  defaults,
  validate: validateMoments,
  slots: { expAvg: 0, expInf: 0 },
  nonNegativeSlots: ['expInf'],
  epsilons: ['epsilon'],
  variant: decayVariant,
  scalars: (h, step) => ({ ...momentScalars(h), stepSize: h.learningRate / (1 - h.beta1 ** step) }),
  rule({ param, grad, slots, s, op, v }) {
    const decayed = applyWeightDecay(op, param, grad, s, v.decay, false);
    const expAvg = firstMoment(op, slots.expAvg, decayed.grad, s.oneMinusBeta1);
    // PyTorch puts epsilon inside the max, so the norm never reaches 0 and decays with β₂ like the rest.
    const expInf = op.max(op.mul(slots.expInf, s.beta2), op.add(op.abs(decayed.grad), s.epsilon));
    return {
      param: op.sub(decayed.param, op.mul(op.div(expAvg, expInf), s.stepSize)),
      slots: { expAvg, expInf },
    };
  },
});

/**
 * Adamax, Adam's infinity-norm variant, exactly as PyTorch's `torch.optim.Adamax`, with coupled
 * (L2) weight decay.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * g ← g + weightDecay · p                                   (coupled L2; skipped when 0)
 * m ← β₁ · m + (1 − β₁) · g
 * u ← max(β₂ · u, |g| + epsilon)                            (epsilon inside the max)
 * p ← p − (learningRate / (1 − β₁ᵗ)) · m / u
 * ```
 * `m` and `u` start at zero; `u` has no bias correction. `1 − β₁ᵗ` is computed in float64 from the
 * variable's own step count, so a resumed run is bit-identical to one that never stopped.
 *
 * @param options.learningRate Step size, default `2e-3`.
 * @param options.beta1 Decay of the first moment, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the infinity norm, in [0, 1), default `0.999`.
 * @param options.epsilon Added to `|g|` inside the max, > 0, default `1e-8`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, ≥ 0, default `0`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, section 7.1.
 *
 * Differences from `tf.train.adamax(learningRate, beta1, beta2, epsilon, decay)`: tf.train takes
 * `u ← max(β₂·u, |g|)` and divides by `u + epsilon`, adding epsilon after the max each step, while
 * here epsilon enters the max and then decays with β₂ (the two agree while `|g| ≫ epsilon` and
 * differ once gradients are near epsilon or shrink); tf.train's epsilon defaults to the backend
 * epsilon (`1e-7` on float32), this one to `1e-8`; tf.train has a learning-rate decay
 * `lr / (1 + decay·(t − 1))` (use a schedule here instead) and cannot save or load its state.
 *
 * @example
 * ```ts
 * import { adamax } from '@optimkit/adam';
 * const optimizer = adamax({ learningRate: 2e-3 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function adamax(options: AdamaxOptions = {}): Adamax {
  return new Adamax(options);
}
