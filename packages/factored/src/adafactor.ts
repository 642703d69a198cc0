import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
  type Value,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { clipByRms, ema, factoredRsqrt, factoredSlots, isFactored, rms, updateFactored } from './factored.js';

const defaults = {
  /**
   * Manual learning rate, default `null`: the relative step ρ_t is used. Giving one turns
   * `relativeStep` off (this factory infers it); `relativeStep: true` with a learning rate, or
   * `relativeStep: false` without one, throws a `RangeError`.
   *
   * @defaultValue `null`
   */
  learningRate: null as number | null,
  /**
   * Added to the squared gradient, default `1e-30`.
   *
   * @defaultValue `1e-30`
   */
  epsilon1: 1e-30,
  /**
   * Floor of the parameter scale `RMS(p)`, default `1e-3`.
   *
   * @defaultValue `1e-3`
   */
  epsilon2: 1e-3,
  /**
   * Update clipping threshold `d` on `RMS(u)`, default `1`.
   *
   * @defaultValue `1`
   */
  clipThreshold: 1,
  /**
   * Exponent of `β̂2_t = 1 − t^decayRate`, ≤ 0, default `-0.8`.
   *
   * @defaultValue `-0.8`
   */
  decayRate: -0.8,
  /**
   * First-moment coefficient in [0, 1), default `null` (off: no `m` slot, the memory advantage is
   * kept).
   *
   * @defaultValue `null`
   */
  beta1: null as number | null,
  /**
   * Decoupled weight decay, scaled by α_t, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Multiply the step by `max(epsilon2, RMS(p))`, default `true`.
   *
   * @defaultValue `true`
   */
  scaleParameter: true,
  /**
   * Use the relative step ρ_t, default `true` iff no `learningRate`.
   *
   * @defaultValue `true`
   */
  relativeStep: true,
  /**
   * Relative step grows as `1e-6·t` (needs `relativeStep`), default `false`.
   *
   * @defaultValue `false`
   */
  warmupInit: false,
};

/** Hyperparameters of {@link adafactor}. */
export type AdafactorDefaults = typeof defaults;
/** Options of {@link adafactor}: each numeric one a number or a schedule, plus `paramGroups`. */
export type AdafactorOptions = OptimizerOptions<AdafactorDefaults>;
/** An Adafactor optimizer instance. */
export type Adafactor = OptimkitOptimizer<AdafactorDefaults>;

/**
 * The Adafactor optimizer class (serialization name `OptimkitAdafactor`). Its `relativeStep`
 * defaults to `true`, so `new Adafactor({ learningRate })` needs `relativeStep: false`; the
 * {@link adafactor} factory infers it.
 */
export const Adafactor = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitAdafactor',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    if (h.relativeStep && h.learningRate !== null) {
      throw new RangeError(
        `Invalid relativeStep: true with learningRate ${h.learningRate}: a manual learning rate needs ` +
          'relativeStep: false (the adafactor() factory sets it when you pass a learningRate)',
      );
    }
    if (!h.relativeStep && h.learningRate === null) {
      throw new RangeError(
        'Invalid learningRate: null with relativeStep: false: pass a learningRate, or use the relative step',
      );
    }
    if (h.warmupInit && !h.relativeStep) {
      throw new RangeError(
        'Invalid warmupInit: true with relativeStep: false: warmupInit needs the relative step',
      );
    }
    checkPositive('epsilon1', h.epsilon1);
    checkPositive('epsilon2', h.epsilon2);
    checkPositive('clipThreshold', h.clipThreshold);
    if (!(h.decayRate <= 0) || !Number.isFinite(h.decayRate)) {
      throw new RangeError(`Invalid decayRate: ${h.decayRate} (must be ≤ 0; the default is -0.8)`);
    }
    if (h.beta1 !== null) checkUnitInterval('beta1', h.beta1);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: (shape, h): SlotSpec<'row' | 'col' | 'v' | 'm'> => ({
    ...(isFactored(shape) ? factoredSlots('row', 'col') : { v: 0 }),
    ...(h.beta1 !== null ? { m: 0 } : {}),
  }),
  nonNegativeSlots: ['row', 'col', 'v'],
  // epsilon1 keeps the root of the second moment finite; epsilon2 only floors the parameter scale.
  epsilons: ['epsilon1'],
  variant: (h, _step, shape) => ({
    factored: isFactored(shape),
    momentum: h.beta1 !== null,
    decay: h.weightDecay !== 0,
  }),
  // Each a float64 expression of the reference code, rounded once where the rule uses it.
  scalars: (h, step) => {
    const beta2 = 1 - step ** h.decayRate;
    return {
      relative: h.relativeStep
        ? Math.min(h.warmupInit ? 1e-6 * step : 1e-2, 1 / Math.sqrt(step))
        : h.learningRate!,
      beta2,
      oneMinusBeta2: 1 - beta2,
      oneMinusBeta1: 1 - (h.beta1 ?? 0),
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    // HF transformers' local learning rate: fairseq stores it back into the group and compounds it.
    const lr = v.scaleParameter ? op.mul(op.max(rms(op, param), s.epsilon2), s.relative) : s.relative;
    const square = op.add(op.square(grad), s.epsilon1);
    const next: { row?: Value; col?: Value; v?: Value; m?: Value } = {};
    let update: Value;
    if (v.factored) {
      const { row, col } = updateFactored(op, slots.row, slots.col, square, s.beta2, s.oneMinusBeta2);
      next.row = row;
      next.col = col;
      update = op.mul(factoredRsqrt(op, row, col), grad);
    } else {
      next.v = ema(op, slots.v, square, s.beta2, s.oneMinusBeta2);
      update = op.mul(op.rsqrt(next.v), grad);
    }
    update = op.mul(clipByRms(op, update, s.clipThreshold), lr);
    if (v.momentum) {
      if (!('m' in slots)) {
        throw new Error('Adafactor: a variable has no first moment (its first update had no beta1)');
      }
      next.m = ema(op, slots.m, update, s.beta1, s.oneMinusBeta1);
      update = next.m;
    }
    const decayed = v.decay ? op.sub(param, op.mul(param, op.mul(lr, s.weightDecay))) : param;
    return { param: op.sub(decayed, update), slots: next };
  },
});

/** Sets `relativeStep` to "no learning rate" where an options object or group leaves it out. */
function inferRelativeStep<T>(options: T): T {
  if (typeof options !== 'object' || options === null) return options;
  const { learningRate, relativeStep } = options as { learningRate?: unknown; relativeStep?: unknown };
  if (relativeStep !== undefined || learningRate === undefined) return options;
  return { ...options, relativeStep: learningRate === null };
}

/**
 * Adafactor (Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
 * ICML 2018, arXiv:1804.04235), exactly as Hugging Face transformers' `Adafactor` (a copy of
 * fairseq's, keeping the learning rate local where fairseq compounds it).
 *
 * For a variable of rank ≥ 2 the second moment is factored over its **last two** dims (leading
 * dims are batched): only a row and a column statistic are kept, so an n×m matrix costs
 * 4(n + m) bytes of state instead of 4nm. Scalars and vectors keep a full second moment.
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update (t = 1 first):
 * ```
 * ρ_t  = relativeStep ? min(warmupInit ? 1e-6·t : 1e-2, 1/√t) : learningRate
 * α_t  = scaleParameter ? max(epsilon2, RMS(p)) · ρ_t : ρ_t
 * β̂2_t = 1 − t^decayRate                              (0 on the first update)
 * G    = g² + epsilon1
 * rank ≥ 2:  R ← β̂2_t·R + (1−β̂2_t)·mean(G, −1),  C ← β̂2_t·C + (1−β̂2_t)·mean(G, −2)
 *            u = g / √(R C / mean(R, −1))             (outer product over the last two dims)
 * rank ≤ 1:  V ← β̂2_t·V + (1−β̂2_t)·G,  u = g / √V
 * u ← α_t · u / max(1, RMS(u) / clipThreshold)
 * if beta1 ≠ null: m ← beta1·m + (1 − beta1)·u;  u ← m
 * p ← p − weightDecay · α_t · p − u
 * ```
 * `RMS(x) = ‖x‖₂/√numel(x)`; `RMS(p)` is the parameter before this update.
 *
 * @param options.learningRate Manual learning rate, default `null`: the relative step ρ_t is
 *   used. Giving one turns `relativeStep` off (this factory infers it); `relativeStep: true` with a
 *   learning rate, or `relativeStep: false` without one, throws a `RangeError`.
 * @param options.epsilon1 Added to the squared gradient, default `1e-30`.
 * @param options.epsilon2 Floor of the parameter scale `RMS(p)`, default `1e-3`.
 * @param options.clipThreshold Update clipping threshold `d` on `RMS(u)`, default `1`.
 * @param options.decayRate Exponent of `β̂2_t = 1 − t^decayRate`, ≤ 0, default `-0.8`.
 * @param options.beta1 First-moment coefficient in [0, 1), default `null` (off: no `m` slot,
 *   the memory advantage is kept).
 * @param options.weightDecay Decoupled weight decay, scaled by α_t, default `0`.
 * @param options.scaleParameter Multiply the step by `max(epsilon2, RMS(p))`, default `true`.
 * @param options.relativeStep Use the relative step ρ_t, default `true` iff no `learningRate`.
 * @param options.warmupInit Relative step grows as `1e-6·t` (needs `relativeStep`), default `false`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Tuning: the defaults (relative step, parameter scaling) are the paper's, for training from
 * scratch. For fine-tuning, Hugging Face recommends `scaleParameter: false, relativeStep: false,
 * learningRate: 1e-3`. Adding `beta1` (e.g. 0.9) costs 4 bytes per parameter.
 *
 * State per variable: rank ≥ 2 `row` (`shape[:-1]`) and `col` (`shape[:-2] + shape[-1:]`);
 * rank ≤ 1 `v` (the variable's shape); `m` (the variable's shape) when `beta1` is set.
 *
 * @example
 * ```ts
 * import { adafactor } from '@optimkit/factored';
 * // Paper defaults: relative step size, parameter scaling, no momentum.
 * const optimizer = adafactor();
 * // Fine-tuning, as Hugging Face recommends:
 * const finetune = adafactor({ learningRate: 1e-3, scaleParameter: false });
 * model.compile({ optimizer: finetune, loss: 'categoricalCrossentropy' });
 * ```
 */
export function adafactor(options: AdafactorOptions = {}): Adafactor {
  let normalized = inferRelativeStep(options);
  if (Array.isArray(normalized?.paramGroups)) {
    normalized = { ...normalized, paramGroups: normalized.paramGroups.map((g) => inferRelativeStep(g)) };
  }
  return new Adafactor(normalized);
}
