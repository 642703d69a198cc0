import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
  type Value,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Step size, default `1e-2`.
   *
   * @defaultValue `1e-2`
   */
  learningRate: 1e-2,
  /**
   * Smoothing constant of the averages, in [0, 1), default `0.99`.
   *
   * @defaultValue `0.99`
   */
  alpha: 0.99,
  /**
   * Added to the root (outside it), `> 0`, default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Momentum factor in [0, 1), default `0` (no buffer is kept).
   *
   * @defaultValue `0`
   */
  momentum: 0,
  /**
   * Normalize by the estimated variance `v − ḡ²` instead of `v`, default `false`.
   *
   * @defaultValue `false`
   */
  centered: false,
};

/** Hyperparameters of {@link rmsprop}. */
export type RMSpropDefaults = typeof defaults;
/** Options of {@link rmsprop}: each numeric one a number or a schedule, plus `paramGroups`. */
export type RMSpropOptions = OptimizerOptions<RMSpropDefaults>;
/** An RMSprop optimizer instance. */
export type RMSprop = OptimkitOptimizer<RMSpropDefaults>;

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
  slots: (_shape, h): SlotSpec<'squareAvg' | 'momentumBuffer' | 'gradAvg'> => ({
    squareAvg: 0,
    ...(h.momentum > 0 ? { momentumBuffer: 0 } : {}),
    ...(h.centered ? { gradAvg: 0 } : {}),
  }),
  conditionalSlots: ['momentumBuffer'],
  nonNegativeSlots: ['squareAvg'],
  epsilons: ['epsilon'],
  variant: (h) => ({ decay: h.weightDecay !== 0, momentum: h.momentum > 0 }),
  scalars: (h) => ({ oneMinusAlpha: 1 - h.alpha }),
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const squareAvg = op.add(op.mul(slots.squareAvg, s.alpha), op.mul(op.mul(g, g), s.oneMinusAlpha));
    // A gradient average kept while not centered (never made by this optimizer) is left as it is.
    let gradAvg: Value | undefined;
    let variance = squareAvg;
    if (v.centered) {
      if (!('gradAvg' in slots)) {
        throw new Error('RMSprop: a variable has no gradient average (it was not centered)');
      }
      gradAvg = op.add(slots.gradAvg, op.mul(op.sub(g, slots.gradAvg), s.oneMinusAlpha));
      // v − ḡ² ≥ 0 in exact arithmetic; clamp the float32 rounding below 0 that would give NaN.
      variance = op.max(op.sub(squareAvg, op.mul(gradAvg, gradAvg)), 0);
    }
    const scaled = op.div(g, op.add(op.sqrt(variance), s.epsilon));
    // As PyTorch, the buffer is used only while momentum > 0 (one kept after a schedule reached 0
    // keeps its value).
    if (!v.momentum) {
      return { param: op.sub(param, op.mul(scaled, s.learningRate)), slots: { squareAvg, gradAvg } };
    }
    // PyTorch form: the buffer holds unscaled steps, so the learning rate multiplies all of it.
    const momentumBuffer = op.add(op.mul(slots.momentumBuffer, s.momentum), scaled);
    return {
      param: op.sub(param, op.mul(momentumBuffer, s.learningRate)),
      slots: { squareAvg, gradAvg, momentumBuffer },
    };
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
