import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  elementwiseVariants,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  learningRate: 1.0,
  rho: 0.9,
  epsilon: 1e-6,
  weightDecay: 0,
};

/** Hyperparameters of {@link adadelta}. */
export type AdadeltaDefaults = typeof defaults;
/** Options of {@link adadelta}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdadeltaOptions = OptimizerOptions<AdadeltaDefaults>;
/** An Adadelta optimizer instance. */
export type Adadelta = OptimkitOptimizer<AdadeltaDefaults>;

// Inputs param, grad, squareAvg, accDelta; scalars weightDecay, rho, 1 − rho, epsilon, learningRate.
const adadeltaKernel = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean }) => {
    const param = e.input(0);
    const g = flags.decay ? e.add(e.input(1), e.mul(param, e.scalar(0))) : e.input(1);
    const rho = e.scalar(1);
    const oneMinusRho = e.scalar(2);
    const epsilon = e.scalar(3);
    const accDelta = e.input(3);
    const squareAvg = e.add(e.mul(e.input(2), rho), e.mul(e.mul(g, g), oneMinusRho));
    const ratio = e.div(e.sqrt(e.add(accDelta, epsilon)), e.sqrt(e.add(squareAvg, epsilon)));
    const delta = e.mul(ratio, g);
    const nextAccDelta = e.add(e.mul(accDelta, rho), e.mul(e.mul(delta, delta), oneMinusRho));
    return [e.sub(param, e.mul(delta, e.scalar(4))), squareAvg, nextAccDelta];
  },
  { inputs: 4, scalars: 5 },
);

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
  update({ param, grad, slots, h }) {
    const g = h.weightDecay !== 0 ? tf.add(grad, tf.mul(param, h.weightDecay)) : grad;
    const squareAvg = tf.add(tf.mul(slots.squareAvg!, h.rho), tf.mul(tf.mul(g, g), 1 - h.rho));
    // The denominator uses this step's average (PyTorch, TensorFlow), not the previous one (tfjs).
    const ratio = tf.div(tf.sqrt(tf.add(slots.accDelta!, h.epsilon)), tf.sqrt(tf.add(squareAvg, h.epsilon)));
    const delta = tf.mul(ratio, g);
    const accDelta = tf.add(tf.mul(slots.accDelta!, h.rho), tf.mul(tf.mul(delta, delta), 1 - h.rho));
    return { param: tf.sub(param, tf.mul(delta, h.learningRate)), slots: { squareAvg, accDelta } };
  },
  // The same arithmetic in one elementwise kernel, each op rounded to float32 as the tensor op.
  fused({ param, grad, slots, out, h }) {
    adadeltaKernel({ decay: h.weightDecay !== 0 }).run(
      param.length,
      [param, grad, slots.squareAvg!, slots.accDelta!],
      [h.weightDecay, h.rho, 1 - h.rho, h.epsilon, h.learningRate],
      [out.param, out.slots.squareAvg!, out.slots.accDelta!],
    );
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
