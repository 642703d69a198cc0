import { defineOptimizer, type OptimizerOptions, type OptimkitOptimizer } from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import {
  applyWeightDecay,
  decayVariant,
  firstMoment,
  momentScalars,
  secondMoment,
  validateMoments,
} from './shared.js';

const defaults = {
  /**
   * Step size, default `1e-3`.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment, in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to `√v`, > 0, default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Weight decay, ≥ 0, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Decay the weights (`p·(1 − lr·wd)`) instead of adding `wd·p` to the gradient, default `false`.
   *
   * @defaultValue `false`
   */
  decoupledWeightDecay: false,
};

/** Hyperparameters of {@link radam}. */
export type RAdamDefaults = typeof defaults;
/** Options of {@link radam}: each numeric one a number or a schedule, plus `paramGroups`. */
export type RAdamOptions = OptimizerOptions<RAdamDefaults>;
/** A RAdam optimizer instance. */
export type RAdam = OptimkitOptimizer<RAdamDefaults>;

/**
 * The length of the approximated simple moving average, ρ_t, and the rectification term r_t, or
 * `null` while ρ_t ≤ 5 (the variance of the adaptive learning rate is intractable). Float64.
 */
export function rectification(beta2: number, t: number): { rho: number; rect: number | null } {
  const rhoInf = 2 / (1 - beta2) - 1;
  const beta2t = beta2 ** t;
  const rho = rhoInf - (2 * t * beta2t) / (1 - beta2t);
  if (!(rho > 5)) return { rho, rect: null };
  return { rho, rect: Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho)) };
}

/** The RAdam optimizer class (serialization name `OptimkitRAdam`). */
export const RAdam = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitRAdam',
  packageName,
  packageVersion,
  defaults,
  validate: validateMoments,
  slots: { expAvg: 0, expAvgSq: 0 },
  nonNegativeSlots: ['expAvgSq'],
  epsilons: ['epsilon'],
  // Whether ρ_t > 5 (the rectified step) or not (SGD with momentum): a per-step structural branch.
  variant: (h, step) => ({ ...decayVariant(h), rectified: rectification(h.beta2, step).rect !== null }),
  scalars(h, step) {
    const bias1 = 1 - h.beta1 ** step;
    const { rect } = rectification(h.beta2, step);
    return {
      ...momentScalars(h),
      // PyTorch adds epsilon to the uncorrected √v and folds √(1 − β₂ᵗ) into the coefficient.
      coefficient:
        rect === null
          ? h.learningRate / bias1
          : (h.learningRate * rect * Math.sqrt(1 - h.beta2 ** step)) / bias1,
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    const decayed = applyWeightDecay(op, param, grad, s, v.decay, v.decoupledWeightDecay);
    const expAvg = firstMoment(op, slots.expAvg, decayed.grad, s.oneMinusBeta1);
    const expAvgSq = secondMoment(op, slots.expAvgSq, decayed.grad, s.beta2, s.oneMinusBeta2);
    const update = v.rectified
      ? op.mul(op.div(expAvg, op.add(op.sqrt(expAvgSq), s.epsilon)), s.coefficient)
      : op.mul(expAvg, s.coefficient);
    return { param: op.sub(decayed.param, update), slots: { expAvg, expAvgSq } };
  },
});

/**
 * RAdam, Adam with a rectified adaptive learning rate, exactly as PyTorch's `torch.optim.RAdam`
 * (optionally with decoupled weight decay).
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * p ← p · (1 − learningRate · weightDecay)    if decoupledWeightDecay
 * g ← g + weightDecay · p                     otherwise            (both skipped when 0)
 * m ← β₁ · m + (1 − β₁) · g
 * v ← β₂ · v + (1 − β₂) · g²
 * m̂ = m / (1 − β₁ᵗ)
 * ρ_∞ = 2 / (1 − β₂) − 1,   ρ_t = ρ_∞ − 2t · β₂ᵗ / (1 − β₂ᵗ)
 * if ρ_t > 5:
 *   r_t = √((ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t))
 *   p ← p − learningRate · m̂ · r_t · √(1 − β₂ᵗ) / (√v + epsilon)     (epsilon on the uncorrected √v)
 * else:
 *   p ← p − learningRate · m̂                                        (SGD with momentum)
 * ```
 * With the default β₂ = 0.999 the first 5 updates of a variable take the momentum branch. ρ_t and
 * r_t are computed in float64 from the variable's own step count, so a resumed run is
 * bit-identical to one that never stopped.
 *
 * @param options.learningRate Step size, default `1e-3`.
 * @param options.beta1 Decay of the first moment, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the second moment, in [0, 1), default `0.999`.
 * @param options.epsilon Added to `√v`, > 0, default `1e-8`.
 * @param options.weightDecay Weight decay, ≥ 0, default `0`.
 * @param options.decoupledWeightDecay Decay the weights (`p·(1 − lr·wd)`) instead of adding
 *   `wd·p` to the gradient, default `false`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and
 * Beyond", ICLR 2020. Optax's `radam` differs slightly (epsilon after bias correction, `ρ_t ≥ 5`).
 * `tf.train` has no RAdam.
 *
 * @example
 * ```ts
 * import { radam } from '@optimkit/adam';
 * const optimizer = radam({ learningRate: 1e-3 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function radam(options: RAdamOptions = {}): RAdam {
  return new RAdam(options);
}
