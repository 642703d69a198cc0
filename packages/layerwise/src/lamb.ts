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
   * Step size, default `1e-3`: each adapted tensor moves by about this fraction of its norm per
   * step.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to `√v̂` (> 0), default `1e-6` (not Adam's 1e-8).
   *
   * @defaultValue `1e-6`
   */
  epsilon: 1e-6,
  /**
   * Decoupled weight decay added to the update before the ratio, default `0` (0.01 is typical for
   * BERT).
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Scale this tensor by the trust ratio, default `true`. Set `false` in a param group for biases
   * and normalization scales.
   *
   * @defaultValue `true`
   */
  trustRatio: true,
};

/** Hyperparameters of {@link lamb}. */
export type LAMBDefaults = typeof defaults;
/** Options of {@link lamb}: each numeric one a number or a schedule, plus `paramGroups`. */
export type LAMBOptions = OptimizerOptions<LAMBDefaults>;
/** A LAMB optimizer instance. */
export type LAMB = OptimkitOptimizer<LAMBDefaults>;

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
  nonNegativeSlots: ['v'],
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  // Bias corrections in float64 from the variable's own step: no β^t state to drift or resave.
  scalars: (h, step) => ({
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
    correction1: 1 - h.beta1 ** step,
    correction2: 1 - h.beta2 ** step,
  }),
  epsilons: ['epsilon'],
  rule({ param, grad, slots, s, op, v: flags }) {
    const m = op.add(op.mul(slots.m, s.beta1), op.mul(grad, s.oneMinusBeta1));
    const v = op.add(op.mul(slots.v, s.beta2), op.mul(op.square(grad), s.oneMinusBeta2));
    const adam = op.div(op.div(m, s.correction1), op.add(op.sqrt(op.div(v, s.correction2)), s.epsilon));
    const u = flags.decay ? op.add(adam, op.mul(param, s.weightDecay)) : adam;
    let scale = s.learningRate;
    if (flags.trustRatio) {
      // The ratio stays a rule value, not a JS number: downloading the norms would stall the step
      // on every variable.
      const paramNorm = op.norm(param);
      const updateNorm = op.norm(u);
      // 1 unless both norms are positive.
      const ratio = op.select(
        op.greater(paramNorm, 0),
        op.select(op.greater(updateNorm, 0), op.div(paramNorm, updateNorm), 1),
        1,
      );
      scale = op.mul(ratio, s.learningRate);
    }
    return { param: op.sub(param, op.mul(u, scale)), slots: { m, v } };
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
