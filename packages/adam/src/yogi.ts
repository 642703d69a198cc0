import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { momentScalars, validateMoments } from './shared.js';

const defaults = {
  /**
   * Step size. Optax's `yogi(learning_rate)` has no default; this is the Adam family's.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment, in [0, 1).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Rate of the additive second-moment update, in [0, 1).
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to the bias-corrected `√v`, > 0; Optax's default, larger than Adam's.
   *
   * @defaultValue `1e-3`
   */
  epsilon: 1e-3,
  /**
   * The value both moments start from, ≥ 0 (Optax's `initial_accumulator_value`). It starts the
   * first moment too, so a zero gradient still moves a fresh variable (by about
   * `lr·β₁·init/(1 − β₁)/(√(init/(1 − β₂)) + ε)` on its first step, 2.8e-7 with the defaults); Optax's docstring
   * asks for a positive value, its code accepts 0, which starts both at zero.
   *
   * @defaultValue `1e-6`
   */
  initialAccumulatorValue: 1e-6,
  /**
   * Decoupled weight decay, `p ← p·(1 − lr·wd)` before the update, ≥ 0.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link yogi}. */
export type YogiDefaults = typeof defaults;
/** Options of {@link yogi}: each numeric one a number or a schedule, plus `paramGroups`. */
export type YogiOptions = OptimizerOptions<YogiDefaults>;
/** A Yogi optimizer instance. */
export type Yogi = OptimkitOptimizer<YogiDefaults>;

type YogiSlot = 'mu' | 'nu';
// Typed with every slot name, so that the slot names are inferred from `slots`, not from this list.
const nonNegativeSlots: readonly YogiSlot[] = ['nu'];

/** The Yogi optimizer class (serialization name `OptimkitYogi`). */
export const Yogi = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitYogi',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    validateMoments(h);
    checkNonNegative('initialAccumulatorValue', h.initialAccumulatorValue);
  },
  slots: (_shape, h) => ({ mu: h.initialAccumulatorValue, nu: h.initialAccumulatorValue }),
  epsilons: ['epsilon'],
  nonNegativeSlots,
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  scalars: (h, step) => ({
    ...momentScalars(h),
    bias1: 1 - h.beta1 ** step,
    bias2: 1 - h.beta2 ** step,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const p = v.decay ? op.mul(param, s.decayFactor) : param;
    const mu = op.add(op.mul(grad, s.oneMinusBeta1), op.mul(slots.mu, s.beta1));
    const g2 = op.square(grad);
    const nu = op.sub(slots.nu, op.mul(op.mul(op.sign(op.sub(slots.nu, g2)), s.oneMinusBeta2), g2));
    const update = op.div(op.div(mu, s.bias1), op.add(op.sqrt(op.div(nu, s.bias2)), s.epsilon));
    return { param: op.sub(p, op.mul(update, s.learningRate)), slots: { mu, nu } };
  },
});

/**
 * Yogi: Adam whose second moment moves additively, by at most `(1 − β₂)·g²` per step toward `g²`,
 * so that it cannot forget a large gradient as fast as Adam does. As Optax's `optax.yogi`
 * (`scale_by_yogi` then the learning rate), its state names and defaults included.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * p ← p·(1 − lr·wd)                                     (skipped when weightDecay = 0)
 * μ ← (1 − β₁)·g + β₁·μ
 * ν ← ν − (1 − β₂)·sign(ν − g²)·g²
 * p ← p − lr · (μ / (1 − β₁ᵗ)) / (√(ν / (1 − β₂ᵗ)) + ε)
 * ```
 * Both moments start at `initialAccumulatorValue` (1e-6), as Optax's, not at zero; ν stays
 * positive. Optax's `eps_root` (0 in `optax.yogi`) is not an option. The bias corrections are
 * float64 functions of the variable's own step. `weightDecay` is not in `optax.yogi`: it is
 * AdamW-style decoupled decay (chain `add_decayed_weights` in Optax), off by default.
 *
 * Options (defaults in parentheses): `learningRate` (1e-3), `beta1` (0.9), `beta2` (0.999),
 * `epsilon` (1e-3), `initialAccumulatorValue` (1e-6), `weightDecay` (0), and `paramGroups`.
 *
 * Paper: Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
 * NeurIPS 2018 (Algorithm 2). The paper's own code is not public; Optax's is the reference. The
 * paper initialises ν from a mini-batch estimate and suggests ε = 1e-3. `tf.train` has no Yogi.
 *
 * @example
 * ```ts
 * import { yogi } from '@optimkit/adam';
 * const optimizer = yogi({ learningRate: 1e-2 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function yogi(options: YogiOptions = {}): Yogi {
  return new Yogi(options);
}
