import {
  checkNonNegative,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
  type Value,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Step size: every element moves by exactly this much (plus weight decay) each step.
   *
   * @defaultValue `1e-2`
   */
  learningRate: 1e-2,
  /**
   * Decay of the momentum `m` whose sign is the step, in [0, 1); 0 is signSGD (no buffer is kept).
   *
   * @defaultValue `0.9`
   */
  momentum: 0.9,
  /**
   * Weight decay: with `decoupledWeightDecay` false an L2 penalty added to the gradient before the
   * momentum (MXNet's `wd`), else a shrinking of the parameter by `1 − learningRate · weightDecay`
   * (MXNet's `wd_lh`).
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Apply `weightDecay` to the parameter directly (decoupled, as AdamW) instead of through the
   * gradient.
   *
   * @defaultValue `false`
   */
  decoupledWeightDecay: false,
};

/** Hyperparameters of {@link signum}. */
export type SignumDefaults = typeof defaults;
/** Options of {@link signum}: each numeric one a number or a schedule, plus `paramGroups`. */
export type SignumOptions = OptimizerOptions<SignumDefaults>;
/** A Signum optimizer instance. */
export type Signum = OptimkitOptimizer<SignumDefaults>;

/** The Signum optimizer class (serialization name `OptimkitSignum`). */
export const Signum = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitSignum',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('momentum', h.momentum);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: (_shape, h): SlotSpec<'momentumBuffer'> => (h.momentum !== 0 ? { momentumBuffer: 0 } : {}),
  conditionalSlots: ['momentumBuffer'],
  variant: (h) => ({ decay: h.weightDecay !== 0, momentum: h.momentum !== 0 }),
  scalars: (h) => ({
    oneMinusMomentum: 1 - h.momentum,
    dampedDecay: (1 - h.momentum) * h.weightDecay,
    shrink: 1 - h.learningRate * h.weightDecay,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const coupled = v.decay && !v.decoupledWeightDecay;
    let m: Value;
    // MXNet keeps no state while momentum is 0 (signsgd_update): a buffer made earlier keeps its value.
    if (v.momentum) {
      // MXNet's SignumKernel: β·m + (1 − β)·wd·p + (1 − β)·g, term by term.
      const kept = op.mul(slots.momentumBuffer, s.momentum);
      m = op.add(
        coupled ? op.add(kept, op.mul(param, s.dampedDecay)) : kept,
        op.mul(grad, s.oneMinusMomentum),
      );
    } else {
      m = coupled ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    }
    const kept = v.decay && v.decoupledWeightDecay ? op.mul(param, s.shrink) : param;
    const next = op.sub(kept, op.mul(op.sign(m), s.learningRate));
    return v.momentum ? { param: next, slots: { momentumBuffer: m } } : { param: next };
  },
});

/**
 * Signum, sign momentum: each element moves by `learningRate` against the sign of an exponential
 * moving average of its gradients. With `momentum: 0` it is signSGD. Only signs are used, so the
 * scale of the gradients does not matter, and in distributed training one bit per element can be
 * exchanged (signSGD with majority vote).
 *
 * Update rule (the authors' reference implementation, MXNet's `Signum` optimizer and its
 * `signum_update` kernel, contributed by the paper's authors), for a gradient `g` of parameter `p`:
 * ```
 * g ← g + weightDecay · p                       (decoupledWeightDecay false)
 * m ← momentum · m + (1 − momentum) · g         (m starts at 0; with momentum 0, m = g)
 * p ← p · (1 − learningRate · weightDecay)      (decoupledWeightDecay true)
 * p ← p − learningRate · sign(m)
 * ```
 * `sign(0) = 0`. MXNet names the two decays `wd` (coupled) and `wd_lh` (decoupled) and allows
 * both at once; here one `weightDecay` is coupled or decoupled. MXNet's momentum-0 path
 * (`signsgd_update`) applies `wd` decoupled; here momentum 0 keeps the same meaning of
 * `decoupledWeightDecay` as every other momentum. The paper's Algorithm 3 has no weight decay.
 *
 * Options (each numeric one a number or a schedule, overridable per param group): `learningRate`
 * 1e-2, `momentum` 0.9, `weightDecay` 0, `decoupledWeightDecay` false (MXNet's defaults:
 * `learning_rate=0.01, momentum=0.9, wd=0, wd_lh=0`).
 *
 * Paper: Jeremy Bernstein, Yu-Xiang Wang, Kamyar Azizzadenesheli, Anima Anandkumar, "signSGD:
 * Compressed Optimisation for Non-Convex Problems", ICML 2018, arXiv:1802.04434.
 *
 * @example
 * ```ts
 * import { signum } from '@optimkit/sgd';
 * const optimizer = signum({ learningRate: 1e-3, momentum: 0.9, weightDecay: 1e-4, decoupledWeightDecay: true });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function signum(options: SignumOptions = {}): Signum {
  return new Signum(options);
}
