import {
  checkNonNegative,
  checkPositive,
  defineOptimizer,
  elementwiseVariants,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  learningRate: 1e-2,
  lrDecay: 0,
  weightDecay: 0,
  initialAccumulatorValue: 0,
  epsilon: 1e-10,
};

/** Hyperparameters of {@link adagrad}. */
export type AdagradDefaults = typeof defaults;
/** Options of {@link adagrad}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdagradOptions = OptimizerOptions<AdagradDefaults>;
/** An Adagrad optimizer instance. */
export type Adagrad = OptimkitOptimizer<AdagradDefaults>;

// Inputs param, grad, sum; scalars weightDecay, epsilon, the decayed learning rate.
const adagradKernel = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean }) => {
    const param = e.input(0);
    const g = flags.decay ? e.add(e.input(1), e.mul(param, e.scalar(0))) : e.input(1);
    const sum = e.add(e.input(2), e.mul(g, g));
    const update = e.div(g, e.add(e.sqrt(sum), e.scalar(1)));
    return [e.sub(param, e.mul(update, e.scalar(2))), sum];
  },
  { inputs: 3, scalars: 3 },
);

/** The Adagrad optimizer class (serialization name `OptimkitAdagrad`). */
export const Adagrad = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdagrad',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkNonNegative('lrDecay', h.lrDecay);
    checkNonNegative('weightDecay', h.weightDecay);
    checkNonNegative('initialAccumulatorValue', h.initialAccumulatorValue);
    checkPositive('epsilon', h.epsilon);
  },
  slots: (_shape, h) => ({ sum: h.initialAccumulatorValue }),
  update({ param, grad, slots, h, step }) {
    const g = h.weightDecay !== 0 ? tf.add(grad, tf.mul(param, h.weightDecay)) : grad;
    const sum = tf.add(slots.sum!, tf.mul(g, g));
    // In float64 from the variable's own step, as PyTorch does with its per-parameter `step`.
    const clr = h.learningRate / (1 + (step - 1) * h.lrDecay);
    const update = tf.div(g, tf.add(tf.sqrt(sum), h.epsilon));
    return { param: tf.sub(param, tf.mul(update, clr)), slots: { sum } };
  },
  // The same arithmetic in one elementwise kernel, each op rounded to float32 as the tensor op.
  fused({ param, grad, slots, out, h, step }) {
    const clr = h.learningRate / (1 + (step - 1) * h.lrDecay);
    adagradKernel({ decay: h.weightDecay !== 0 }).run(
      param.length,
      [param, grad, slots.sum!],
      [h.weightDecay, h.epsilon, clr],
      [out.param, out.slots.sum!],
    );
  },
});

/**
 * Adagrad: per-element step sizes that shrink with the sum of all past squared gradients, exactly
 * as PyTorch's `torch.optim.Adagrad` (dense path).
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update (t = 1 first):
 * ```
 * g   ← g + weightDecay · p                              (coupled L2)
 * s   ← s + g²                                           (s starts at initialAccumulatorValue)
 * clr = learningRate / (1 + (t − 1) · lrDecay)
 * p   ← p − clr · g / (√s + epsilon)                      (epsilon outside the root)
 * ```
 * One slot per variable: `sum` (4 bytes per parameter). `t` counts the updates of this variable
 * (a variable skipped with a `null` gradient does not advance its decay); `clr` is computed in
 * float64.
 *
 * @param options.learningRate Step size, default `1e-2`.
 * @param options.lrDecay Learning-rate decay per update of the variable, `≥ 0`, default `0`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
 * @param options.initialAccumulatorValue Starting value of the sum of squares, `≥ 0`, default `0`.
 * @param options.epsilon Added to `√s` (outside the root), `> 0`, default `1e-10`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
 * Optimization", JMLR 12, 2011.
 *
 * Differences from `tf.train.adagrad(learningRate, initialAccumulatorValue = 0.1)`: tfjs starts the
 * accumulator at `0.1` (here `0`, as PyTorch) and divides by `√(s + ε)` with the backend's
 * `ε = 1e-7` inside the root (here `√s + 1e-10`); it has no `lrDecay` and no weight decay. With
 * `initialAccumulatorValue: 0.1` the two agree to float32 precision unless gradients are tiny
 * (`g² ≲ 1e-6`). With the defaults, the first step here is `learningRate · sign(g)` (for `|g| ≫ ε`),
 * tfjs's `learningRate · g / √(g² + 0.1)`, smaller for small gradients.
 *
 * @example
 * ```ts
 * import { adagrad } from '@optimkit/adaptive';
 * const optimizer = adagrad({ learningRate: 0.05, lrDecay: 1e-4, weightDecay: 1e-4 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function adagrad(options: AdagradOptions = {}): Adagrad {
  return new Adagrad(options);
}
