import {
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
  type Value,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { decayVariant, momentScalars, secondMoment, validateMoments } from './shared.js';

const defaults = {
  /**
   * Step size.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment `m`, in [0, 1).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the belief `s` (the EMA of `(g − m)²`), in [0, 1).
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to `s` on every step (and kept in it) and to the denominator, > 0. The reference's
   * default since adabelief-pytorch 0.1.0 (0.0.5 had 1e-8, which the authors still recommend for
   * problems where SGD beats Adam).
   *
   * @defaultValue `1e-16`
   */
  epsilon: 1e-16,
  /**
   * Weight decay, ≥ 0: decoupled or L2 as `decoupledWeightDecay` says.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Keep the running maximum of `s` (AMSGrad) and divide by it; a third slot.
   *
   * @defaultValue `false`
   */
  amsgrad: false,
  /**
   * Decay the weights, `p ← p·(1 − lr·wd)`, instead of adding `wd·p` to the gradient (the
   * reference's `weight_decouple`).
   *
   * @defaultValue `true`
   */
  decoupledWeightDecay: true,
  /**
   * With decoupled decay, `p ← p·(1 − wd)`, independent of the learning rate.
   *
   * @defaultValue `false`
   */
  fixedDecay: false,
  /**
   * The RAdam-style rectified update (the reference's `rectify`).
   *
   * @defaultValue `true`
   */
  rectify: true,
  /**
   * With `rectify`, take an SGD-with-momentum step while the variance is intractable (ρ_t < 5);
   * otherwise the variable does not move on those steps.
   *
   * @defaultValue `true`
   */
  degeneratedToSgd: true,
};

/** Hyperparameters of {@link adabelief}. */
export type AdaBeliefDefaults = typeof defaults;
/** Options of {@link adabelief}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdaBeliefOptions = OptimizerOptions<AdaBeliefDefaults>;
/** An AdaBelief optimizer instance. */
export type AdaBelief = OptimkitOptimizer<AdaBeliefDefaults>;

/**
 * The reference's rectification at step `t`, in float64: ρ_t, and the coefficient of the update
 * (its `step_size`, without the learning rate), or `null` when the step does not move the variable.
 * `rectified` is whether ρ_t ≥ 5 (the reference's threshold; torch's RAdam uses > 5).
 */
export function beliefRectification(
  beta1: number,
  beta2: number,
  t: number,
  degeneratedToSgd: boolean,
): { rho: number; rectified: boolean; stepSize: number | null } {
  const beta2t = beta2 ** t;
  const rhoInf = 2 / (1 - beta2) - 1;
  const rho = rhoInf - (2 * t * beta2t) / (1 - beta2t);
  const bias1 = 1 - beta1 ** t;
  if (rho >= 5) {
    const r = ((((((1 - beta2t) * (rho - 4)) / (rhoInf - 4)) * (rho - 2)) / rho) * rhoInf) / (rhoInf - 2);
    return { rho, rectified: true, stepSize: Math.sqrt(r) / bias1 };
  }
  return { rho, rectified: false, stepSize: degeneratedToSgd ? 1 / bias1 : null };
}

type AdaBeliefSlot = 'expAvg' | 'expAvgVar' | 'maxExpAvgVar';
// Typed with every slot name, so that the slot names are inferred from `slots`, not from this list.
const nonNegativeSlots: readonly AdaBeliefSlot[] = ['expAvgVar', 'maxExpAvgVar'];

/** The AdaBelief optimizer class (serialization name `OptimkitAdaBelief`). */
export const AdaBelief = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdaBelief',
  packageName,
  packageVersion,
  defaults,
  validate: validateMoments,
  slots: (_shape, h): SlotSpec<AdaBeliefSlot> =>
    h.amsgrad ? { expAvg: 0, expAvgVar: 0, maxExpAvgVar: 0 } : { expAvg: 0, expAvgVar: 0 },
  epsilons: ['epsilon'],
  nonNegativeSlots,
  variant(h, step) {
    if (!h.rectify) return { ...decayVariant(h), branch: 'adaptive' };
    const { rectified, stepSize } = beliefRectification(h.beta1, h.beta2, step, h.degeneratedToSgd);
    return { ...decayVariant(h), branch: rectified ? 'rectified' : stepSize === null ? 'none' : 'sgd' };
  },
  scalars(h, step) {
    const bias1 = 1 - h.beta1 ** step;
    const rect = beliefRectification(h.beta1, h.beta2, step, h.degeneratedToSgd).stepSize ?? 0;
    return {
      ...momentScalars(h),
      fixedDecayFactor: 1 - h.weightDecay,
      stepSize: h.learningRate / bias1,
      sqrtBias2: Math.sqrt(1 - h.beta2 ** step),
      rectifiedStepSize: rect * h.learningRate,
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    let p = param;
    let g = grad;
    if (v.decay && v.decoupledWeightDecay) p = op.mul(p, v.fixedDecay ? s.fixedDecayFactor : s.decayFactor);
    else if (v.decay) g = op.add(g, op.mul(p, s.weightDecay));
    const expAvg = op.add(op.mul(slots.expAvg, s.beta1), op.mul(g, s.oneMinusBeta1));
    // The reference adds epsilon to the stored belief in place, every step.
    const expAvgVar = op.add(
      secondMoment(op, slots.expAvgVar, op.sub(g, expAvg), s.beta2, s.oneMinusBeta2),
      s.epsilon,
    );
    const next: { expAvg: Value; expAvgVar: Value; maxExpAvgVar?: Value } = { expAvg, expAvgVar };
    let second = expAvgVar;
    if (v.amsgrad) {
      second = op.max(slots.maxExpAvgVar, expAvgVar);
      next.maxExpAvgVar = second;
    }
    let update: Value | null;
    if (v.branch === 'adaptive') {
      const denom = op.add(op.div(op.sqrt(second), s.sqrtBias2), s.epsilon);
      update = op.mul(op.div(expAvg, denom), s.stepSize);
    } else if (v.branch === 'rectified') {
      // The reference's rectified step divides by the belief itself, not by its AMSGrad maximum.
      update = op.mul(op.div(expAvg, op.add(op.sqrt(expAvgVar), s.epsilon)), s.rectifiedStepSize);
    } else if (v.branch === 'sgd') {
      update = op.mul(expAvg, s.rectifiedStepSize);
    } else update = null;
    return { param: update === null ? p : op.sub(p, update), slots: next };
  },
});

/**
 * AdaBelief: Adam whose second moment is the EMA of the squared deviation of the gradient from its
 * EMA (the "belief" in the observed gradient), as the authors' `adabelief-pytorch` 0.2.x, with its
 * defaults: decoupled weight decay and the RAdam-style rectification on.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * p ← p·(1 − lr·wd)  (or p·(1 − wd) with fixedDecay)   if decoupledWeightDecay
 * g ← g + wd·p                                         otherwise (skipped when wd = 0)
 * m ← β₁·m + (1 − β₁)·g
 * s ← β₂·s + (1 − β₂)·(g − m)² + ε                     (ε kept in s, as the reference does in place)
 * s̄ ← amsgrad ? (s̄ ← max(s̄, s)) : s
 * not rectify:  p ← p − (lr / (1 − β₁ᵗ)) · m / (√s̄ / √(1 − β₂ᵗ) + ε)
 * rectify:      ρ_∞ = 2/(1 − β₂) − 1,  ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
 *   ρ_t ≥ 5:    p ← p − lr · √((1 − β₂ᵗ)(ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)) / (1 − β₁ᵗ) · m / (√s + ε)
 *   ρ_t < 5:    p ← p − lr / (1 − β₁ᵗ) · m   if degeneratedToSgd, else p unchanged
 * ```
 * Departures of the reference code from the paper (Zhuang et al. 2020, Algorithm 2), followed
 * here: the rectified step divides by `√s`, not by the AMSGrad maximum (with `rectify`, `amsgrad`
 * only keeps its slot up to date), and its threshold is ρ_t ≥ 5 (torch's RAdam: > 5). Moments start
 * at zero; ρ_t and the coefficients are float64 functions of the variable's own step.
 *
 * Options (defaults in parentheses): `learningRate` (1e-3), `beta1` (0.9), `beta2` (0.999),
 * `epsilon` (1e-16), `weightDecay` (0), `amsgrad` (false), `decoupledWeightDecay` (true),
 * `fixedDecay` (false), `rectify` (true), `degeneratedToSgd` (true), and `paramGroups`.
 *
 * Paper: Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan, "AdaBelief Optimizer:
 * Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020. Reference:
 * juntang-zhuang/Adabelief-Optimizer, `adabelief_pytorch` 0.2.1. `tf.train` has no AdaBelief.
 *
 * @example
 * ```ts
 * import { adabelief } from '@optimkit/adam';
 * const optimizer = adabelief({ learningRate: 1e-3, weightDecay: 1e-2 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function adabelief(options: AdaBeliefOptions = {}): AdaBelief {
  return new AdaBelief(options);
}
