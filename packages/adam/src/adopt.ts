import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { firstMoment, momentScalars, secondMoment, validateMoments } from './shared.js';

const defaults = {
  /**
   * Step size.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment (of the normalized gradient), in [0, 1).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment, in [0, 1).
   *
   * @defaultValue `0.9999`
   */
  beta2: 0.9999,
  /**
   * Lower bound of `√v` (a clamp, not an addition), > 0.
   *
   * @defaultValue `1e-6`
   */
  epsilon: 1e-6,
  /**
   * Weight decay, ≥ 0: L2 or decoupled as `decoupledWeightDecay` says.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Decay the weights, `p ← p − lr·wd·p`, instead of adding `wd·p` to the gradient (the reference's
   * `decouple`).
   *
   * @defaultValue `false`
   */
  decoupledWeightDecay: false,
  /**
   * Clip the normalized gradient to `±(t − 1)^clipExponent` (the reference's default
   * `clip_lambda = lambda step: step ** 0.25`); `false` is its `clip_lambda=None`.
   *
   * @defaultValue `true`
   */
  clip: true,
  /**
   * The exponent of the clipping bound `(t − 1)^clipExponent`, ≥ 0, `t − 1` being the variable's
   * completed updates (the reference's `step`).
   *
   * @defaultValue `0.25`
   */
  clipExponent: 0.25,
};

/** Hyperparameters of {@link adopt}. */
export type AdoptDefaults = typeof defaults;
/** Options of {@link adopt}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdoptOptions = OptimizerOptions<AdoptDefaults>;
/** An ADOPT optimizer instance. */
export type Adopt = OptimkitOptimizer<AdoptDefaults>;

type AdoptSlot = 'expAvg' | 'expAvgSq';
// Typed with every slot name, so that the slot names are inferred from `slots`, not from this list.
const nonNegativeSlots: readonly AdoptSlot[] = ['expAvgSq'];

/** The ADOPT optimizer class (serialization name `OptimkitADOPT`). */
export const Adopt = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitADOPT',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    validateMoments(h);
    checkNonNegative('clipExponent', h.clipExponent);
  },
  slots: { expAvg: 0, expAvgSq: 0 },
  epsilons: ['epsilon'],
  nonNegativeSlots,
  variant: (h, step) => ({ first: step === 1, decay: h.weightDecay !== 0 }),
  scalars: (h, step) => ({
    ...momentScalars(h),
    negativeDecay: -h.learningRate * h.weightDecay,
    clipValue: (step - 1) ** h.clipExponent,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay && !v.decoupledWeightDecay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    // The first update only initialises v: no moment and no decoupled decay, the variable stays.
    if (v.first) return { param, slots: { expAvgSq: op.add(slots.expAvgSq, op.square(g)) } };
    const p = v.decay && v.decoupledWeightDecay ? op.add(param, op.mul(param, s.negativeDecay)) : param;
    let normed = op.div(g, op.max(op.sqrt(slots.expAvgSq), s.epsilon));
    if (v.clip) normed = op.min(op.max(normed, op.neg(s.clipValue)), s.clipValue);
    const expAvg = firstMoment(op, slots.expAvg, normed, s.oneMinusBeta1);
    const expAvgSq = secondMoment(op, slots.expAvgSq, g, s.beta2, s.oneMinusBeta2);
    return { param: op.sub(p, op.mul(expAvg, s.learningRate)), slots: { expAvg, expAvgSq } };
  },
});

/**
 * ADOPT: Adam with the second moment of the previous steps (so the current gradient does not
 * scale itself) and the momentum taken after the normalization, as the authors' PyTorch code
 * (iShohei220/adopt), with its defaults and its clipping of the normalized gradient.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * g ← g + wd·p                                   unless decoupledWeightDecay (skipped when wd = 0)
 * t = 1:  v ← g²                                 (nothing else: m and p stay)
 * t > 1:  p ← p − lr·wd·p                        if decoupledWeightDecay
 *         ĝ ← g / max(√v, ε)
 *         ĝ ← clamp(ĝ, −c, c),  c = (t − 1)^clipExponent     (if clip)
 *         m ← m + (1 − β₁)(ĝ − m)
 *         p ← p − lr·m
 *         v ← β₂·v + (1 − β₂)·g²
 * ```
 * No bias correction. `t − 1` is the reference's `step`, the variable's completed updates, so the
 * bound is 1 on the first moving step and grows as the fourth root.
 *
 * The reference's `clip_lambda` is any function of the step; here it is the default's family,
 * `step ** clipExponent`, with `clip: false` for `clip_lambda=None` (the original, unclipped
 * algorithm of the paper's first version). The clipping was added to the reference in November
 * 2024 against near-zero divisions early in training, with the bound `step**0.25` that keeps the
 * updated paper's convergence guarantee; it is on by default here as there.
 *
 * Options (defaults in parentheses): `learningRate` (1e-3), `beta1` (0.9), `beta2` (0.9999),
 * `epsilon` (1e-6), `weightDecay` (0), `decoupledWeightDecay` (false), `clip` (true),
 * `clipExponent` (0.25), and `paramGroups`.
 *
 * Paper: Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama, Suzuki, Iwasawa & Matsuo,
 * "ADOPT: Modified Adam Can Converge with Any β₂ with the Optimal Rate", NeurIPS 2024.
 * `tf.train` has no ADOPT.
 *
 * @example
 * ```ts
 * import { adopt } from '@optimkit/adam';
 * const optimizer = adopt({ learningRate: 1e-3, weightDecay: 0.01, decoupledWeightDecay: true });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function adopt(options: AdoptOptions = {}): Adopt {
  return new Adopt(options);
}
