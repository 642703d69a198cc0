import {
  checkClosedUnitInterval,
  checkNonNegative,
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
  learningRate: 1e-3,
  momentum: 0,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
};

/** Hyperparameters of {@link sgd}. */
export type SGDDefaults = typeof defaults;
/** Options of {@link sgd}: each numeric one a number or a schedule, plus `paramGroups`. */
export type SGDOptions = OptimizerOptions<SGDDefaults>;
/** An SGD optimizer instance. */
export type SGD = OptimkitOptimizer<SGDDefaults>;

// Inputs param, grad, buffer; scalars weightDecay, learningRate, momentum, 1 − dampening.
const sgdKernel = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean; buffer: boolean; first: boolean; nesterov: boolean }) => {
    const param = e.input(0);
    const grad = e.input(1);
    const weightDecay = e.scalar(0);
    const learningRate = e.scalar(1);
    const momentum = e.scalar(2);
    const g = flags.decay ? e.add(grad, e.mul(param, weightDecay)) : grad;
    if (!flags.buffer) return [e.sub(param, e.mul(g, learningRate))];
    const buffer = flags.first ? g : e.add(e.mul(e.input(2), momentum), e.mul(g, e.scalar(3)));
    const direction = flags.nesterov ? e.add(g, e.mul(buffer, momentum)) : buffer;
    return [e.sub(param, e.mul(direction, learningRate)), buffer];
  },
  { inputs: 3, scalars: 4 },
);

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
  slots: (_shape, h): SlotSpec => (h.momentum !== 0 ? { momentumBuffer: 0 } : {}),
  update({ param, grad, slots, h, step, name }) {
    let g = h.weightDecay !== 0 ? tf.add(grad, tf.mul(param, h.weightDecay)) : grad;
    const previous = slots.momentumBuffer;
    if (h.momentum === 0 && previous === undefined)
      return { param: tf.sub(param, tf.mul(g, h.learningRate)) };
    if (previous === undefined) {
      throw new Error(`SGD: '${name}' has no momentum buffer (its first update had momentum 0)`);
    }
    // PyTorch starts the buffer at the first gradient, undamped.
    const buffer = step === 1 ? g : tf.add(tf.mul(previous, h.momentum), tf.mul(g, 1 - h.dampening));
    g = h.nesterov ? tf.add(g, tf.mul(buffer, h.momentum)) : buffer;
    return { param: tf.sub(param, tf.mul(g, h.learningRate)), slots: { momentumBuffer: buffer } };
  },
  // The same arithmetic in one elementwise kernel, each op rounded to float32 as the tensor op.
  fused({ param, grad, slots, out, h, step, name }) {
    const previous = slots.momentumBuffer;
    const buffer = out.slots.momentumBuffer;
    const decay = h.weightDecay !== 0;
    const scalars = [h.weightDecay, h.learningRate, h.momentum, 1 - h.dampening];
    if (previous === undefined || buffer === undefined) {
      if (h.momentum !== 0) {
        throw new Error(`SGD: '${name}' has no momentum buffer (its first update had momentum 0)`);
      }
      const flags = { decay, buffer: false, first: false, nesterov: false };
      sgdKernel(flags).run(param.length, [param, grad, grad], scalars, [out.param]);
      return;
    }
    const flags = { decay, buffer: true, first: step === 1, nesterov: h.nesterov };
    sgdKernel(flags).run(param.length, [param, grad, previous], scalars, [out.param, buffer]);
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
