import {
  checkClosedUnitInterval,
  checkNonNegative,
  checkPositive,
  checkRequiredLearningRate,
  checkUnitInterval,
  defineOptimizer,
  type Hyperparameter,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Global step size. Required: there is no default (with the ratio, useful values are far above
   * plain SGD's, several units or more with the default trust coefficient, scaled with the batch
   * size under a warmup then polynomial or cosine decay).
   *
   * @defaultValue `null`
   */
  learningRate: null as number | null,
  /**
   * Momentum factor in [0, 1), default `0.9` (0 keeps no buffer).
   *
   * @defaultValue `0.9`
   */
  momentum: 0.9,
  /**
   * Dampening of the momentum in [0, 1], default `0`.
   *
   * @defaultValue `0`
   */
  dampening: 0,
  /**
   * Nesterov momentum, default `false`; needs momentum > 0 and dampening 0.
   *
   * @defaultValue `false`
   */
  nesterov: false,
  /**
   * Coupled L2 penalty, also in the ratio's denominator, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * The trust coefficient η of the local learning rate (> 0), default `1e-3`.
   *
   * @defaultValue `1e-3`
   */
  trustCoefficient: 1e-3,
  /**
   * Added to the ratio's denominator (> 0), default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Scale this tensor by the trust ratio, default `true`. Set `false` in a param group for biases
   * and normalization scales.
   *
   * @defaultValue `true`
   */
  trustRatio: true,
};

/** Hyperparameters of {@link lars}. */
export type LARSDefaults = typeof defaults;
/**
 * Options of {@link lars}: each numeric one a number or a schedule, plus `paramGroups`. The
 * learning rate is required.
 */
export type LARSOptions = OptimizerOptions<LARSDefaults> & { learningRate: Hyperparameter };
/** A LARS optimizer instance. */
export type LARS = OptimkitOptimizer<LARSDefaults>;

/** The LARS optimizer class (serialization name `OptimkitLARS`). */
export const LARS = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitLARS',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkRequiredLearningRate('lars', h.learningRate, '1');
    checkUnitInterval('momentum', h.momentum);
    checkClosedUnitInterval('dampening', h.dampening);
    checkNonNegative('weightDecay', h.weightDecay);
    checkPositive('trustCoefficient', h.trustCoefficient);
    checkPositive('epsilon', h.epsilon);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError(
        `Nesterov momentum requires a momentum and zero dampening (momentum: ${h.momentum}, dampening: ${h.dampening})`,
      );
    }
  },
  slots: (_shape, h): SlotSpec<'momentumBuffer'> => (h.momentum !== 0 ? { momentumBuffer: 0 } : {}),
  conditionalSlots: ['momentumBuffer'],
  variant: (h, step) => ({ decay: h.weightDecay !== 0, momentum: h.momentum !== 0, first: step === 1 }),
  scalars: (h) => ({ undamped: 1 - h.dampening }),
  epsilons: ['epsilon'],
  rule({ param, grad, slots, s, op, v }) {
    let g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    if (v.trustRatio) {
      // The ratio stays a rule value, not a JS number: downloading the norms would stall the step
      // on every variable.
      const paramNorm = op.norm(param);
      const gradNorm = op.norm(grad);
      const local = op.div(
        op.mul(paramNorm, s.trustCoefficient),
        op.add(op.add(gradNorm, op.mul(paramNorm, s.weightDecay)), s.epsilon),
      );
      // 1 unless both norms are positive.
      const ratio = op.select(op.greater(paramNorm, 0), op.select(op.greater(gradNorm, 0), local, 1), 1);
      g = op.mul(g, ratio);
    }
    // PyTorch skips the buffer entirely while momentum is 0 (a schedule may reach 0 later: the
    // buffer, not written, keeps its value).
    if (!v.momentum) return { param: op.sub(param, op.mul(g, s.learningRate)) };
    // PyTorch starts the buffer at the first (scaled) gradient, undamped.
    const buffer = v.first ? g : op.add(op.mul(slots.momentumBuffer, s.momentum), op.mul(g, s.undamped));
    const direction = v.nesterov ? op.add(g, op.mul(buffer, s.momentum)) : buffer;
    return { param: op.sub(param, op.mul(direction, s.learningRate)), slots: { momentumBuffer: buffer } };
  },
});

/**
 * LARS, layer-wise adaptive rate scaling: SGD with momentum whose step on each tensor is scaled by
 * a local learning rate proportional to the ratio of the tensor's norm to its gradient's norm, so
 * every layer moves by a similar fraction of its weights. Built for very large batches (ImageNet
 * ResNet-50 with batches of 32k).
 *
 * Update rule (paper/timm form, the trust ratio on every tensor of a group with `trustRatio`),
 * for a gradient `g` of tensor `p` on this variable's `t`-th update, `‖·‖` the L2 norm of the
 * whole tensor:
 * ```
 * r ← trustCoefficient · ‖p‖ / (‖g‖ + weightDecay · ‖p‖ + epsilon)   (r ← 1 if ‖p‖ = 0 or ‖g‖ = 0)
 * g ← r · (g + weightDecay · p)                                      (r ← 1 when trustRatio is false)
 * b ← g                                   if t = 1
 * b ← momentum · b + (1 − dampening) · g  otherwise                  (only when momentum ≠ 0)
 * g ← nesterov ? g + momentum · b : b
 * p ← p − learningRate · g
 * ```
 * The momentum part is exactly PyTorch's SGD (buffer started at the first scaled gradient; the
 * learning rate multiplies the whole buffer). With `trustRatio: false` a group is plain SGD with
 * coupled weight decay. Unlike timm (which adapts only groups with weight decay unless
 * `always_adapt`), the ratio applies to every tensor whose group has `trustRatio: true`; unlike
 * Optax, the denominator is `‖g‖ + wd·‖p‖`, not `‖g + wd·p‖`, and the learning rate is outside the
 * buffer.
 *
 * @param options.learningRate Global step size. Required: there is no default (with the ratio,
 *   useful values are far above plain SGD's, several units or more with the default trust
 *   coefficient, scaled with the batch size under a warmup then polynomial or cosine decay).
 * @param options.momentum Momentum factor in [0, 1), default `0.9` (0 keeps no buffer).
 * @param options.dampening Dampening of the momentum in [0, 1], default `0`.
 * @param options.nesterov Nesterov momentum, default `false`; needs momentum > 0 and dampening 0.
 * @param options.weightDecay Coupled L2 penalty, also in the ratio's denominator, default `0`.
 * @param options.trustCoefficient The trust coefficient η of the local learning rate (> 0),
 *   default `1e-3`.
 * @param options.epsilon Added to the ratio's denominator (> 0), default `1e-8`.
 * @param options.trustRatio Scale this tensor by the trust ratio, default `true`. Set `false` in a
 *   param group for biases and normalization scales.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Yang You, Igor Gitman, Boris Ginsburg, "Large Batch Training of Convolutional Networks",
 * 2017, arXiv:1708.03888.
 *
 * Tuning: the trust ratio makes each tensor move by about `learningRate · trustCoefficient` of its
 * norm per step, whatever the gradient's scale, so the learning rate is much larger than plain
 * SGD's. Use a warmup (a few epochs) and exclude biases and norm scales from both weight decay and
 * the ratio, as below. A tensor whose norm is 0 (zero-initialised) gets ratio 1 until it moves.
 *
 * @example
 * ```ts
 * import { lars } from '@optimkit/layerwise';
 * const optimizer = lars({
 *   learningRate: (step) => 6.4 * Math.min(1, (step + 1) / 2000),
 *   momentum: 0.9,
 *   weightDecay: 1e-4,
 *   paramGroups: [{ match: (v) => v.shape.length <= 1, weightDecay: 0, trustRatio: false }],
 * });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function lars(options: LARSOptions): LARS {
  return new LARS(options);
}
