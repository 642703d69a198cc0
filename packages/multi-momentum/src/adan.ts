import { defineOptimizer, type OptimizerOptions, type OptimkitOptimizer } from '@optimkit/core';
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
   * Decay of the gradient EMA `m`, in [0, 1). The reference's `betas[0]`; the paper's β₁ is
   * `1 − beta1` (0.02).
   *
   * @defaultValue `0.98`
   */
  beta1: 0.98,
  /**
   * Decay of the gradient-difference EMA `d`, and the weight of the difference in the Nesterov
   * estimate, in [0, 1). The paper's β₂ = `1 − beta2` (0.08).
   *
   * @defaultValue `0.92`
   */
  beta2: 0.92,
  /**
   * Decay of the second moment `n`, in [0, 1). The paper's β₃ = `1 − beta3` (0.01).
   *
   * @defaultValue `0.99`
   */
  beta3: 0.99,
  /**
   * Added to the bias-corrected `√n`, > 0.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Decoupled weight decay, ≥ 0, applied as a proximal step unless `noProx`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Decay the weights before the step, `p ← p·(1 − lr·wd)` (AdamW's way), instead of the
   * proximal `p ← p / (1 + lr·wd)` after it (the reference's `no_prox`).
   *
   * @defaultValue `false`
   */
  noProx: false,
};

/** Hyperparameters of {@link adan}. */
export type AdanDefaults = typeof defaults;
/** Options of {@link adan}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdanOptions = OptimizerOptions<AdanDefaults>;
/** An Adan optimizer instance. */
export type Adan = OptimkitOptimizer<AdanDefaults>;

type AdanSlot = 'expAvg' | 'expAvgSq' | 'expAvgDiff' | 'negPreGrad';
// Typed with every slot name, so that the slot names are inferred from `slots`, not from this list.
const nonNegativeSlots: readonly AdanSlot[] = ['expAvgSq'];

/** The Adan optimizer class (serialization name `OptimkitAdan`). */
export const Adan = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdan',
  packageName,
  packageVersion,
  defaults,
  validate: validateThreeBetas,
  slots: { expAvg: 0, expAvgSq: 0, expAvgDiff: 0, negPreGrad: 0 },
  epsilons: ['epsilon'],
  nonNegativeSlots,
  variant: (h, step) => ({ first: step === 1, decay: h.weightDecay !== 0 }),
  scalars: (h, step) => ({
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
    oneMinusBeta3: 1 - h.beta3,
    sqrtBias3: Math.sqrt(1 - h.beta3 ** step),
    stepSize: h.learningRate / (1 - h.beta1 ** step),
    stepSizeDiff: (h.learningRate * h.beta2) / (1 - h.beta2 ** step),
    decayFactor: 1 - h.learningRate * h.weightDecay,
    proxDivisor: 1 + h.learningRate * h.weightDecay,
  }),
  rule({ param, grad, slots, s, op, v }) {
    // The reference sets the previous gradient to the first one, so the first difference is 0.
    const diff = op.add(v.first ? op.neg(grad) : slots.negPreGrad, grad);
    const expAvg = op.add(op.mul(slots.expAvg, s.beta1), op.mul(grad, s.oneMinusBeta1));
    const expAvgDiff = op.add(op.mul(slots.expAvgDiff, s.beta2), op.mul(diff, s.oneMinusBeta2));
    const nesterov = op.add(op.mul(diff, s.beta2), grad);
    const expAvgSq = op.add(op.mul(slots.expAvgSq, s.beta3), op.mul(op.square(nesterov), s.oneMinusBeta3));
    const denom = op.add(op.div(op.sqrt(expAvgSq), s.sqrtBias3), s.epsilon);
    let p = v.decay && v.noProx ? op.mul(param, s.decayFactor) : param;
    p = op.sub(p, op.mul(op.div(expAvg, denom), s.stepSize));
    p = op.sub(p, op.mul(op.div(expAvgDiff, denom), s.stepSizeDiff));
    if (v.decay && !v.noProx) p = op.div(p, s.proxDivisor);
    return { param: p, slots: { expAvg, expAvgSq, expAvgDiff, negPreGrad: op.neg(grad) } };
  },
});

/**
 * Adan, adaptive Nesterov momentum: Adam-style normalization of a first moment and of an EMA of
 * gradient differences, with the second moment taken of the Nesterov gradient estimate
 * `g + β₂·(g − g_prev)`. As the authors' PyTorch code (sail-sg/Adan, `adan.py`), with its defaults.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first; `g_prev` = `g` on the first, so the first difference is 0):
 * ```
 * δ ← g − g_prev
 * m ← β₁·m + (1 − β₁)·g
 * d ← β₂·d + (1 − β₂)·δ
 * n ← β₃·n + (1 − β₃)·(g + β₂·δ)²
 * η ← √n / √(1 − β₃ᵗ) + ε
 * p ← p·(1 − lr·wd)                                  if noProx (skipped when wd = 0)
 * p ← p − lr/(1 − β₁ᵗ) · m/η − lr·β₂/(1 − β₂ᵗ) · d/η
 * p ← p / (1 + lr·wd)                                unless noProx (skipped when wd = 0)
 * ```
 * Moments start at zero, with bias corrections (float64 functions of the variable's own step).
 *
 * Departures of the reference code from the paper (Xie et al. 2022, Algorithm 1), followed here:
 * the betas are the decays (`βᵢ` here is `1 − βᵢ` of the paper), and the moments start at zero
 * with bias corrections, where the paper's Algorithm 1 initialises them from the first gradients
 * (`m₀ = g₀`, `n₀ = g₀²`) without bias correction; the first difference is 0. The reference counts steps per param group (its variables all step together);
 * here each variable counts its own, as elsewhere in optimkit. Its `max_grad_norm` (global clipping
 * by `max_grad_norm / (‖g‖ + ε)`) is not an option: use the base's `clipGradNorm`, which divides
 * by `‖g‖ + 1e-6` as PyTorch's `clip_grad_norm_` does.
 *
 * Options (defaults in parentheses): `learningRate` (1e-3), `beta1` (0.98), `beta2` (0.92),
 * `beta3` (0.99), `epsilon` (1e-8), `weightDecay` (0), `noProx` (false), and `paramGroups`.
 *
 * Paper: Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
 * Optimizing Deep Models", IEEE TPAMI 2024 (arXiv:2208.06677, 2022). `tf.train` has no Adan.
 *
 * @example
 * ```ts
 * import { adan } from '@optimkit/multi-momentum';
 * const optimizer = adan({ learningRate: 1e-3, weightDecay: 0.02 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function adan(options: AdanOptions = {}): Adan {
  return new Adan(options);
}
