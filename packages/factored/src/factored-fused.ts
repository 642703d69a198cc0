/**
 * The factored second-moment statistics of factored.ts for the fused updates, over float32 arrays:
 * elementwise kernels for the passes over the whole tensor, plain loops for the small row and
 * column vectors. Each reproduces the composite ops' rounding on the cpu backend (its Mean divides
 * every element by the count and sums in float64, rounding once).
 */
import { type ElementwiseDims, elementwise, elementwiseVariants } from '@optimkit/core';

/** A rank ≥ 2 shape as `batches × rows × cols` (the factored dimensions are the last two). */
export function factoredDims(shape: readonly number[]): ElementwiseDims {
  let batches = 1;
  for (let d = 0; d < shape.length - 2; d++) batches *= shape[d]!;
  return { batches, rows: shape[shape.length - 2]!, cols: shape[shape.length - 1]! };
}

/** Float32 elements of workspace a fused factored update needs for a variable of `shape`. */
export function factoredWorkspace(shape: readonly number[]): number {
  if (shape.length < 2) return 0;
  const { batches, rows, cols } = factoredDims(shape);
  return 3 * batches * cols + batches * rows;
}

/** The workspace as column sums (float64), row factors and column factors. */
export function workspaceViews(
  workspace: Float32Array,
  { batches, rows, cols }: ElementwiseDims,
): { colSums: Float64Array; rowFactor: Float32Array; colFactor: Float32Array } {
  const colSums = new Float64Array(workspace.buffer, workspace.byteOffset, batches * cols);
  const rowFactor = workspace.subarray(2 * batches * cols, 2 * batches * cols + batches * rows);
  const colFactor = workspace.subarray(
    2 * batches * cols + batches * rows,
    3 * batches * cols + batches * rows,
  );
  return { colSums, rowFactor, colFactor };
}

/**
 * `ema(average, mean, β)` per entry, where `means` holds the means (rounded) and receives the
 * result: `average·β + mean·(1 − β)`, rounded as the ops round it.
 */
export function emaOfMeans(
  average: Float32Array,
  means: Float32Array,
  beta: number,
  oneMinusBeta: number,
): void {
  const f = Math.fround;
  const b = f(beta);
  const c = f(oneMinusBeta);
  for (let k = 0; k < average.length; k++) means[k] = f(f(average[k]! * b) + f(means[k]! * c));
}

/** {@link emaOfMeans} from float64 sums (column means), rounded once, into `out`. */
export function emaOfSums(
  average: Float32Array,
  sums: Float64Array,
  out: Float32Array,
  beta: number,
  oneMinusBeta: number,
): void {
  const f = Math.fround;
  const b = f(beta);
  const c = f(oneMinusBeta);
  for (let k = 0; k < average.length; k++) out[k] = f(f(average[k]! * b) + f(f(sums[k]!) * c));
}

/**
 * The two factors of `factoredRsqrt(row, col)`: `rsqrt(row / mean(row, -1))` per row and
 * `rsqrt(col)` per column; the product of a row's and a column's factor, rounded, is the tensor.
 */
export function rsqrtFactors(
  row: Float32Array,
  col: Float32Array,
  { batches, rows }: ElementwiseDims,
  rowFactor: Float32Array,
  colFactor: Float32Array,
): void {
  const f = Math.fround;
  const n = f(rows);
  for (let b = 0; b < batches; b++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += f(row[b * rows + i]! / n);
    const mean = f(sum);
    for (let i = 0; i < rows; i++) rowFactor[b * rows + i] = f(1 / Math.sqrt(f(row[b * rows + i]! / mean)));
  }
  for (let k = 0; k < col.length; k++) colFactor[k] = f(1 / Math.sqrt(col[k]!));
}

/** The divisor of `clipByRms(u, threshold)`, `max(rms(u) / threshold, 1)`, from Σ fround(u²/n). */
export function rmsClipDivisor(meanSum: number, threshold: number): number {
  const f = Math.fround;
  return Math.max(f(f(Math.sqrt(f(meanSum))) / f(threshold)), 1);
}

/**
 * The row means (Σ x/cols per row, written as rowSums[0]) and column sums of x/rows (added to
 * colSums[0]) of `x = g² + ε₁` for input 0 = g; scalars ε₁, cols, rows. With `param`, also
 * Σ p²/n over input 1 = p (scalar 3 = n), for Adafactor's parameter scale.
 */
export const squareStats = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { param: boolean }) => {
    const g = e.input(0);
    const square = e.add(e.mul(g, g), e.scalar(0));
    e.rowSum(e.div(square, e.scalar(1)));
    e.colSum(e.div(square, e.scalar(2)));
    if (flags.param) e.sum(e.div(e.mul(e.input(1), e.input(1)), e.scalar(3)));
    return [];
  },
  { inputs: 2, scalars: 4 },
);

/**
 * The unclipped factored update `rsqrt-factors · g` (input 0 = g, row input 1 = row factors, column
 * input 2 = column factors) and Σ u²/n (scalar 0 = n).
 */
export const factoredUpdate = /* @__PURE__ */ elementwise((e) => {
  const u = e.mul(e.mul(e.rowInput(1), e.colInput(2)), e.input(0));
  e.sum(e.div(e.mul(u, u), e.scalar(0)));
  return [u];
});

/**
 * The unfactored second moment and update: inputs g, v, p; scalars ε₁, β, 1 − β, n. Outputs
 * u = rsqrt(v′)·g and v′ = v·β + (g² + ε₁)·(1 − β); sums Σ u²/n and, with `param`, Σ p²/n.
 */
export const unfactoredUpdate = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { param: boolean }) => {
    const g = e.input(0);
    const square = e.add(e.mul(g, g), e.scalar(0));
    const v = e.add(e.mul(e.input(1), e.scalar(1)), e.mul(square, e.scalar(2)));
    const u = e.mul(e.rsqrt(v), g);
    const n = e.scalar(3);
    e.sum(e.div(e.mul(u, u), n));
    if (flags.param) e.sum(e.div(e.mul(e.input(2), e.input(2)), n));
    return [u, v];
  },
  { inputs: 3, scalars: 4 },
);
