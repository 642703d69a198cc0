/**
 * The factored statistics of {@link ./factored.ts} over float32 arrays, for the fused updates. Each
 * reproduces the composite ops' rounding on the cpu backend: its Mean divides every element by the
 * count and sums in float64, rounding once.
 */

/** A rank ≥ 2 shape as `batches × rows × cols` (the factored dimensions are the last two). */
export interface FactoredDims {
  batches: number;
  rows: number;
  cols: number;
}

export function factoredDims(shape: readonly number[]): FactoredDims {
  const rows = shape[shape.length - 2]!;
  const cols = shape[shape.length - 1]!;
  let batches = 1;
  for (let d = 0; d < shape.length - 2; d++) batches *= shape[d]!;
  return { batches, rows, cols };
}

/**
 * Float64 sums for the means along each row (`x / cols`, batches × rows) and along each column
 * (`x / rows`, batches × cols) of a factored tensor, filled by the callers' row-major loops.
 */
export interface FactoredSums {
  rowSums: Float64Array;
  colSums: Float64Array;
}

export function newSums({ batches, rows, cols }: FactoredDims): FactoredSums {
  return { rowSums: new Float64Array(batches * rows), colSums: new Float64Array(batches * cols) };
}

/**
 * `ema(average, mean, β)` of factored.ts for each entry, where the mean is the float64 sum in
 * `sums` rounded once: `average·β + mean·(1 − β)`, rounded as the ops round it.
 */
export function emaOfMeans(
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
  { batches, rows }: FactoredDims,
): { rowFactor: Float32Array; colFactor: Float32Array } {
  const f = Math.fround;
  const n = f(rows);
  const rowFactor = new Float32Array(row.length);
  for (let b = 0; b < batches; b++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += f(row[b * rows + i]! / n);
    const mean = f(sum);
    for (let i = 0; i < rows; i++) rowFactor[b * rows + i] = f(1 / Math.sqrt(f(row[b * rows + i]! / mean)));
  }
  const colFactor = new Float32Array(col.length);
  for (let k = 0; k < col.length; k++) colFactor[k] = f(1 / Math.sqrt(col[k]!));
  return { rowFactor, colFactor };
}

/** The divisor of `clipByRms(u, threshold)`: `max(rms(u) / threshold, 1)`, from Σ fround(u²/n). */
export function rmsClipDivisor(meanSum: number, threshold: number): number {
  const f = Math.fround;
  return Math.max(f(f(Math.sqrt(f(meanSum))) / f(threshold)), 1);
}
