import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  elementwise,
  elementwiseVariants,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type SlotSpec,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import { clipByRms, ema, factoredRsqrt, factoredSlots, isFactored, updateFactored } from './factored.js';
import {
  emaOfMeans,
  emaOfSums,
  factoredDims,
  factoredUpdate,
  factoredWorkspace,
  rmsClipDivisor,
  rsqrtFactors,
  squareStats,
  unfactoredUpdate,
  workspaceViews,
} from './factored-fused.js';

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

// The clipped update u/d and the first moment m (inputs u, m; scalars d, β₁, 1 − β₁, ε₂, cols,
// rows), with the row means and column sums of the residual (u/d − m)² + ε₂.
const cameResidual = /* @__PURE__ */ elementwise((e) => {
  const update = e.div(e.input(0), e.scalar(0));
  const m = e.add(e.mul(e.input(1), e.scalar(1)), e.mul(update, e.scalar(2)));
  const difference = e.sub(update, m);
  const residual = e.add(e.mul(difference, difference), e.scalar(3));
  e.rowSum(e.div(residual, e.scalar(4)));
  e.colSum(e.div(residual, e.scalar(5)));
  return [m];
});

// The variable: inputs param, m, row factors, column factors; scalars lr, weightDecay·lr.
const cameApply = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean }) => {
    const param = e.input(0);
    const update = e.mul(e.mul(e.rowInput(2), e.colInput(3)), e.input(1));
    const decayed = flags.decay ? e.sub(param, e.mul(param, e.scalar(1))) : param;
    return [e.sub(decayed, e.mul(update, e.scalar(0)))];
  },
  { inputs: 4, scalars: 2 },
);

// Unfactored: inputs param, the unclipped update u, m; scalars d, β₁, 1 − β₁, lr, weightDecay·lr.
// Outputs param (in place of u) and m.
const cameUnfactoredApply = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { decay: boolean }) => {
    const param = e.input(0);
    const m = e.add(e.mul(e.input(2), e.scalar(1)), e.mul(e.div(e.input(1), e.scalar(0)), e.scalar(2)));
    const decayed = flags.decay ? e.sub(param, e.mul(param, e.scalar(4))) : param;
    return [e.sub(decayed, e.mul(m, e.scalar(3))), m];
  },
  { inputs: 3, scalars: 5 },
);

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
  // The same arithmetic as elementwise kernels, each op rounded to float32 as the tensor op: the
  // second-moment statistics, the unclipped update (kept in the output array) with its RMS, the
  // first moment with the residual statistics, then the variable.
  fusedWorkspace: factoredWorkspace,
  fused({ param, grad, slots, out, workspace, shape, h }) {
    const n = param.length;
    const lr = h.learningRate!;
    const u = out.param;
    const m0 = slots.m!;
    const m1 = out.slots.m!;
    const decay = h.weightDecay !== 0;
    if (!isFactored(shape)) {
      const [updateSum = 0] = unfactoredUpdate({ param: false }).run(
        n,
        [grad, slots.v!, param],
        [h.epsilon1, h.beta2, 1 - h.beta2, n],
        [u, out.slots.v!],
      );
      const divisor = rmsClipDivisor(updateSum, h.clipThreshold);
      cameUnfactoredApply({ decay }).run(
        n,
        [param, u, m0],
        [divisor, h.beta1, 1 - h.beta1, lr, h.weightDecay * lr],
        [u, m1],
      );
      return;
    }
    const dims = factoredDims(shape);
    const { colSums, rowFactor, colFactor } = workspaceViews(workspace, dims);
    colSums.fill(0);
    squareStats({ param: false }).run(dims, [grad, param], [h.epsilon1, dims.cols, dims.rows, n], [], {
      rowSums: [out.slots.row!],
      colSums: [colSums],
    });
    emaOfMeans(slots.row!, out.slots.row!, h.beta2, 1 - h.beta2);
    emaOfSums(slots.col!, colSums, out.slots.col!, h.beta2, 1 - h.beta2);
    rsqrtFactors(out.slots.row!, out.slots.col!, dims, rowFactor, colFactor);
    const [updateSum = 0] = factoredUpdate.run(dims, [grad, rowFactor, colFactor], [n], [u]);
    const divisor = rmsClipDivisor(updateSum, h.clipThreshold);
    colSums.fill(0);
    cameResidual.run(dims, [u, m0], [divisor, h.beta1, 1 - h.beta1, h.epsilon2, dims.cols, dims.rows], [m1], {
      rowSums: [out.slots.resRow!],
      colSums: [colSums],
    });
    emaOfMeans(slots.resRow!, out.slots.resRow!, h.beta3, 1 - h.beta3);
    emaOfSums(slots.resCol!, colSums, out.slots.resCol!, h.beta3, 1 - h.beta3);
    rsqrtFactors(out.slots.resRow!, out.slots.resCol!, dims, rowFactor, colFactor);
    cameApply({ decay }).run(dims, [param, m1, rowFactor, colFactor], [lr, h.weightDecay * lr], [u]);
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
