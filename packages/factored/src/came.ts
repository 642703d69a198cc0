import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { clipByRms, ema, factoredRsqrt, factoredSlots, isFactored, updateFactored } from './factored.js';
import { emaOfMeans, factoredDims, newSums, rmsClipDivisor, rsqrtFactors } from './factored-fused.js';

const defaults = {
  learningRate: null as number | null,
  beta1: 0.9,
  beta2: 0.999,
  beta3: 0.9999,
  epsilon1: 1e-30,
  epsilon2: 1e-16,
  clipThreshold: 1,
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
  slots: (shape): SlotSpec =>
    isFactored(shape)
      ? { m: 0, ...factoredSlots(shape, 'row', 'col'), ...factoredSlots(shape, 'resRow', 'resCol') }
      : { m: 0, v: 0 },
  update({ param, grad, slots, h }) {
    const lr = h.learningRate!;
    const square = tf.add(tf.square(grad), h.epsilon1);
    const next: Record<string, tf.Tensor> = {};
    let update: tf.Tensor;
    const factored = isFactored(param.shape);
    if (factored) {
      const { row, col } = updateFactored(slots.row!, slots.col!, square, h.beta2);
      next.row = row;
      next.col = col;
      update = tf.mul(factoredRsqrt(row, col), grad);
    } else {
      next.v = ema(slots.v!, square, h.beta2);
      update = tf.mul(tf.rsqrt(next.v), grad);
    }
    update = clipByRms(update, h.clipThreshold);
    next.m = ema(slots.m!, update, h.beta1);
    if (factored) {
      // Instability of the clipped update around its running mean: the confidence statistic.
      const residual = tf.add(tf.square(tf.sub(update, next.m)), h.epsilon2);
      const { row, col } = updateFactored(slots.resRow!, slots.resCol!, residual, h.beta3);
      next.resRow = row;
      next.resCol = col;
      update = tf.mul(factoredRsqrt(row, col), next.m);
    } else {
      update = next.m;
    }
    const decayed = h.weightDecay !== 0 ? tf.sub(param, tf.mul(param, h.weightDecay * lr)) : param;
    return { param: tf.sub(decayed, tf.mul(update, lr)), slots: next };
  },
  // The same arithmetic over float32 arrays, each tensor op rounded as the op rounds it: passes for
  // the second-moment statistics, the unclipped update (kept in the output array) and its RMS, the
  // first moment and the residual statistics, and the variable.
  fused({ param, grad, slots, out, shape, h }) {
    const f = Math.fround;
    const n = param.length;
    const lr = h.learningRate!;
    const eps1 = f(h.epsilon1);
    const eps2 = f(h.epsilon2);
    const count = f(n);
    const u = out.param;
    const m0 = slots.m!;
    const m1 = out.slots.m!;
    const b1 = f(h.beta1);
    const c1 = f(1 - h.beta1);
    let sumOfMeans = 0;
    const factored = isFactored(shape);
    const dims = factored ? factoredDims(shape) : { batches: 1, rows: 1, cols: n };
    const { batches, rows, cols } = dims;
    const byCols = f(cols);
    const byRows = f(rows);
    if (factored) {
      const { rowSums, colSums } = newSums(dims);
      let k = 0;
      for (let b = 0; b < batches; b++) {
        for (let i = 0; i < rows; i++) {
          let rowSum = 0;
          for (let j = 0; j < cols; j++, k++) {
            const square = f(f(grad[k]! * grad[k]!) + eps1);
            rowSum += f(square / byCols);
            colSums[b * cols + j]! += f(square / byRows);
          }
          rowSums[b * rows + i] = rowSum;
        }
      }
      emaOfMeans(slots.row!, rowSums, out.slots.row!, h.beta2, 1 - h.beta2);
      emaOfMeans(slots.col!, colSums, out.slots.col!, h.beta2, 1 - h.beta2);
      const { rowFactor, colFactor } = rsqrtFactors(out.slots.row!, out.slots.col!, dims);
      k = 0;
      for (let b = 0; b < batches; b++) {
        for (let i = 0; i < rows; i++) {
          const r = rowFactor[b * rows + i]!;
          for (let j = 0; j < cols; j++, k++) {
            const x = f(f(r * colFactor[b * cols + j]!) * grad[k]!);
            u[k] = x;
            sumOfMeans += f(f(x * x) / count);
          }
        }
      }
    } else {
      const v0 = slots.v!;
      const v1 = out.slots.v!;
      const b2 = f(h.beta2);
      const c2 = f(1 - h.beta2);
      for (let k = 0; k < n; k++) {
        const v = f(f(v0[k]! * b2) + f(f(f(grad[k]! * grad[k]!) + eps1) * c2));
        v1[k] = v;
        const x = f(f(1 / Math.sqrt(v)) * grad[k]!);
        u[k] = x;
        sumOfMeans += f(f(x * x) / count);
      }
    }
    const divisor = rmsClipDivisor(sumOfMeans, h.clipThreshold);
    const decay = h.weightDecay !== 0;
    const wdLr = f(h.weightDecay * lr);
    const lr32 = f(lr);
    if (!factored) {
      for (let k = 0; k < n; k++) {
        const m = f(f(m0[k]! * b1) + f(f(u[k]! / divisor) * c1));
        m1[k] = m;
        const p = decay ? f(param[k]! - f(param[k]! * wdLr)) : param[k]!;
        u[k] = f(p - f(m * lr32));
      }
      return;
    }
    const { rowSums, colSums } = newSums(dims);
    let k = 0;
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < rows; i++) {
        let rowSum = 0;
        for (let j = 0; j < cols; j++, k++) {
          const m = f(f(m0[k]! * b1) + f(f(u[k]! / divisor) * c1));
          m1[k] = m;
          const d = f(f(u[k]! / divisor) - m);
          const residual = f(f(d * d) + eps2);
          rowSum += f(residual / byCols);
          colSums[b * cols + j]! += f(residual / byRows);
        }
        rowSums[b * rows + i] = rowSum;
      }
    }
    emaOfMeans(slots.resRow!, rowSums, out.slots.resRow!, h.beta3, 1 - h.beta3);
    emaOfMeans(slots.resCol!, colSums, out.slots.resCol!, h.beta3, 1 - h.beta3);
    const { rowFactor, colFactor } = rsqrtFactors(out.slots.resRow!, out.slots.resCol!, dims);
    k = 0;
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < rows; i++) {
        const r = rowFactor[b * rows + i]!;
        for (let j = 0; j < cols; j++, k++) {
          const update = f(f(r * colFactor[b * cols + j]!) * m1[k]!);
          const p = decay ? f(param[k]! - f(param[k]! * wdLr)) : param[k]!;
          u[k] = f(p - f(update * lr32));
        }
      }
    }
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
