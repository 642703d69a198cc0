import {
  checkNonNegative,
  checkStateDtype,
  checkUnitInterval,
  defineOptimizer,
  momentSlot,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type StateDtype,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Step size per element, default `1e-4`.
   *
   * @defaultValue `1e-4`
   */
  learningRate: 1e-4,
  /**
   * Interpolation weight of the momentum in the update, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the momentum, in [0, 1), default `0.99`.
   *
   * @defaultValue `0.99`
   */
  beta2: 0.99,
  /**
   * Decoupled weight decay, default `0` (Optax's default is `1e-3`); the parameters shrink by
   * `learningRate · weightDecay` per step.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * The precision of the momentum: `'float32'` (default), or `'int8'`, 8-bit block-wise dynamic
   * quantisation as bitsandbytes' 8-bit Lion: for a variable of at least 4096 values the momentum
   * is stored as one 8-bit code per value (signed dynamic map, four per int32) and one float32
   * absmax per block of 256 values, about 1 byte of state per parameter instead of 4. Each step
   * dequantises, updates in float32 and re-quantises to the nearest code, a negative momentum
   * never to 0 (so its sign survives). Smaller variables keep float32. cpu, wasm, WebGPU and WebGL 2.
   *
   * @defaultValue `'float32'`
   */
  stateDtype: 'float32' as StateDtype,
};

/** Hyperparameters of {@link lion}. */
export type LionDefaults = typeof defaults;
/** Options of {@link lion}: each numeric one a number or a schedule, plus `paramGroups`. */
export type LionOptions = OptimizerOptions<LionDefaults>;
/** A Lion optimizer instance. */
export type Lion = OptimkitOptimizer<LionDefaults>;

/** The Lion optimizer class (serialization name `OptimkitLion`). */
export const Lion = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitLion',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkNonNegative('weightDecay', h.weightDecay);
    checkStateDtype(h.stateDtype);
  },
  slots: (_shape, h) => ({ m: momentSlot(h.stateDtype, 'signed') }),
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  scalars: (h) => ({
    shrink: 1 - h.learningRate * h.weightDecay,
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const m = slots.m;
    const decayed = v.decay ? op.mul(param, s.shrink) : param;
    const c = op.add(op.mul(m, s.beta1), op.mul(grad, s.oneMinusBeta1));
    // sign(0) is 0, as the reference's torch.sign: an element with c = 0 does not move.
    const next = op.sub(decayed, op.mul(op.sign(c), s.learningRate));
    return { param: next, slots: { m: op.add(op.mul(m, s.beta2), op.mul(grad, s.oneMinusBeta2)) } };
  },
});

/**
 * Lion (EvoLved Sign Momentum), the optimizer found by symbolic program search: every element
 * moves by exactly `learningRate` in the direction of the sign of an interpolation between the
 * momentum and the gradient. One slot (half of Adam's memory), no epsilon, no bias correction.
 *
 * Update rule (google/automl reference), for a gradient `g` of parameter `p`:
 * ```
 * p ← p · (1 − learningRate · weightDecay)       (decoupled weight decay, scaled by lr)
 * c ← beta1 · m + (1 − beta1) · g
 * p ← p − learningRate · sign(c)                  (sign(0) = 0)
 * m ← beta2 · m + (1 − beta2) · g                 (the momentum is updated after, with beta2)
 * ```
 * With `beta1: 0` and no weight decay this is sign descent `p − lr·sign(g)`.
 *
 * @param options.learningRate Step size per element, default `1e-4`.
 * @param options.beta1 Interpolation weight of the momentum in the update, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the momentum, in [0, 1), default `0.99`.
 * @param options.weightDecay Decoupled weight decay, default `0` (Optax's default is `1e-3`);
 *   the parameters shrink by `learningRate · weightDecay` per step.
 * @param options.stateDtype `'float32'` (default) or `'int8'`: an 8-bit momentum (bitsandbytes'
 *   block-wise dynamic quantisation, blocks of 256, for variables of 4096 values or more), about
 *   1 byte of state per parameter instead of 4. cpu, wasm, WebGPU and WebGL 2.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Xiangning Chen, Chen Liang, Da Huang, Esteban Real, Kaiyuan Wang, Yao Liu, Hieu Pham,
 * Xuanyi Dong, Thang Luong, Cho-Jui Hsieh, Yifeng Lu, Quoc V. Le, "Symbolic Discovery of
 * Optimization Algorithms", NeurIPS 2023, arXiv:2302.06675.
 *
 * Tuning: the sign update has a larger norm than Adam's, so use a learning rate 3–10× smaller than
 * the one that works for AdamW, and, since the effective decay is `learningRate · weightDecay`, a
 * weight decay 3–10× larger (e.g. AdamW lr 1e-3, wd 1.0 becomes Lion lr 1e-4, wd 10 for ViT-B/16;
 * AdamW 3e-4, 0.01 becomes Lion 3e-5, 0.1 for diffusion models). Scale the initial, peak and final
 * learning rates of a schedule by the same factor. Where the authors tuned the betas they used
 * `beta1: 0.95, beta2: 0.98`; a smaller beta2 shortens the memory and can stabilise training.
 * Lion benefits from larger batches; since every step has a fixed size, decay the learning rate
 * to converge precisely.
 *
 * @example
 * ```ts
 * import { lion } from '@optimkit/lion';
 * const optimizer = lion({
 *   learningRate: 3e-5,
 *   weightDecay: 0.1,
 *   paramGroups: [{ match: (v) => v.shape.length <= 1, weightDecay: 0 }],
 * });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export function lion(options: LionOptions = {}): Lion {
  return new Lion(options);
}
