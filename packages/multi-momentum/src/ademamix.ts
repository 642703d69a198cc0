import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { validateThreeBetas } from './shared.js';

const defaults = {
  /**
   * Step size.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the fast EMA `m₁`, in [0, 1); 0 keeps no slot and uses the gradient (a schedule that
   * leaves 0 later creates the slot at 0 on that step).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment `ν`, in [0, 1).
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Final decay of the slow EMA `m₂`, in [0, 1).
   *
   * @defaultValue `0.9999`
   */
  beta3: 0.9999,
  /**
   * Final weight of the slow EMA in the update, ≥ 0; 0 is Adam(W).
   *
   * @defaultValue `2`
   */
  alpha: 2,
  /**
   * Steps over which β₃ rises from β₁ to `beta3`, linearly in the half-life `ln ½ / ln β − 1`
   * (the reference's `beta3_warmup`), ≥ 0; `null` is no warmup.
   *
   * @defaultValue `null`
   */
  beta3Warmup: null as number | null,
  /**
   * Steps over which α rises linearly from 0 to `alpha` (the reference's `alpha_warmup`), ≥ 0; `null` is no
   * warmup.
   *
   * @defaultValue `null`
   */
  alphaWarmup: null as number | null,
  /**
   * Added to the bias-corrected `√ν`, > 0.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Decoupled weight decay, ≥ 0, added to the update as `wd·p` (AdamW's).
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link ademamix}. */
export type AdEMAMixDefaults = typeof defaults;
/** Options of {@link ademamix}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdEMAMixOptions = OptimizerOptions<AdEMAMixDefaults>;
/** An AdEMAMix optimizer instance. */
export type AdEMAMix = OptimkitOptimizer<AdEMAMixDefaults>;

/** Half-life in steps of an EMA of decay β, minus one, as the reference computes it (ε = 1e-8). */
const halfLife = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;

/**
 * α and β₃ at the variable's step `t` (1 on its first update, as the reference's warmups take
 * it), in float64: the reference's `linear_warmup_scheduler` and `linear_hl_warmup_scheduler`.
 */
export function ademamixWarmup(
  h: { beta1: number; beta3: number; alpha: number; beta3Warmup: number | null; alphaWarmup: number | null },
  t: number,
): { alpha: number; beta3: number } {
  let alpha = h.alpha;
  if (h.alphaWarmup !== null && t < h.alphaWarmup) {
    const a = t / h.alphaWarmup;
    alpha = (1 - a) * 0 + a * h.alpha;
  }
  let beta3 = h.beta3;
  if (h.beta3Warmup !== null && t < h.beta3Warmup) {
    const a = t / h.beta3Warmup;
    beta3 = 0.5 ** (1 / ((1 - a) * halfLife(h.beta1) + a * halfLife(h.beta3) + 1));
  }
  return { alpha, beta3 };
}

type AdEMAMixSlot = 'expAvgFast' | 'expAvgSlow' | 'expAvgSq';
// Typed with every slot name, so that the slot names are inferred from `slots`, not from these lists.
// A β₁ scheduled away from 0 calls for the fast EMA: created at 0 on that step.
const conditionalSlots: readonly AdEMAMixSlot[] = ['expAvgFast'];
const nonNegativeSlots: readonly AdEMAMixSlot[] = ['expAvgSq'];

/** The AdEMAMix optimizer class (serialization name `OptimkitAdEMAMix`). */
export const AdEMAMix = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdEMAMix',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    validateThreeBetas(h);
    checkNonNegative('alpha', h.alpha);
    if (h.beta3Warmup !== null) checkNonNegative('beta3Warmup', h.beta3Warmup);
    if (h.alphaWarmup !== null) checkNonNegative('alphaWarmup', h.alphaWarmup);
  },
  // As the reference, no fast EMA is kept when β₁ is 0 at a variable's first update.
  slots: (_shape, h): SlotSpec<AdEMAMixSlot> =>
    h.beta1 !== 0 ? { expAvgFast: 0, expAvgSlow: 0, expAvgSq: 0 } : { expAvgSlow: 0, expAvgSq: 0 },
  epsilons: ['epsilon'],
  conditionalSlots,
  nonNegativeSlots,
  variant: (h) => ({ fast: h.beta1 !== 0, decay: h.weightDecay !== 0 }),
  scalars(h, step) {
    const { alpha, beta3 } = ademamixWarmup(h, step);
    return {
      oneMinusBeta1: 1 - h.beta1,
      oneMinusBeta2: 1 - h.beta2,
      bias1: 1 - h.beta1 ** step,
      sqrtBias2: Math.sqrt(1 - h.beta2 ** step),
      alphaT: alpha,
      beta3T: beta3,
      oneMinusBeta3T: 1 - beta3,
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    const fast = v.fast ? op.add(op.mul(slots.expAvgFast, s.beta1), op.mul(grad, s.oneMinusBeta1)) : grad;
    const expAvgSlow = op.add(op.mul(slots.expAvgSlow, s.beta3T), op.mul(grad, s.oneMinusBeta3T));
    const expAvgSq = op.add(op.mul(slots.expAvgSq, s.beta2), op.mul(op.square(grad), s.oneMinusBeta2));
    const denom = op.add(op.div(op.sqrt(expAvgSq), s.sqrtBias2), s.epsilon);
    let update = op.div(op.add(op.div(fast, s.bias1), op.mul(expAvgSlow, s.alphaT)), denom);
    if (v.decay) update = op.add(update, op.mul(param, s.weightDecay));
    const next = v.fast ? { expAvgFast: fast, expAvgSlow, expAvgSq } : { expAvgSlow, expAvgSq };
    return { param: op.sub(param, op.mul(update, s.learningRate)), slots: next };
  },
});

/**
 * AdEMAMix: Adam(W) whose numerator mixes the usual fast EMA of the gradient with a slow one
 * (β₃ = 0.9999, a half-life of ~7000 steps) weighted by α, so old gradients keep contributing.
 * As the authors' PyTorch code (apple/ml-ademamix, `pytorch/ademamix.py`), with its defaults and
 * its warmups of α and β₃, which take the 1-based step (not its Optax port, whose warmups take
 * the 0-based count and whose α defaults to 5).
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * α_t = alphaWarmup and t < alphaWarmup ? (t / alphaWarmup)·α : α
 * β₃,t = beta3Warmup and t < beta3Warmup ? ½^(1 / ((1 − a)·f(β₁) + a·f(β₃) + 1)) : β₃,
 *        a = t / beta3Warmup,  f(β) = ln ½ / ln(β + 1e-8) − 1
 * m₁ ← β₁·m₁ + (1 − β₁)·g             (m₁ = g when β₁ = 0)
 * m₂ ← β₃,t·m₂ + (1 − β₃,t)·g
 * ν  ← β₂·ν + (1 − β₂)·g²
 * u  = (m₁ / (1 − β₁ᵗ) + α_t·m₂) / (√ν / √(1 − β₂ᵗ) + ε) + wd·p
 * p  ← p − lr·u
 * ```
 * The slow EMA has no bias correction. With `alpha: 0` it is AdamW with the decay folded into the
 * update (`p − lr·(m̂/(√ν̂ + ε) + wd·p)`). The warmups and bias corrections are float64 functions
 * of the variable's own step, so a resumed run is bit-identical. The paper (Pagliardini, Ablin &
 * Grangier 2024) recommends α between 4 and 10 with warmups as long as training; the reference's
 * defaults, used here, are α = 2 without warmups.
 *
 * Options (defaults in parentheses): `learningRate` (1e-3), `beta1` (0.9), `beta2` (0.999),
 * `beta3` (0.9999), `alpha` (2), `beta3Warmup` (null), `alphaWarmup` (null), `epsilon` (1e-8),
 * `weightDecay` (0), and `paramGroups`.
 *
 * Paper: Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older",
 * arXiv:2409.03137, 2024. `tf.train` has no AdEMAMix.
 *
 * @example
 * ```ts
 * import { ademamix } from '@optimkit/multi-momentum';
 * const optimizer = ademamix({ learningRate: 1e-3, alpha: 5, alphaWarmup: 10_000, beta3Warmup: 10_000 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function ademamix(options: AdEMAMixOptions = {}): AdEMAMix {
  return new AdEMAMix(options);
}
