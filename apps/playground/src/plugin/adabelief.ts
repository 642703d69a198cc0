/**
 * A third-party optimizer plugin, written against `@optimkit/core`'s public API only: it is what an
 * author outside optimkit writes to get the whole contract (param groups, schedules, state format,
 * tfjs-layers round trips, conformance suite) for free.
 */
import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

const defaults = { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-16, weightDecay: 0 };

export type AdaBeliefDefaults = typeof defaults;
export type AdaBeliefOptions = OptimizerOptions<AdaBeliefDefaults>;
export type AdaBelief = OptimkitOptimizer<AdaBeliefDefaults>;

export const AdaBelief = /* @__PURE__ */ defineOptimizer({
  className: 'PlaygroundAdaBelief',
  packageName: '@optimkit/playground',
  packageVersion: '0.0.0',
  defaults,
  validate(h) {
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: (): SlotSpec => ({ m: 0, s: 0 }),
  update({ param, grad, slots, h, step }) {
    const decayed = h.weightDecay !== 0 ? tf.mul(param, 1 - h.learningRate * h.weightDecay) : param;
    const m = tf.add(tf.mul(slots.m!, h.beta1), tf.mul(grad, 1 - h.beta1));
    const residual = tf.sub(grad, m);
    // The reference adds ε to the stored s in place, so it accumulates in the state.
    const s = tf.add(tf.add(tf.mul(slots.s!, h.beta2), tf.mul(tf.square(residual), 1 - h.beta2)), h.epsilon);
    const bias1 = 1 - h.beta1 ** step;
    const bias2 = 1 - h.beta2 ** step;
    const denom = tf.add(tf.div(tf.sqrt(s), Math.sqrt(bias2)), h.epsilon);
    const param2 = tf.sub(decayed, tf.mul(tf.div(m, denom), h.learningRate / bias1));
    return { param: param2, slots: { m, s } };
  },
});

/**
 * AdaBelief (Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
 * Gradients", NeurIPS 2020), as adabelief-pytorch 0.2 with `rectify=False, weight_decouple=True`:
 * ```
 * p ← p · (1 − lr · weightDecay)
 * m ← β1·m + (1 − β1)·g
 * s ← β2·s + (1 − β2)·(g − m)² + ε
 * p ← p − lr/(1 − β1^t) · m / (√s / √(1 − β2^t) + ε)
 * ```
 * Options: learningRate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-16, weightDecay 0.
 *
 * @example
 * ```ts
 * model.compile({ optimizer: adabelief({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy' });
 * ```
 */
export function adabelief(options: AdaBeliefOptions = {}): AdaBelief {
  return new AdaBelief(options);
}
