/**
 * Test-only inputs of this package's golden tests (not exported by the package): float64
 * reference arithmetic over the last two dims, and the seeded variables and gradients the kit's
 * golden harness (`runGolden` of `@optimkit/testing`) feeds to an optimizer and its reference.
 */

import { seededRandom as mulberry32 } from '@optimkit/testing';

export { mulberry32 };

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A rank ≥ 2 shape seen as `batch` matrices of `rows × cols` (the last two dims). */
export function matrixDims(shape: readonly number[]): { batch: number; rows: number; cols: number } {
  return {
    batch: sizeOf(shape.slice(0, -2)),
    rows: shape[shape.length - 2]!,
    cols: shape[shape.length - 1]!,
  };
}

/** Root mean square in float64. */
export function refRms(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / x.length);
}

/**
 * Folds `square` (row-major, `batch × rows × cols`) into the row statistic (`batch × rows`) and
 * column statistic (`batch × cols`) in place: `stat ← beta·stat + (1 − beta)·mean`.
 */
export function refFoldFactored(
  row: Float64Array,
  col: Float64Array,
  square: Float64Array,
  shape: readonly number[],
  beta: number,
): void {
  const { batch, rows, cols } = matrixDims(shape);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += square[(b * rows + i) * cols + j]!;
      const k = b * rows + i;
      row[k] = beta * row[k]! + (1 - beta) * (sum / cols);
    }
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let i = 0; i < rows; i++) sum += square[(b * rows + i) * cols + j]!;
      const k = b * cols + j;
      col[k] = beta * col[k]! + (1 - beta) * (sum / rows);
    }
  }
}

/** `x / sqrt(rowᵢ · colⱼ / mean(row))` element-wise, per matrix of the batch. */
export function refFactoredScale(
  row: Float64Array,
  col: Float64Array,
  x: Float64Array,
  shape: readonly number[],
): Float64Array {
  const { batch, rows, cols } = matrixDims(shape);
  const out = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    let rowMean = 0;
    for (let i = 0; i < rows; i++) rowMean += row[b * rows + i]!;
    rowMean /= rows;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const k = (b * rows + i) * cols + j;
        out[k] = x[k]! / Math.sqrt((row[b * rows + i]! * col[b * cols + j]!) / rowMean);
      }
    }
  }
  return out;
}

/** The variables of the golden tests: ranks 0 to 3, updated together. */
export const GOLDEN_SHAPES: readonly (readonly number[])[] = [[], [5], [4, 3], [2, 3, 4]];

/**
 * Deterministic gradients for `steps` steps, already rounded to float32 (both implementations see
 * the same numbers). Some are exactly zero or tiny on purpose, to reach the epsilon1 path:
 * the scalar's gradient is 0 on steps 1 and 4, column 1 of the matrix is 0 on steps 3–5, the
 * second matrix of the cube is 0 on step 1, and one vector entry is ±1e-20 on step 2.
 */
export function goldenGradients(seed: number, steps: number): Float64Array[][] {
  const random = mulberry32(seed);
  const out: Float64Array[][] = [];
  for (let t = 1; t <= steps; t++) {
    const grads = GOLDEN_SHAPES.map((shape, v) => {
      const g = new Float64Array(sizeOf(shape));
      const scale = 0.2 + v * 0.7;
      for (let k = 0; k < g.length; k++) g[k] = Math.fround((random() * 2 - 1) * scale);
      return g;
    });
    if (t === 1 || t === 4) grads[0]![0] = 0;
    if (t === 2) grads[1]![2] = Math.fround(-1e-20);
    if (t >= 3 && t <= 5) for (let i = 0; i < 4; i++) grads[2]![i * 3 + 1] = 0;
    if (t === 1) grads[3]!.fill(0, 12, 24);
    out.push(grads);
  }
  return out;
}

/** Initial values of the golden variables, rounded to float32. */
export function goldenParams(seed: number): Float64Array[] {
  const random = mulberry32(seed);
  return GOLDEN_SHAPES.map((shape) =>
    Float64Array.from({ length: sizeOf(shape) }, () => Math.fround(random() * 2 - 1)),
  );
}

/** The expected slots of a reference state: its tensors (the step count and absent slots left out). */
export function referenceSlots(state: object): Record<string, Float64Array> {
  return Object.fromEntries(
    Object.entries(state).filter((e): e is [string, Float64Array] => e[1] instanceof Float64Array),
  );
}
