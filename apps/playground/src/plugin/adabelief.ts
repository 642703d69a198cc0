/**
 * A third-party optimizer plugin, written against `@optimkit/core`'s public API only: it is what an
 * author outside optimkit writes to get the whole contract (param groups, schedules, state format,
 * tfjs-layers round trips, conformance suite) for free. Its update is a `rule`, written once against
 * core's rule vocabulary: core derives from it both the composite tfjs-ops path and the fused
 * kernels (one kernel per variable on cpu and wasm), as for the first-party optimizers.
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
  slots: (): SlotSpec<'m' | 's'> => ({ m: 0, s: 0 }),
  epsilons: ['epsilon'],
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  // Each is one float64 expression, rounded to float32 once where the rule uses it.
  scalars: (h, step) => ({
    decay: 1 - h.learningRate * h.weightDecay,
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
    sqrtBias2: Math.sqrt(1 - h.beta2 ** step),
    stepSize: h.learningRate / (1 - h.beta1 ** step),
  }),
  rule({ param, grad, slots, s, op, v }) {
    const decayed = v.decay ? op.mul(param, s.decay) : param;
    const m = op.add(op.mul(slots.m, s.beta1), op.mul(grad, s.oneMinusBeta1));
    const residual = op.sub(grad, m);
    // The reference adds ε to the stored s in place, so it accumulates in the state.
    const belief = op.add(
      op.add(op.mul(slots.s, s.beta2), op.mul(op.square(residual), s.oneMinusBeta2)),
      s.epsilon,
    );
    const denom = op.add(op.div(op.sqrt(belief), s.sqrtBias2), s.epsilon);
    const next = op.sub(decayed, op.mul(op.div(m, denom), s.stepSize));
    return { param: next, slots: { m, s: belief } };
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
