import {
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type StateDtype,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { adamRule, adamSlots, adamStepScalars, decayVariant, validateAdam } from './shared.js';

const defaults = {
  /**
   * Step size, default `1e-3`.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decay of the first moment, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment, in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to the bias-corrected `√v` (outside the root), > 0, default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Coupled L2 penalty added to the gradient, ≥ 0, default `0`. For decoupled weight decay use
   * {@link adamw}.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Use the running maximum of `v` (AMSGrad), default `false`; keeps a third slot.
   *
   * @defaultValue `false`
   */
  amsgrad: false,
  /**
   * The precision of the moments: `'float32'` (default), or `'int8'`, 8-bit block-wise dynamic
   * quantisation as bitsandbytes' 8-bit Adam (Dettmers et al., ICLR 2022): for a variable of at
   * least 4096 values each moment is stored as one 8-bit code per value (four per int32) and one
   * float32 absmax per block of 256 values, about 2 bytes of state per parameter instead of 8;
   * each step dequantises, updates in float32 and re-quantises to the nearest code. Smaller
   * variables keep float32 moments. Runs on the cpu, wasm, webgpu and webgl (WebGL 2, float32 textures) backends; others refuse it.
   *
   * @defaultValue `'float32'`
   */
  stateDtype: 'float32' as StateDtype,
};

/** Hyperparameters of {@link adam}. */
export type AdamDefaults = typeof defaults;
/** Options of {@link adam}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdamOptions = OptimizerOptions<AdamDefaults>;
/** An Adam optimizer instance. */
export type Adam = OptimkitOptimizer<AdamDefaults>;

/** The Adam optimizer class (serialization name `OptimkitAdam`; `Adam` is tfjs's own). */
export const Adam = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdam',
  packageName,
  packageVersion,
  defaults,
  validate: validateAdam,
  slots: adamSlots,
  nonNegativeSlots: ['expAvgSq', 'maxExpAvgSq'],
  epsilons: ['epsilon'],
  variant: decayVariant,
  scalars: adamStepScalars,
  rule: (context) => adamRule('Adam', context, false),
});

/**
 * Adam with optional AMSGrad and coupled (L2) weight decay, exactly as PyTorch's
 * `torch.optim.Adam`.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * g ← g + weightDecay · p                                   (coupled L2; skipped when 0)
 * m ← β₁ · m + (1 − β₁) · g
 * v ← β₂ · v + (1 − β₂) · g²
 * v̄ ← amsgrad ? (v̄ ← max(v̄, v)) : v                        (max of the raw v, as PyTorch)
 * p ← p − (learningRate / (1 − β₁ᵗ)) · m / (√v̄ / √(1 − β₂ᵗ) + epsilon)
 * ```
 * Moments start at zero. The bias corrections are computed in float64 from the variable's own
 * step count, so a run resumed from saved state is bit-identical to one that never stopped.
 *
 * @param options.learningRate Step size, default `1e-3`.
 * @param options.beta1 Decay of the first moment, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the second moment, in [0, 1), default `0.999`.
 * @param options.epsilon Added to the bias-corrected `√v` (outside the root), > 0, default `1e-8`.
 * @param options.weightDecay Coupled L2 penalty added to the gradient, ≥ 0, default `0`. For
 *   decoupled weight decay use {@link adamw}.
 * @param options.amsgrad Use the running maximum of `v` (AMSGrad), default `false`; keeps a third slot.
 * @param options.stateDtype `'float32'` (default) or `'int8'`: 8-bit moments (bitsandbytes'
 *   block-wise dynamic quantisation, blocks of 256, for variables of 4096 values or more), about
 *   2 bytes of state per parameter instead of 8; the update itself runs in float32. cpu, wasm, WebGPU and WebGL 2.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Papers: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015; AMSGrad: Reddi,
 * Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
 *
 * Differences from `tf.train.adam(learningRate, beta1, beta2, epsilon)`: the update formula is the
 * same, but tf.train's epsilon defaults to the backend epsilon (`1e-7` on float32, `1e-4` on
 * float16 WebGL) where this one defaults to PyTorch's `1e-8` (visible when gradients are ~1e-7 or
 * smaller); pass `epsilon: 1e-7` to match it. tf.train keeps β₁ᵗ and β₂ᵗ as float32 running products
 * and rebuilds them with `pow` from `iter` when its weights are loaded, so it does not resume
 * bit-identically; it also has no weight decay, no AMSGrad and matches slots to variables by position.
 *
 * @example
 * ```ts
 * import { adam } from '@optimkit/adam';
 * const optimizer = adam({ learningRate: 3e-4, amsgrad: true });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function adam(options: AdamOptions = {}): Adam {
  return new Adam(options);
}
