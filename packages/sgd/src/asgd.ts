import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type Resolved,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * The initial step size `lr` of the decreasing schedule `η`.
   *
   * @defaultValue `1e-2`
   */
  learningRate: 1e-2,
  /**
   * The decay term `λ` (PyTorch's `lambd`): it shrinks the parameter by `1 − λ·η` each step and
   * sets how fast `η` decreases.
   *
   * @defaultValue `1e-4`
   */
  lambd: 1e-4,
  /**
   * The power of the step-size schedule `η = lr / (1 + λ·lr·t)^alpha`.
   *
   * @defaultValue `0.75`
   */
  alpha: 0.75,
  /**
   * The step after which averaging starts: until then the average `ax` is the parameter itself.
   * The default is so large that, in practice, it never starts.
   *
   * @defaultValue `1e6`
   */
  t0: 1e6,
  /**
   * Coupled L2 penalty added to the gradient.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link asgd}. */
export type ASGDDefaults = typeof defaults;
/** Options of {@link asgd}: each numeric one a number or a schedule, plus `paramGroups`. */
export type ASGDOptions = OptimizerOptions<ASGDDefaults>;
/** An ASGD optimizer instance. */
export type ASGD = OptimkitOptimizer<ASGDDefaults>;

/** `η` of a variable's `step`-th update: PyTorch computes it at the end of the previous one. */
function eta(h: Resolved<ASGDDefaults>, step: number): number {
  return h.learningRate / (1 + h.lambd * h.learningRate * (step - 1)) ** h.alpha;
}

/** `μ` of a variable's `step`-th update (1 on the first, as PyTorch's initial state). */
function mu(h: Resolved<ASGDDefaults>, step: number): number {
  return step === 1 ? 1 : 1 / Math.max(1, step - 1 - h.t0);
}

/** The ASGD optimizer class (serialization name `OptimkitASGD`). */
export const ASGD = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitASGD',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkNonNegative('lambd', h.lambd);
    checkNonNegative('alpha', h.alpha);
    if (Number.isNaN(h.t0)) throw new RangeError('Invalid t0: NaN');
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: { ax: 0 },
  // PyTorch copies the parameter into ax while μ = 1 and averages once μ < 1 (as float32).
  variant: (h, step) => ({ decay: h.weightDecay !== 0, averaging: Math.fround(mu(h, step)) !== 1 }),
  scalars: (h, step) => {
    const e = eta(h, step);
    return { eta: e, shrink: 1 - h.lambd * e, mu: mu(h, step) };
  },
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const p = op.sub(op.mul(param, s.shrink), op.mul(g, s.eta));
    const ax = v.averaging ? op.add(slots.ax, op.mul(op.sub(p, slots.ax), s.mu)) : p;
    return { param: p, slots: { ax } };
  },
});

/**
 * Averaged stochastic gradient descent: SGD with a slowly decreasing step size, which also keeps
 * a running average `ax` of the parameters from step `t0` on (Polyak–Juditsky averaging). The
 * average, not the parameter, is the estimate the theory is about: read it with
 * `optimizer.getSlots(variable.name).ax` (for instance to evaluate, or to copy into the model at
 * the end of training).
 *
 * Update rule (PyTorch's `torch.optim.ASGD`, `_single_tensor_asgd`), for a gradient `g` of
 * parameter `p` on this variable's `t`-th update:
 * ```
 * η ← lr / (1 + lambd · lr · (t − 1))^alpha
 * μ ← 1 / max(1, t − 1 − t0)             (μ ← 1 on the first update)
 * g ← g + weightDecay · p
 * p ← p · (1 − lambd · η) − η · g
 * ax ← p                       if μ = 1
 * ax ← ax + μ · (p − ax)       otherwise
 * ```
 * PyTorch stores `eta` and `mu` in the state, computed at the end of each step from that step's
 * hyperparameters; here they are computed in float64 from the variable's step and the current
 * hyperparameters, which is the same for constant ones (under a schedule, PyTorch's lag one step
 * behind). Torch 1.13 and the single-tensor path of torch 2.x agree; torch 2.x's `foreach` path
 * computes `lr / (1 + lambd·lr·t^alpha)` instead (pytorch/pytorch#125440) and always averages with
 * `addcmul`, and its `capturable` path keeps the state on the device; those are not followed.
 *
 * Options (each a number or a schedule, overridable per param group): `learningRate` 1e-2,
 * `lambd` 1e-4, `alpha` 0.75, `t0` 1e6, `weightDecay` 0.
 *
 * Paper: Boris T. Polyak, Anatoli B. Juditsky, "Acceleration of stochastic approximation by
 * averaging", SIAM Journal on Control and Optimization 30(4), 1992; the step-size schedule is
 * Léon Bottou's (Bottou, "Stochastic gradient descent tricks", 2012; Xu, "Towards optimal one
 * pass large scale learning with averaged stochastic gradient descent", 2011).
 *
 * @example
 * ```ts
 * import { asgd } from '@optimkit/sgd';
 * const optimizer = asgd({ learningRate: 0.05, t0: 1000 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * // after training: the averaged weights
 * const averaged = model.trainableWeights.map((w) => optimizer.getSlots(w.val.name)?.ax);
 * ```
 */
export function asgd(options: ASGDOptions = {}): ASGD {
  return new ASGD(options);
}
