import {
  checkNonNegative,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';

const defaults = { learningRate: 1e-3, beta: 0.999, nu: 0.7, weightDecay: 0 };

/** Hyperparameters of {@link qhm}. */
export type QHMDefaults = typeof defaults;
/** Options of {@link qhm}: each numeric one a number or a schedule, plus `paramGroups`. */
export type QHMOptions = OptimizerOptions<QHMDefaults>;
/** A QHM optimizer instance. */
export type QHM = OptimkitOptimizer<QHMDefaults>;

/** The QHM optimizer class (serialization name `ExampleQHM`). */
export const QHM = /* @__PURE__ */ defineOptimizer({
  className: 'ExampleQHM',
  packageName: '@optimkit/example-plugin',
  packageVersion: '0.0.0',
  defaults,
  validate(h) {
    checkUnitInterval('beta', h.beta);
    if (!(h.nu >= 0 && h.nu <= 1)) throw new RangeError(`Invalid nu: ${h.nu}`);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  epsilons: [],
  slots: { momentumBuffer: 0 },
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  scalars: (h) => ({ oneMinusBeta: 1 - h.beta, oneMinusNu: 1 - h.nu }),
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const buffer = op.add(op.mul(slots.momentumBuffer, s.beta), op.mul(g, s.oneMinusBeta));
    // The reference subtracts the momentum term, then the gradient term, each scaled by the rate.
    const afterMomentum = op.sub(param, op.mul(buffer, op.mul(s.learningRate, s.nu)));
    const next = op.sub(afterMomentum, op.mul(g, op.mul(s.learningRate, s.oneMinusNu)));
    return { param: next, slots: { momentumBuffer: buffer } };
  },
});

/**
 * Quasi-hyperbolic momentum: a weighted average of the plain gradient step and the momentum step.
 *
 * Update rule, for a gradient `g` of parameter `p`:
 * ```
 * g ← g + weightDecay·p
 * b ← beta·b + (1 − beta)·g                  (b starts at zero)
 * p ← p − learningRate·nu·b − learningRate·(1 − nu)·g
 * ```
 * `nu: 1` is momentum SGD with a normalized (exponential-average) buffer, `nu: 0` plain SGD.
 *
 * @param options.learningRate Step size, default `1e-3`.
 * @param options.beta Decay of the momentum buffer in [0, 1), default `0.999`.
 * @param options.nu Weight of the momentum step in [0, 1], default `0.7`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, default `0`.
 *
 * Paper: Ma & Yarats, "Quasi-hyperbolic momentum and Adam for deep learning", ICLR 2019;
 * reference code: facebookresearch/qhoptim `qhoptim/pyt/qhm.py`.
 *
 * @example
 * ```ts
 * const optimizer = qhm({ learningRate: 0.1, beta: 0.999, nu: 0.7 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function qhm(options: QHMOptions = {}): QHM {
  return new QHM(options);
}
