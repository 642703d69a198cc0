import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * The initial step size of every element (PyTorch's `lr`): read once, on a variable's first
   * update, after which each element's step size evolves on its own.
   *
   * @defaultValue `1e-2`
   */
  learningRate: 1e-2,
  /**
   * Factor applied to an element's step size when its gradient changes sign (PyTorch's
   * `etas[0]`), in (0, 1).
   *
   * @defaultValue `0.5`
   */
  etaMinus: 0.5,
  /**
   * Factor applied to an element's step size when its gradient keeps its sign (PyTorch's
   * `etas[1]`), > 1.
   *
   * @defaultValue `1.2`
   */
  etaPlus: 1.2,
  /**
   * The least step size (PyTorch's `step_sizes[0]`), ≥ 0.
   *
   * @defaultValue `1e-6`
   */
  stepSizeMin: 1e-6,
  /**
   * The largest step size (PyTorch's `step_sizes[1]`), ≥ `stepSizeMin`.
   *
   * @defaultValue `50`
   */
  stepSizeMax: 50,
};

// Typed with every slot name, so that the slot names are inferred from \`slots\`, not from this list.
const NON_NEGATIVE: readonly ('prev' | 'stepSize')[] = ['stepSize'];

/** Hyperparameters of {@link rprop}. */
export type RpropDefaults = typeof defaults;
/** Options of {@link rprop}: each numeric one a number or a schedule, plus `paramGroups`. */
export type RpropOptions = OptimizerOptions<RpropDefaults>;
/** An Rprop optimizer instance. */
export type Rprop = OptimkitOptimizer<RpropDefaults>;

/** The Rprop optimizer class (serialization name `OptimkitRprop`). */
export const Rprop = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitRprop',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    if (!(h.etaMinus > 0 && h.etaMinus < 1 && h.etaPlus > 1 && Number.isFinite(h.etaPlus))) {
      throw new RangeError(`Invalid eta values: ${h.etaMinus}, ${h.etaPlus}`);
    }
    checkNonNegative('stepSizeMin', h.stepSizeMin);
    if (!(h.stepSizeMax >= h.stepSizeMin)) {
      throw new RangeError(`Invalid step sizes: ${h.stepSizeMin}, ${h.stepSizeMax}`);
    }
  },
  slots: { prev: 0, stepSize: 0 },
  nonNegativeSlots: NON_NEGATIVE,
  variant: (_h, step) => ({ first: step === 1 }),
  rule({ param, grad, slots, s, op, v }) {
    // PyTorch fills the step sizes with lr when it creates the state, then updates them at once.
    const previous = v.first ? s.learningRate : slots.stepSize;
    const agreement = op.mul(grad, slots.prev);
    const changed = op.less(agreement, 0);
    const factor = op.select(op.greater(agreement, 0), s.etaPlus, op.select(changed, s.etaMinus, 1));
    const stepSize = op.min(op.max(op.mul(previous, factor), s.stepSizeMin), s.stepSizeMax);
    // After a sign change the gradient counts as 0: no step now, and no comparison next time.
    const g = op.select(changed, 0, grad);
    return { param: op.sub(param, op.mul(op.sign(g), stepSize)), slots: { prev: g, stepSize } };
  },
});

/**
 * Rprop, resilient backpropagation: each element moves by its own step size in the direction
 * opposite to its gradient's sign, and the step size grows while the sign holds and shrinks when
 * it flips. Only the gradients' signs are used, so the scale of the loss does not matter. Meant
 * for full-batch training (with mini-batches the signs are noisy: RMSProp was introduced as its
 * mini-batch version).
 *
 * Update rule (PyTorch's `torch.optim.Rprop`, `_single_tensor_rprop`, identical in torch 1.13
 * and 2.x), for a gradient `g` of parameter `p`, with the previous (possibly zeroed) gradient
 * `prev` and per-element step sizes `η` (both starting at the first update, `prev = 0` and
 * `η = learningRate`):
 * ```
 * f ← etaPlus if g · prev > 0,  etaMinus if g · prev < 0,  1 otherwise
 * η ← clamp(η · f, stepSizeMin, stepSizeMax)
 * g ← 0 where g · prev < 0
 * p ← p − sign(g) · η
 * prev ← g
 * ```
 * This is the variant without weight backtracking (Rprop⁻ with PyTorch's zeroing of the gradient
 * after a sign change, sometimes called iRprop⁻). As in PyTorch, `learningRate` is read only when
 * a variable's state is created; a schedule on it has no effect after the first update.
 *
 * Options (each a number or a schedule, overridable per param group): `learningRate` 1e-2,
 * `etaMinus` 0.5, `etaPlus` 1.2 (PyTorch's `etas`), `stepSizeMin` 1e-6, `stepSizeMax` 50
 * (PyTorch's `step_sizes`).
 *
 * Paper: Martin Riedmiller, Heinrich Braun, "A direct adaptive method for faster backpropagation
 * learning: the RPROP algorithm", IEEE ICNN 1993.
 *
 * @example
 * ```ts
 * import { rprop } from '@optimkit/adaptive';
 * const optimizer = rprop({ learningRate: 0.01, etaMinus: 0.5, etaPlus: 1.2 });
 * for (let epoch = 0; epoch < 100; epoch++) optimizer.minimize(() => fullBatchLoss());
 * ```
 */
export function rprop(options: RpropOptions = {}): Rprop {
  return new Rprop(options);
}
