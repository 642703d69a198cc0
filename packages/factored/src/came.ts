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
import { clipByRms, ema, factoredRsqrt, factoredSlots, isFactored, updateFactored } from './factored.js';

const defaults = {
  /**
   * Step size, **required** (default `null` throws a `RangeError`); typically 2e-4, or 0.5–0.9×
   * what AdamW would use.
   *
   * @defaultValue `null`
   */
  learningRate: null as number | null,
  /**
   * Momentum of the clipped update, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the factored second moment, in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Decay of the factored instability, in [0, 1), default `0.9999`.
   *
   * @defaultValue `0.9999`
   */
  beta3: 0.9999,
  /**
   * Added to the squared gradient, default `1e-30`.
   *
   * @defaultValue `1e-30`
   */
  epsilon1: 1e-30,
  /**
   * Added to the instability `(u − m)²`, default `1e-16`.
   *
   * @defaultValue `1e-16`
   */
  epsilon2: 1e-16,
  /**
   * Update clipping threshold on `RMS(u)`, default `1`.
   *
   * @defaultValue `1`
   */
  clipThreshold: 1,
  /**
   * Decoupled weight decay, scaled by the learning rate, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
};

/** Hyperparameters of {@link came}. */
export type CAMEDefaults = typeof defaults;
/** Options of {@link came}: each numeric one a number or a schedule, plus `paramGroups`. */
export type CAMEOptions = OptimizerOptions<CAMEDefaults>;
/** A CAME optimizer instance. */
export type CAME = OptimkitOptimizer<CAMEDefaults>;

/** The CAME optimizer class (serialization name `OptimkitCAME`). */
export const CAME = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitCAME',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    if (h.learningRate === null) {
      throw new RangeError(
        'Invalid learning rate: null: CAME has no default learning rate; pass one (typically 2e-4)',
      );
    }
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkUnitInterval('beta3', h.beta3);
    checkPositive('epsilon1', h.epsilon1);
    checkPositive('epsilon2', h.epsilon2);
    checkPositive('clipThreshold', h.clipThreshold);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: (shape): SlotSpec<'m' | 'row' | 'col' | 'resRow' | 'resCol' | 'v'> =>
    isFactored(shape)
      ? { m: 0, ...factoredSlots('row', 'col'), ...factoredSlots('resRow', 'resCol') }
      : { m: 0, v: 0 },
  nonNegativeSlots: ['row', 'col', 'resRow', 'resCol', 'v'],
  // epsilon1 keeps the root of the second moment finite, epsilon2 that of the instability.
  epsilons: ['epsilon1', 'epsilon2'],
  variant: (h, _step, shape) => ({ factored: isFactored(shape), decay: h.weightDecay !== 0 }),
  // Each a float64 expression of the reference code, rounded once where the rule uses it.
  scalars: (h) => ({
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
    oneMinusBeta3: 1 - h.beta3,
    decayStep: h.weightDecay * h.learningRate!,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const square = op.add(op.square(grad), s.epsilon1);
    const next: { m?: Value; row?: Value; col?: Value; resRow?: Value; resCol?: Value; v?: Value } = {};
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
    update = clipByRms(op, update, s.clipThreshold);
    const m = ema(op, slots.m, update, s.beta1, s.oneMinusBeta1);
    next.m = m;
    if (v.factored) {
      // Instability of the clipped update around its running mean: the confidence statistic.
      const residual = op.add(op.square(op.sub(update, m)), s.epsilon2);
      const { row, col } = updateFactored(op, slots.resRow, slots.resCol, residual, s.beta3, s.oneMinusBeta3);
      next.resRow = row;
      next.resCol = col;
      update = op.mul(factoredRsqrt(op, row, col), m);
    } else {
      update = m;
    }
    const decayed = v.decay ? op.sub(param, op.mul(param, s.decayStep)) : param;
    return { param: op.sub(decayed, op.mul(update, s.learningRate)), slots: next };
  },
});

/**
 * CAME, Confidence-guided Adaptive Memory Efficient optimization (Luo, Ren, Zheng, Jiang, Jiang,
 * You, "CAME: Confidence-guided Adaptive Memory Efficient Optimization", ACL 2023,
 * arXiv:2307.02047), exactly as the official code (`yangluo7/CAME`, `came_pytorch/CAME.py`).
 *
 * Adafactor's factored second moment and update clipping, then a momentum of the clipped update,
 * whose step is scaled per element by the (factored) confidence `1/√S`, `S` being a running
 * average of the instability `(u − m)²`. No bias correction, no relative step.
 *
 * Update rule, for a gradient `g` of parameter `p` (R, C, V, Rs, Cs and m start at zero):
 * ```
 * G = g² + epsilon1
 * rank ≥ 2:  R ← β2·R + (1−β2)·mean(G, −1),  C ← β2·C + (1−β2)·mean(G, −2)
 *            u = g / √(R C / mean(R, −1))              (outer product over the last two dims)
 * rank ≤ 1:  V ← β2·V + (1−β2)·G,  u = g / √V
 * u ← u / max(1, RMS(u) / clipThreshold)
 * m ← β1·m + (1−β1)·u
 * rank ≥ 2:  U = (u − m)² + epsilon2
 *            Rs ← β3·Rs + (1−β3)·mean(U, −1),  Cs ← β3·Cs + (1−β3)·mean(U, −2)
 *            u = m / √(Rs Cs / mean(Rs, −1))
 * rank ≤ 1:  u = m                                     (no confidence scaling, as the official code)
 * p ← p − weightDecay · learningRate · p − learningRate · u
 * ```
 *
 * @param options.learningRate Step size, **required** (default `null` throws a `RangeError`);
 *   typically 2e-4, or 0.5–0.9× what AdamW would use.
 * @param options.beta1 Momentum of the clipped update, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the factored second moment, in [0, 1), default `0.999`.
 * @param options.beta3 Decay of the factored instability, in [0, 1), default `0.9999`.
 * @param options.epsilon1 Added to the squared gradient, default `1e-30`.
 * @param options.epsilon2 Added to the instability `(u − m)²`, default `1e-16`.
 * @param options.clipThreshold Update clipping threshold on `RMS(u)`, default `1`.
 * @param options.weightDecay Decoupled weight decay, scaled by the learning rate, default `0`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Tuning (official README): keep β1, β2 as for AdamW and choose β3 > β2, e.g. 0.9995–0.99995
 * with (0.9, 0.999), or 0.99–0.999 with (0.9, 0.95).
 *
 * State per variable: `m` (the variable's shape); rank ≥ 2 `row`, `resRow` (`shape[:-1]`) and
 * `col`, `resCol` (`shape[:-2] + shape[-1:]`); rank ≤ 1 `v` (the variable's shape). About
 * 4 bytes per parameter for matrices, 8 for vectors.
 *
 * @example
 * ```ts
 * import { came } from '@optimkit/factored';
 * const optimizer = came({ learningRate: 2e-4, weightDecay: 1e-2 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function came(options: CAMEOptions = {}): CAME {
  return new CAME(options);
}
