import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  elementwise,
  elementwiseVariants,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { l2Norm, normFromSum } from './norm.js';

const defaults = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-6,
  weightDecay: 0,
  trustRatio: true,
};

/** Hyperparameters of {@link lamb}. */
export type LAMBDefaults = typeof defaults;
/** Options of {@link lamb}: each numeric one a number or a schedule, plus `paramGroups`. */
export type LAMBOptions = OptimizerOptions<LAMBDefaults>;
/** A LAMB optimizer instance. */
export type LAMB = OptimkitOptimizer<LAMBDefaults>;

// Inputs param, grad, m, v; scalars β₁, 1 − β₁, β₂, 1 − β₂, 1 − β₁ᵗ, 1 − β₂ᵗ, epsilon, weightDecay.
// Outputs the update u, m and v; with the trust ratio, sums Σp² and Σu².
const lambMoments = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean; norms: boolean }) => {
    const grad = e.input(1);
    const m = e.add(e.mul(e.input(2), e.scalar(0)), e.mul(grad, e.scalar(1)));
    const v = e.add(e.mul(e.input(3), e.scalar(2)), e.mul(e.mul(grad, grad), e.scalar(3)));
    const adam = e.div(e.div(m, e.scalar(4)), e.add(e.sqrt(e.div(v, e.scalar(5))), e.scalar(6)));
    const u = flags.decay ? e.add(adam, e.mul(e.input(0), e.scalar(7))) : adam;
    if (flags.norms) {
      e.sum(e.mul(e.input(0), e.input(0)));
      e.sum(e.mul(u, u));
    }
    return [u, m, v];
  },
  { inputs: 4, scalars: 8 },
);

// p − u·scale.
const lambApply = /* @__PURE__ */ elementwise((e) => [e.sub(e.input(0), e.mul(e.input(1), e.scalar(0)))]);

/** The LAMB optimizer class (serialization name `OptimkitLAMB`). */
export const LAMB = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitLAMB',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: { m: 0, v: 0 },
  update({ param, grad, slots, h, step }) {
    const m = tf.add(tf.mul(slots.m!, h.beta1), tf.mul(grad, 1 - h.beta1));
    const v = tf.add(tf.mul(slots.v!, h.beta2), tf.mul(tf.square(grad), 1 - h.beta2));
    // Bias corrections in float64 from the variable's own step: no β^t state to drift or resave.
    const correction1 = 1 - h.beta1 ** step;
    const correction2 = 1 - h.beta2 ** step;
    const adam = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), h.epsilon));
    const u = h.weightDecay !== 0 ? tf.add(adam, tf.mul(param, h.weightDecay)) : adam;
    let scale: tf.Tensor | number = h.learningRate;
    if (h.trustRatio) {
      // The ratio stays a tensor: reading it back to JS would stall the step on every variable.
      const paramNorm = l2Norm(param);
      const updateNorm = l2Norm(u);
      const bothPositive = tf.logicalAnd(tf.greater(paramNorm, 0), tf.greater(updateNorm, 0));
      const ratio = tf.where(bothPositive, tf.div(paramNorm, updateNorm), tf.onesLike(paramNorm));
      scale = tf.mul(ratio, h.learningRate);
    }
    return { param: tf.sub(param, tf.mul(u, scale)), slots: { m, v } };
  },
  // The same arithmetic, each op rounded to float32 as the tensor op: one pass for the moments, the
  // update (kept in the output array) and the norms, one pass for the variable.
  fused({ param, grad, slots, out, h, step }) {
    const u = out.param;
    const [paramSquares, updateSquares] = lambMoments({
      decay: h.weightDecay !== 0,
      norms: h.trustRatio,
    }).run(
      param.length,
      [param, grad, slots.m!, slots.v!],
      [
        h.beta1,
        1 - h.beta1,
        h.beta2,
        1 - h.beta2,
        1 - h.beta1 ** step,
        1 - h.beta2 ** step,
        h.epsilon,
        h.weightDecay,
      ],
      [u, out.slots.m!, out.slots.v!],
    );
    let scale = Math.fround(h.learningRate);
    if (h.trustRatio) {
      const paramNorm = normFromSum(paramSquares!);
      const updateNorm = normFromSum(updateSquares!);
      const ratio = paramNorm > 0 && updateNorm > 0 ? Math.fround(paramNorm / updateNorm) : 1;
      scale = Math.fround(ratio * scale);
    }
    lambApply.run(param.length, [param, u], [scale], [u]);
  },
});

/**
 * LAMB, layer-wise adaptive moments for batch training: Adam (with decoupled weight decay added
 * to the update) whose step on each tensor is rescaled so that it moves by `learningRate` times
 * the tensor's norm. Built for very large batches (BERT pre-training with batches of 32k–64k).
 *
 * Update rule (paper reference implementation, TF Addons = Optax: the ratio on every tensor of a
 * group with `trustRatio`, never clipped), for a gradient `g` of tensor `p` on this variable's
 * `t`-th update, `‖·‖` the L2 norm of the whole tensor:
 * ```
 * m ← beta1 · m + (1 − beta1) · g
 * v ← beta2 · v + (1 − beta2) · g²
 * u ← (m / (1 − beta1^t)) / (√(v / (1 − beta2^t)) + epsilon) + weightDecay · p
 * r ← ‖p‖ / ‖u‖      (r ← 1 if ‖p‖ = 0 or ‖u‖ = 0, or when trustRatio is false)
 * p ← p − learningRate · r · u
 * ```
 * With `trustRatio: false` a group is exactly the AdamW-style update `p − lr·(m̂/(√v̂+ε) + wd·p)`.
 * Unlike timm/apex's FusedLAMB, there is no built-in gradient clipping, the ratio is not clipped
 * to 1, and groups without weight decay are still adapted (set `trustRatio: false` to exclude
 * them).
 *
 * @param options.learningRate Step size, default `1e-3`: each adapted tensor moves by about this
 *   fraction of its norm per step.
 * @param options.beta1 Decay of the first moment in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the second moment in [0, 1), default `0.999`.
 * @param options.epsilon Added to `√v̂` (> 0), default `1e-6` (not Adam's 1e-8).
 * @param options.weightDecay Decoupled weight decay added to the update before the ratio,
 *   default `0` (0.01 is typical for BERT).
 * @param options.trustRatio Scale this tensor by the trust ratio, default `true`. Set `false` in a
 *   param group for biases and normalization scales.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Yang You, Jing Li, Sashank Reddi, Jonathan Hseu, Sanjiv Kumar, Srinadh Bhojanapalli,
 * Xiaodan Song, James Demmel, Kurt Keutzer, Cho-Jui Hsieh, "Large Batch Optimization for Deep
 * Learning: Training BERT in 76 minutes", ICLR 2020, arXiv:1904.00962.
 *
 * Tuning: because the step is relative to the tensor's norm, the learning rate does not depend
 * on the gradients' scale; the paper scales it with the square root of the batch size, with a
 * warmup then linear or polynomial decay. A
 * tensor whose norm is 0 (zero-initialised) gets ratio 1 and takes a plain Adam step until it
 * moves. Per-tensor ratios on scalars make every step multiplicative (`p ← p·(1 ± lr)`), so a
 * scalar under the ratio never changes sign: exclude rank ≤ 1 tensors as below.
 *
 * @example
 * ```ts
 * import { lamb } from '@optimkit/layerwise';
 * const optimizer = lamb({
 *   learningRate: (step) => 2e-3 * Math.min(1, (step + 1) / 1000) * Math.max(0, 1 - step / 100_000),
 *   weightDecay: 0.01,
 *   paramGroups: [{ match: (v) => v.shape.length <= 1, weightDecay: 0, trustRatio: false }],
 * });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function lamb(options: LAMBOptions = {}): LAMB {
  return new LAMB(options);
}
