import {
  checkNonNegative,
  checkPositive,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
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
   * Learning-rate decay per update of the variable, `≥ 0`, default `0`.
   *
   * @defaultValue `0`
   */
  lrDecay: 0,
  /**
   * Coupled L2 penalty added to the gradient, `≥ 0`, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Starting value of the sum of squares, `≥ 0`, default `0`.
   *
   * @defaultValue `0`
   */
  initialAccumulatorValue: 0,
  /**
   * Added to `√s` (outside the root), `> 0`, default `1e-10`.
   *
   * @defaultValue `1e-10`
   */
  epsilon: 1e-10,
};

/** Hyperparameters of {@link adagrad}. */
export type AdagradDefaults = typeof defaults;
/** Options of {@link adagrad}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdagradOptions = OptimizerOptions<AdagradDefaults>;
/** An Adagrad optimizer instance. */
export type Adagrad = OptimkitOptimizer<AdagradDefaults>;

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
  nonNegativeSlots: ['sum'],
  epsilons: ['epsilon'],
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  // In float64 from the variable's own step, as PyTorch does with its per-parameter `step`.
  scalars: (h, step) => ({ clr: h.learningRate / (1 + (step - 1) * h.lrDecay) }),
  rule({ param, grad, slots, s, op, v }) {
    const g = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const sum = op.add(slots.sum, op.mul(g, g));
    const update = op.div(g, op.add(op.sqrt(sum), s.epsilon));
    return { param: op.sub(param, op.mul(update, s.clr)), slots: { sum } };
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
