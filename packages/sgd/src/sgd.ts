import {
  checkClosedUnitInterval,
  checkNonNegative,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Step size, default `1e-3`.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Momentum factor in [0, 1), default `0` (no buffer is kept).
   *
   * @defaultValue `0`
   */
  momentum: 0,
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
   * Coupled L2 penalty added to the gradient, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link sgd}. */
export type SGDDefaults = typeof defaults;
/** Options of {@link sgd}: each numeric one a number or a schedule, plus `paramGroups`. */
export type SGDOptions = OptimizerOptions<SGDDefaults>;
/** An SGD optimizer instance. */
export type SGD = OptimkitOptimizer<SGDDefaults>;

/** The SGD optimizer class (serialization name `OptimkitSGD`). */
export const SGD = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitSGD',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkNonNegative('momentum', h.momentum);
    checkUnitInterval('momentum', h.momentum);
    checkClosedUnitInterval('dampening', h.dampening);
    checkNonNegative('weightDecay', h.weightDecay);
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
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    // PyTorch skips the buffer while momentum is 0 (a schedule may reach 0 later: the buffer, not
    // written, keeps its value).
    if (!v.momentum) return { param: op.sub(param, op.mul(g, s.learningRate)) };
    // PyTorch starts the buffer at the first gradient, undamped.
    const buffer = v.first ? g : op.add(op.mul(slots.momentumBuffer, s.momentum), op.mul(g, s.undamped));
    const direction = v.nesterov ? op.add(g, op.mul(buffer, s.momentum)) : buffer;
    return { param: op.sub(param, op.mul(direction, s.learningRate)), slots: { momentumBuffer: buffer } };
  },
});

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and coupled
 * (L2) weight decay, exactly as PyTorch's `torch.optim.SGD`.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update:
 * ```
 * g ← g + weightDecay · p
 * b ← g                                   if t = 1
 * b ← momentum · b + (1 − dampening) · g  otherwise        (only when momentum ≠ 0)
 * g ← nesterov ? g + momentum · b : b
 * p ← p − learningRate · g
 * ```
 * The momentum buffer starts at the first gradient, undamped (PyTorch), not at zeros. Unlike the
 * Sutskever form (`b ← μb + lr·g`, used by some frameworks), the learning rate multiplies the
 * whole buffer, so a learning-rate schedule rescales past momentum at once. With dampening 0 this
 * equals `tf.train.momentum(learningRate, momentum, nesterov)`.
 *
 * @param options.learningRate Step size, default `1e-3`.
 * @param options.momentum Momentum factor in [0, 1), default `0` (no buffer is kept).
 * @param options.dampening Dampening of the momentum in [0, 1], default `0`.
 * @param options.nesterov Nesterov momentum, default `false`; needs momentum > 0 and dampening 0.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, default `0`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and momentum in
 * deep learning", ICML 2013 (Nesterov form as in PyTorch).
 *
 * @example
 * ```ts
 * import { sgd } from '@optimkit/sgd';
 * const optimizer = sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function sgd(options: SGDOptions = {}): SGD {
  return new SGD(options);
}
