import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  elementwiseVariants,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  learningRate: 1e-2,
  alpha: 0.99,
  epsilon: 1e-8,
  weightDecay: 0,
  momentum: 0,
  centered: false,
};

/** Hyperparameters of {@link rmsprop}. */
export type RMSpropDefaults = typeof defaults;
/** Options of {@link rmsprop}: each numeric one a number or a schedule, plus `paramGroups`. */
export type RMSpropOptions = OptimizerOptions<RMSpropDefaults>;
/** An RMSprop optimizer instance. */
export type RMSprop = OptimkitOptimizer<RMSpropDefaults>;

// Inputs param, grad, squareAvg, gradAvg, momentumBuffer; scalars weightDecay, alpha, 1 − alpha,
// epsilon, learningRate, momentum. Outputs param, squareAvg, then gradAvg and the buffer if kept.
const rmspropKernel = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean; centered: boolean; buffer: boolean }) => {
    const param = e.input(0);
    const g = flags.decay ? e.add(e.input(1), e.mul(param, e.scalar(0))) : e.input(1);
    const alpha = e.scalar(1);
    const oneMinusAlpha = e.scalar(2);
    const squareAvg = e.add(e.mul(e.input(2), alpha), e.mul(e.mul(g, g), oneMinusAlpha));
    const outputs = [squareAvg];
    let variance = squareAvg;
    if (flags.centered) {
      const previous = e.input(3);
      const gradAvg = e.add(previous, e.mul(e.sub(g, previous), oneMinusAlpha));
      outputs.push(gradAvg);
      variance = e.max(e.sub(squareAvg, e.mul(gradAvg, gradAvg)), e.constant(0));
    }
    const scaled = e.div(g, e.add(e.sqrt(variance), e.scalar(3)));
    if (!flags.buffer) return [e.sub(param, e.mul(scaled, e.scalar(4))), ...outputs];
    const buffer = e.add(e.mul(e.input(4), e.scalar(5)), scaled);
    return [e.sub(param, e.mul(buffer, e.scalar(4))), ...outputs, buffer];
  },
  { inputs: 5, scalars: 6 },
);

/** The RMSprop optimizer class (serialization name `OptimkitRMSprop`). */
export const RMSprop = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitRMSprop',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('alpha', h.alpha);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
    checkUnitInterval('momentum', h.momentum);
  },
  slots: (_shape, h): SlotSpec => ({
    squareAvg: 0,
    ...(h.momentum > 0 ? { momentumBuffer: 0 } : {}),
    ...(h.centered ? { gradAvg: 0 } : {}),
  }),
  update({ param, grad, slots, h, name }) {
    const g = h.weightDecay !== 0 ? tf.add(grad, tf.mul(param, h.weightDecay)) : grad;
    const squareAvg = tf.add(tf.mul(slots.squareAvg!, h.alpha), tf.mul(tf.mul(g, g), 1 - h.alpha));
    const out: Record<string, tf.Tensor> = { squareAvg };
    let variance = squareAvg;
    if (h.centered) {
      if (!slots.gradAvg) throw new Error(`RMSprop: '${name}' has no gradient average (it was not centered)`);
      const gradAvg = tf.add(slots.gradAvg, tf.mul(tf.sub(g, slots.gradAvg), 1 - h.alpha));
      out.gradAvg = gradAvg;
      // v − ḡ² ≥ 0 in exact arithmetic; clamp the float32 rounding below 0 that would give NaN.
      variance = tf.maximum(tf.sub(squareAvg, tf.mul(gradAvg, gradAvg)), 0);
    }
    const scaled = tf.div(g, tf.add(tf.sqrt(variance), h.epsilon));
    const previous = slots.momentumBuffer;
    if (previous === undefined) {
      if (h.momentum > 0) {
        throw new Error(`RMSprop: '${name}' has no momentum buffer (its first update had momentum 0)`);
      }
      return { param: tf.sub(param, tf.mul(scaled, h.learningRate)), slots: out };
    }
    // PyTorch form: the buffer holds unscaled steps, so the learning rate multiplies all of it.
    const buffer = tf.add(tf.mul(previous, h.momentum), scaled);
    out.momentumBuffer = buffer;
    return { param: tf.sub(param, tf.mul(buffer, h.learningRate)), slots: out };
  },
  // The same arithmetic in one elementwise kernel, each op rounded to float32 as the tensor op.
  fused({ param, grad, slots, out, h, name }) {
    const gradAvg = slots.gradAvg;
    const buffer = slots.momentumBuffer;
    if (h.centered && (gradAvg === undefined || out.slots.gradAvg === undefined)) {
      throw new Error(`RMSprop: '${name}' has no gradient average (it was not centered)`);
    }
    if ((buffer === undefined || out.slots.momentumBuffer === undefined) && h.momentum > 0) {
      throw new Error(`RMSprop: '${name}' has no momentum buffer (its first update had momentum 0)`);
    }
    const flags = { decay: h.weightDecay !== 0, centered: h.centered, buffer: buffer !== undefined };
    const outputs = [out.param, out.slots.squareAvg!];
    if (h.centered) outputs.push(out.slots.gradAvg!);
    if (buffer !== undefined) outputs.push(out.slots.momentumBuffer!);
    rmspropKernel(flags).run(
      param.length,
      [param, grad, slots.squareAvg!, gradAvg ?? grad, buffer ?? grad],
      [h.weightDecay, h.alpha, 1 - h.alpha, h.epsilon, h.learningRate, h.momentum],
      outputs,
    );
    // A gradient average kept while not centered (never made by this optimizer) stays as it is.
    if (!h.centered && gradAvg !== undefined) out.slots.gradAvg?.set(gradAvg);
  },
});

/**
 * RMSprop: steps divided by a running root mean square of the gradient, with optional momentum,
 * centering and coupled weight decay, exactly as PyTorch's `torch.optim.RMSprop`.
 *
 * Update rule, for a gradient `g` of parameter `p`:
 * ```
 * g ← g + weightDecay · p                                     (coupled L2)
 * v ← alpha · v + (1 − alpha) · g²
 * centered:  ḡ ← ḡ + (1 − alpha) · (g − ḡ);  d = √(v − ḡ²) + epsilon
 * otherwise:                                    d = √v + epsilon        (epsilon outside the root)
 * momentum > 0:  b ← momentum · b + g / d;  p ← p − learningRate · b
 * otherwise:                                p ← p − learningRate · g / d
 * ```
 * All slots start at zero and exist only for what is on: `squareAvg` always, `momentumBuffer` only
 * if momentum > 0, `gradAvg` only if centered (4, 8 or 12 bytes per parameter). No bias
 * correction. `v − ḡ²` is clamped at 0 against float32 rounding (where PyTorch would give NaN).
 *
 * @param options.learningRate Step size, default `1e-2`.
 * @param options.alpha Smoothing constant of the averages, in [0, 1), default `0.99`.
 * @param options.epsilon Added to the root (outside it), `> 0`, default `1e-8`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
 * @param options.momentum Momentum factor in [0, 1), default `0` (no buffer is kept).
 * @param options.centered Normalize by the estimated variance `v − ḡ²` instead of `v`, default `false`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Sources: Hinton, Srivastava, Swersky, "Neural Networks for Machine Learning", lecture 6e (2012);
 * the centered variant from Graves, "Generating Sequences With Recurrent Neural Networks",
 * arXiv:1308.0850, 2013.
 *
 * Differences from `tf.train.rmsprop(learningRate, decay = 0.9, momentum = 0, epsilon, centered)`:
 * - tfjs puts epsilon (the backend's `1e-7` by default) **inside** the root, `g / √(v + ε)`;
 *   here it is outside, `g / (√v + ε)`. They differ when `v` is comparable to ε (tiny gradients).
 * - tfjs folds the learning rate into the momentum buffer (`b ← μb + lr·g/√(v+ε)`, `p ← p − b`,
 *   the TensorFlow form); here `p ← p − lr·b`. Identical for a constant learning rate; with a
 *   schedule, a change of learning rate here rescales the whole buffer at once.
 * - tfjs's centered form computes `√(v − (ḡ² + ε))`, *subtracting* epsilon (TensorFlow adds it,
 *   and the tfjs test comment says `+`): with a larger epsilon its steps grow, or become NaN when
 *   `ε > v − ḡ²`. Here it is `√(v − ḡ²) + ε`.
 * - Defaults differ: `alpha` 0.99 here (PyTorch) against tfjs's `decay` 0.9; tfjs has no default
 *   learning rate and no weight decay.
 *
 * @example
 * ```ts
 * import { rmsprop } from '@optimkit/adaptive';
 * const optimizer = rmsprop({ learningRate: 1e-3, momentum: 0.9, centered: true });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function rmsprop(options: RMSpropOptions = {}): RMSprop {
  return new RMSprop(options);
}
