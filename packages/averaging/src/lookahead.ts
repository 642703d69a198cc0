import {
  checkClosedUnitInterval,
  type Defaults,
  type HyperparameterOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { type AveragingClass, type AveragingOptimizer, defineAveraging, wrapOptions } from './wrapper.js';

const defaults = {
  /**
   * k: the slow weights are synchronised every `syncPeriod`-th update of a variable, an integer
   * ≥ 1 (a constant, not a schedule).
   *
   * @defaultValue `5`
   */
  syncPeriod: 5,
  /**
   * α: the slow weights move `α·(fast − slow)` at each synchronisation, in [0, 1] (1: Lookahead is
   * the inner optimizer; 0: the weights return to the slow ones).
   *
   * @defaultValue `0.5`
   */
  slowStepSize: 0.5,
};

/** Hyperparameters of {@link lookahead} (besides those of the inner optimizer). */
export type LookaheadDefaults = typeof defaults;
/** Options of {@link lookahead}: each a number or a schedule (counts of steps: numbers only). */
export type LookaheadOptions = HyperparameterOptions<LookaheadDefaults>;

/**
 * The Lookahead class (serialization name `OptimkitLookahead`). Built from options with `inner`,
 * the className of the inner optimizer, and the inner's options; {@link lookahead} is the usual way.
 */
export const Lookahead: AveragingClass = /* @__PURE__ */ defineAveraging({
  className: 'OptimkitLookahead',
  factory: 'lookahead',
  slot: 'slowWeights',
  defaults,
  constants: ['syncPeriod'],
  validate(h) {
    if (!(Number.isInteger(h.syncPeriod) && h.syncPeriod >= 1)) {
      throw new RangeError(`Invalid syncPeriod: ${h.syncPeriod} (an integer ≥ 1)`);
    }
    checkClosedUnitInterval('slowStepSize', h.slowStepSize);
  },
  flags: (h, step) => ({ lookaheadSync: step % h.syncPeriod === 0 }),
  scalars: () => ({}),
  combine(ar, { after, copy }, s, f) {
    if (!f.lookaheadSync) return { param: after, copy };
    const slow = ar.add(copy, ar.mul(ar.sub(after, copy), s.slowStepSize));
    return { param: slow, copy: slow };
  },
});

/**
 * Lookahead (Zhang et al.): the inner optimizer moves fast weights; every k-th update the slow
 * weights take a step of α towards them and the fast weights restart from the slow ones.
 *
 * Update rule, for a variable's t-th update (t = 1 on its first), with the slow weights φ starting
 * at the variable's value before its first update:
 * ```
 * θ ← inner step of θ
 * if t mod k = 0:  φ ← φ + α·(θ − φ);  θ ← φ
 * ```
 * Options (besides the inner optimizer's, which it takes from the instance): `syncPeriod` k
 * (default 5) and `slowStepSize` α (default 0.5), the paper's values.
 *
 * The period counts **each variable's own updates** (a step in which a variable has no gradient
 * does not count for it), which is the optimizer's step count whenever every variable has a
 * gradient at every step. The paper and Optax (`optax.lookahead`, whose state counts the steps
 * since the last synchronisation) count optimizer steps; Optax has no missing gradients, so the two
 * agree on every Optax program. Unlike Optax, which returns the slow weights in a separate
 * parameter tree, this keeps them as a slot: {@link AverageSwap.useAverage} puts them into the
 * variables (evaluation), {@link AverageSwap.useTraining} swaps back. Fused on every backend
 * whenever the inner optimizer is (its rule and the synchronisation run as one kernel).
 *
 * The inner optimizer must be fresh (no step taken); it is only read (its class and options), not
 * used: dispose it or let it go.
 *
 * Paper: Michael R. Zhang, James Lucas, Geoffrey Hinton, Jimmy Ba, "Lookahead Optimizer: k steps
 * forward, 1 step back", NeurIPS 2019, arXiv:1907.08610. Code: google-deepmind/optax
 * `optax/_src/lookahead.py`; torch-optimizer `Lookahead`.
 *
 * @example
 * ```ts
 * import { adam } from '@optimkit/adam';
 * import { lookahead } from '@optimkit/averaging';
 * const optimizer = lookahead(adam({ learningRate: 1e-3 }), { syncPeriod: 5, slowStepSize: 0.5 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 5 });
 * optimizer.useAverage(); // evaluate with the slow weights
 * ```
 */
export function lookahead<D extends Defaults>(
  inner: OptimkitOptimizer<D>,
  options: LookaheadOptions = {},
): AveragingOptimizer {
  return new Lookahead(wrapOptions('lookahead', inner, options as Record<string, unknown>));
}
