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
   * Decoupled weight decay, ≥ 0, default `1e-2` (PyTorch; Optax's is `1e-4`). Set it to 0 in a
   * param group for biases and norms.
   *
   * @defaultValue `1e-2`
   */
  weightDecay: 1e-2,
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

/** Hyperparameters of {@link adamw}. */
export type AdamWDefaults = typeof defaults;
/** Options of {@link adamw}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdamWOptions = OptimizerOptions<AdamWDefaults>;
/** An AdamW optimizer instance. */
export type AdamW = OptimkitOptimizer<AdamWDefaults>;

/** The AdamW optimizer class (serialization name `OptimkitAdamW`). */
export const AdamW = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdamW',
  packageName,
  packageVersion,
  defaults,
  validate: validateAdam,
  slots: adamSlots,
  nonNegativeSlots: ['expAvgSq', 'maxExpAvgSq'],
  epsilons: ['epsilon'],
  variant: decayVariant,
  scalars: adamStepScalars,
  rule: (context) => adamRule('AdamW', context, true),
});

/**
 * Adam with decoupled weight decay (AdamW), exactly as PyTorch's `torch.optim.AdamW`, with
 * optional AMSGrad.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first):
 * ```
 * p ← p · (1 − learningRate · weightDecay)                  (decoupled, before the moments)
 * m ← β₁ · m + (1 − β₁) · g
 * v ← β₂ · v + (1 − β₂) · g²
 * v̄ ← amsgrad ? (v̄ ← max(v̄, v)) : v                        (max of the raw v, as PyTorch)
 * p ← p − (learningRate / (1 − β₁ᵗ)) · m / (√v̄ / √(1 − β₂ᵗ) + epsilon)
 * ```
 * The decay is multiplied by the (scheduled) learning rate, as in PyTorch and Optax; Loshchilov &
 * Hutter multiply it by the schedule multiplier only. With `weightDecay: 0` it is bit-identical to
 * {@link adam}. Bias corrections are computed in float64 from the variable's own step count, so a
 * resumed run is bit-identical to one that never stopped.
 *
 * @param options.learningRate Step size, default `1e-3`.
 * @param options.beta1 Decay of the first moment, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the second moment, in [0, 1), default `0.999`.
 * @param options.epsilon Added to the bias-corrected `√v` (outside the root), > 0, default `1e-8`.
 * @param options.weightDecay Decoupled weight decay, ≥ 0, default `1e-2` (PyTorch; Optax's is `1e-4`).
 *   Set it to 0 in a param group for biases and norms.
 * @param options.amsgrad Use the running maximum of `v` (AMSGrad), default `false`; keeps a third slot.
 * @param options.stateDtype `'float32'` (default) or `'int8'`: 8-bit moments (bitsandbytes'
 *   block-wise dynamic quantisation, blocks of 256, for variables of 4096 values or more), about
 *   2 bytes of state per parameter instead of 8; the update itself runs in float32. cpu, wasm, WebGPU and WebGL 2.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Papers: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019; Adam: Kingma &
 * Ba, ICLR 2015; AMSGrad: Reddi, Kale & Kumar, ICLR 2018.
 *
 * `tf.train` has no AdamW (and no weight decay at all).
 *
 * @example
 * ```ts
 * import { adamw } from '@optimkit/adam';
 * const optimizer = adamw({
 *   learningRate: 1e-3,
 *   weightDecay: 0.05,
 *   paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }], // no decay on biases and norms
 * });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function adamw(options: AdamWOptions = {}): AdamW {
  return new AdamW(options);
}
