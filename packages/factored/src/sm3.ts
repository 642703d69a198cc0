import {
  checkRequiredLearningRate,
  checkUnitInterval,
  defineOptimizer,
  type Hyperparameter,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { ema, factoredSlots, isFactored } from './factored.js';

const defaults = {
  /**
   * Step size (Optax's `learning_rate`): required, there is no default.
   *
   * @defaultValue `null`
   */
  learningRate: null as number | null,
  /**
   * Decay of the momentum of the preconditioned gradients (Optax's `momentum`, `b1` of
   * `scale_by_sm3`), in [0, 1); 0 steps with the preconditioned gradient itself.
   *
   * @defaultValue `0.9`
   */
  momentum: 0.9,
};

/** Optax's `scale_by_sm3` keeps the root finite with this `eps` (not an option of `optax.sm3`). */
const EPSILON = 1e-8;

type SM3Slot = 'rowAccumulator' | 'colAccumulator' | 'accumulator' | 'momentumBuffer';
// Typed with every slot name, so that the slot names are inferred from \`slots\`, not from this list.
const NON_NEGATIVE: readonly SM3Slot[] = ['rowAccumulator', 'colAccumulator', 'accumulator'];

/** Hyperparameters of {@link sm3}. */
export type SM3Defaults = typeof defaults;
/**
 * Options of {@link sm3}: each numeric one a number or a schedule, plus `paramGroups`. The learning
 * rate is required.
 */
export type SM3Options = OptimizerOptions<SM3Defaults> & { learningRate: Hyperparameter };
/** An SM3 optimizer instance. */
export type SM3 = OptimkitOptimizer<SM3Defaults>;

/** The SM3 optimizer class (serialization name `OptimkitSM3`). */
export const SM3 = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitSM3',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkRequiredLearningRate('sm3', h.learningRate, '0.1');
    checkUnitInterval('momentum', h.momentum);
  },
  slots: (shape): SlotSpec<SM3Slot> =>
    isFactored(shape)
      ? { ...factoredSlots('rowAccumulator', 'colAccumulator'), momentumBuffer: 0 }
      : { accumulator: 0, momentumBuffer: 0 },
  nonNegativeSlots: NON_NEGATIVE,
  variant: (_h, _step, shape) => ({ factored: isFactored(shape) }),
  scalars: (h) => ({ oneMinusMomentum: 1 - h.momentum }),
  rule({ param, grad, slots, s, op, v }) {
    // Optax's coefficients are (1, 1) for its b2 = 1: the sum of squares, bounded by the covers.
    const past = v.factored ? op.min(slots.rowAccumulator, slots.colAccumulator) : slots.accumulator;
    const accumulator = op.add(op.square(grad), past);
    const inverseRoot = op.select(op.greater(accumulator, 0), op.rsqrt(op.add(accumulator, EPSILON)), 0);
    const preconditioned = op.mul(grad, inverseRoot);
    // tree_update_moment: (1 − decay)·g + decay·m.
    const m = ema(op, preconditioned, slots.momentumBuffer, s.oneMinusMomentum, s.momentum);
    const accumulators = v.factored
      ? { rowAccumulator: op.rowMax(accumulator), colAccumulator: op.colMax(accumulator) }
      : { accumulator };
    return {
      param: op.sub(param, op.mul(m, s.learningRate)),
      slots: { ...accumulators, momentumBuffer: m },
    };
  },
});

/**
 * SM3, square-root of minima of sums of maxima: Adagrad's per-element step sizes, but with the
 * sums of squared gradients of a matrix kept as one accumulator per row and one per column
 * (memory `rows + cols` instead of `rows × cols`), each an upper bound of its elements' sums.
 * Like Adafactor and CAME it saves the second-moment memory of large matrices; unlike them it
 * keeps Adagrad's accumulated (not decayed) statistics and its convergence guarantees.
 *
 * Update rule (Optax's `optax.sm3` = `scale_by_sm3(b1 = momentum, b2 = 1, eps = 1e-8)` then
 * `−learningRate`), for a gradient `g` of a matrix `p` with row accumulators `r` and column
 * accumulators `c` (all starting at 0):
 * ```
 * A ← g² + min(rᵢ, cⱼ)                    (element (i, j); a vector or scalar keeps A itself: A ← g² + A)
 * u ← g / √(A + 1e-8)  where A > 0, else 0
 * m ← (1 − momentum) · u + momentum · m
 * p ← p − learningRate · m
 * rᵢ ← maxⱼ Aᵢⱼ,  cⱼ ← maxᵢ Aᵢⱼ
 * ```
 * Departures, each where the rule vocabulary's layouts (over the last two dimensions) or a
 * reference's own gap decide: a variable of rank ≥ 3 is treated as a batch of matrices over its
 * last two dimensions (a row and a column accumulator per matrix, `batch × (rows + cols)` numbers),
 * where Optax keeps one accumulator per dimension (`d₁ + … + dₖ` numbers); the result is still an
 * SM3 cover (each element's sum is bounded by its row's and its column's), at more memory.
 * A scalar is kept as a vector of one (Optax's `scale_by_sm3` fails on rank 0; google-research's
 * `SM3Optimizer` treats scalars and vectors alike, as here). google-research's optimizer has no
 * epsilon and no default momentum.
 *
 * Options (each a number or a schedule, overridable per param group): `learningRate` (required),
 * `momentum` 0.9 (Optax's defaults).
 *
 * Paper: Rohan Anil, Vineet Gupta, Tomer Koren, Yoram Singer, "Memory-Efficient Adaptive
 * Optimization", NeurIPS 2019, arXiv:1901.11150 (SM3-II).
 *
 * @example
 * ```ts
 * import { sm3 } from '@optimkit/factored';
 * const optimizer = sm3({ learningRate: 0.1, momentum: 0.9 });
 * model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
 * ```
 */
export function sm3(options: SM3Options): SM3 {
  return new SM3(options);
}
