import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Scale applied to Δ, default `1.0` (the paper has none).
   *
   * @defaultValue `1.0`
   */
  learningRate: 1.0,
  /**
   * Decay of both running averages, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  rho: 0.9,
  /**
   * Added inside both roots, `> 0`, default `1e-6`.
   *
   * @defaultValue `1e-6`
   */
  epsilon: 1e-6,
  /**
   * Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link adadelta}. */
export type AdadeltaDefaults = typeof defaults;
/** Options of {@link adadelta}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdadeltaOptions = OptimizerOptions<AdadeltaDefaults>;
/** An Adadelta optimizer instance. */
export type Adadelta = OptimkitOptimizer<AdadeltaDefaults>;

/** The Adadelta optimizer class (serialization name `OptimkitAdadelta`). */
export const Adadelta = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdadelta',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('rho', h.rho);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: { squareAvg: 0, accDelta: 0 },
  nonNegativeSlots: ['squareAvg', 'accDelta'],
  epsilons: ['epsilon'],
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  scalars: (h) => ({ oneMinusRho: 1 - h.rho }),
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const squareAvg = op.add(op.mul(slots.squareAvg, s.rho), op.mul(op.mul(g, g), s.oneMinusRho));
    // The denominator uses this step's average (PyTorch, TensorFlow), not the previous one (tfjs).
    const ratio = op.div(op.sqrt(op.add(slots.accDelta, s.epsilon)), op.sqrt(op.add(squareAvg, s.epsilon)));
    const delta = op.mul(ratio, g);
    const accDelta = op.add(op.mul(slots.accDelta, s.rho), op.mul(op.mul(delta, delta), s.oneMinusRho));
    return { param: op.sub(param, op.mul(delta, s.learningRate)), slots: { squareAvg, accDelta } };
  },
});

/**
 * Adadelta: steps scaled by the ratio of the running RMS of past updates to the running RMS of
 * gradients, so that they carry the parameter's units; exactly as PyTorch's `torch.optim.Adadelta`.
 *
 * Update rule, for a gradient `g` of parameter `p`:
 * ```
 * g  ← g + weightDecay · p                                   (coupled L2)
 * v  ← rho · v + (1 − rho) · g²
 * Δ  = √(u + epsilon) / √(v + epsilon) · g                   (epsilon inside both roots, new v)
 * u  ← rho · u + (1 − rho) · Δ²
 * p  ← p − learningRate · Δ
 * ```
 * Two slots per variable, both starting at zero: `squareAvg` (v) and `accDelta` (u), 8 bytes per
 * parameter. The first step is small, about `√epsilon · sign(g) / √(1 − rho)` per element: the
 * method warms up by itself.
 *
 * @param options.learningRate Scale applied to Δ, default `1.0` (the paper has none).
 * @param options.rho Decay of both running averages, in [0, 1), default `0.9`.
 * @param options.epsilon Added inside both roots, `> 0`, default `1e-6`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
 *
 * Differences from `tf.train.adadelta(learningRate = 0.001, rho = 0.95, epsilon)`: tfjs divides by
 * the **previous** step's average, `√(u + ε) / √(v_old + ε)`, so its first step is plain SGD,
 * `p − learningRate · g` (both roots are `√ε`), and every later step lags one gradient behind;
 * here (as in PyTorch, TensorFlow and the paper) the average already includes the current
 * gradient. The running average `v` itself is the same in both. Defaults differ too: tfjs's
 * learning rate is 0.001 (1 for the tfjs-layers string `'adadelta'`), rho 0.95, epsilon the
 * backend's 1e-7; here 1.0, 0.9, 1e-6 as PyTorch. tfjs has no weight decay.
 *
 * @example
 * ```ts
 * import { adadelta } from '@optimkit/adaptive';
 * const optimizer = adadelta({ rho: 0.95, weightDecay: 1e-4 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function adadelta(options: AdadeltaOptions = {}): Adadelta {
  return new Adadelta(options);
}
