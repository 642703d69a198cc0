import {
  checkNonNegative,
  checkPositive,
  checkRequiredLearningRate,
  checkUnitInterval,
  defineOptimizer,
  type Hyperparameter,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Step size (Optax's `learning_rate`): required, there is no default.
   *
   * @defaultValue `null`
   */
  learningRate: null as number | null,
  /**
   * Decay of the first moment `m` (Optax's `b1`), in [0, 1). The new term is not scaled by
   * `1 − beta1` (no gradient averaging).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the per-tensor second moment `v`, the mean of the squared gradient norms (Optax's
   * `b2`), in [0, 1).
   *
   * @defaultValue `0.25`
   */
  beta2: 0.25,
  /**
   * Added to `√v` (Optax's `eps`), > 0.
   *
   * @defaultValue `1e-6`
   */
  epsilon: 1e-6,
  /**
   * Added to `v` inside the root (Optax's `eps_root`), ≥ 0.
   *
   * @defaultValue `0`
   */
  epsilonRoot: 0,
  /**
   * Weight decay added to the normalised gradient before the momentum, ≥ 0.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

// Typed with every slot name, so that the slot names are inferred from \`slots\`, not from this list.
const NON_NEGATIVE: readonly ('m' | 'v')[] = ['v'];

/** Hyperparameters of {@link novograd}. */
export type NovoGradDefaults = typeof defaults;
/**
 * Options of {@link novograd}: each numeric one a number or a schedule, plus `paramGroups`. The
 * learning rate is required.
 */
export type NovoGradOptions = OptimizerOptions<NovoGradDefaults> & { learningRate: Hyperparameter };
/** A NovoGrad optimizer instance. */
export type NovoGrad = OptimkitOptimizer<NovoGradDefaults>;

/** The NovoGrad optimizer class (serialization name `OptimkitNovoGrad`). */
export const NovoGrad = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitNovoGrad',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkRequiredLearningRate('novograd', h.learningRate, '1e-2');
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('epsilonRoot', h.epsilonRoot);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: { m: 0, v: { layout: 'scalar' } },
  nonNegativeSlots: NON_NEGATIVE,
  variant: (h, step) => ({ first: step === 1, decay: h.weightDecay !== 0 }),
  scalars: (h) => ({ oneMinusBeta2: 1 - h.beta2 }),
  epsilons: ['epsilon'],
  rule({ param, grad, slots, s, op, v: flags }) {
    // Optax squares jnp.linalg.norm(g): the root is rounded, then squared.
    const squaredNorm = op.square(op.norm(grad));
    const v = flags.first
      ? squaredNorm
      : op.add(op.mul(squaredNorm, s.oneMinusBeta2), op.mul(slots.v, s.beta2));
    const normalised = op.div(grad, op.add(op.sqrt(op.add(v, s.epsilonRoot)), s.epsilon));
    const u = flags.decay ? op.add(normalised, op.mul(param, s.weightDecay)) : normalised;
    const m = flags.first ? u : op.add(op.mul(slots.m, s.beta1), u);
    return { param: op.sub(param, op.mul(m, s.learningRate)), slots: { m, v } };
  },
});

/**
 * NovoGrad: momentum over gradients normalised by a per-tensor second moment, the moving average
 * of the tensor's squared gradient norm (one number per variable instead of Adam's one per
 * element), with weight decay added to the normalised gradient. Like LAMB and LARS it adapts each
 * layer as a whole, and it keeps half of Adam's memory.
 *
 * Update rule (Optax's `optax.novograd` = `scale_by_novograd` then the learning rate), for a
 * gradient `g` of tensor `p` on this variable's `t`-th update, `‖·‖` the L2 norm of the whole
 * tensor:
 * ```
 * v ← ‖g‖²                                          if t = 1
 * v ← (1 − beta2) · ‖g‖² + beta2 · v                otherwise
 * u ← g / (√(v + epsilonRoot) + epsilon) + weightDecay · p
 * m ← u                                             if t = 1
 * m ← beta1 · m + u                                 otherwise
 * p ← p − learningRate · m
 * ```
 * The first step initialises `v` with the first squared norm (no `1 − beta2` factor, no bias
 * correction) and `m` with the first normalised gradient. This follows Optax's code. NVIDIA's
 * apex `FusedNovoGrad` differs by default: it scales the new term of `m` by `1 − beta1`
 * (`grad_averaging=True`), applies bias corrections (`bias_correction=True`), and defaults to
 * `lr 1e-3, betas (0.9, 0.999), eps 1e-8`; it also starts `v` at the first step's norm.
 *
 * Options (each numeric one a number or a schedule, overridable per param group):
 * `learningRate` (required), `beta1` 0.9, `beta2` 0.25, `epsilon` 1e-6, `epsilonRoot` 0,
 * `weightDecay` 0 (Optax's defaults).
 *
 * Paper: Boris Ginsburg, Patrice Castonguay, Oleksii Hrinchuk, Oleksii Kuchaiev, Vitaly Lavrukhin,
 * Ryan Leary, Jason Li, Huyen Nguyen, Yang Zhang, Jonathan M. Cohen, "Stochastic Gradient Methods
 * with Layer-wise Adaptive Moments for Training of Deep Networks", arXiv:1905.11286, 2019.
 *
 * @example
 * ```ts
 * import { novograd } from '@optimkit/layerwise';
 * const optimizer = novograd({
 *   learningRate: 1e-2,
 *   weightDecay: 1e-3,
 *   paramGroups: [{ match: (v) => v.shape.length <= 1, weightDecay: 0 }],
 * });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function novograd(options: NovoGradOptions): NovoGrad {
  return new NovoGrad(options);
}
