import type { SlotSpec } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** Adafactor factors a variable's second moment when it has at least two dimensions. */
export function isFactored(shape: readonly number[]): boolean {
  return shape.length >= 2;
}

/**
 * The row and column statistics of a variable of rank ≥ 2, factored over its last two dims
 * (leading dims are batched): `row` is `shape[:-1]`, `col` is `shape[:-2] + shape[-1:]`.
 */
export function factoredSlots(shape: readonly number[], row: string, col: string): SlotSpec {
  return {
    [row]: { shape: shape.slice(0, -1), value: 0 },
    [col]: { shape: [...shape.slice(0, -2), shape[shape.length - 1]!], value: 0 },
  };
}

/** Root mean square of a whole tensor, as a scalar tensor. */
export function rms(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.mean(tf.square(x)));
}

/** Adafactor's update clipping: `u / max(1, RMS(u) / threshold)`. */
export function clipByRms(update: tf.Tensor, threshold: number): tf.Tensor {
  return tf.div(update, tf.maximum(tf.div(rms(update), threshold), 1));
}

/** `beta · average + (1 − beta) · value`, in the order the reference code computes it. */
export function ema(average: tf.Tensor, value: tf.Tensor, beta: number, oneMinusBeta = 1 - beta): tf.Tensor {
  return tf.add(tf.mul(average, beta), tf.mul(value, oneMinusBeta));
}

/**
 * Folds `square` (of the variable's shape) into the factored statistics and returns them:
 * `row ← β·row + (1−β)·mean(square, −1)`, `col ← β·col + (1−β)·mean(square, −2)`.
 */
export function updateFactored(
  row: tf.Tensor,
  col: tf.Tensor,
  square: tf.Tensor,
  beta: number,
  oneMinusBeta = 1 - beta,
): { row: tf.Tensor; col: tf.Tensor } {
  const rank = square.rank;
  return {
    row: ema(row, tf.mean(square, rank - 1), beta, oneMinusBeta),
    col: ema(col, tf.mean(square, rank - 2), beta, oneMinusBeta),
  };
}

/**
 * `1/sqrt(V̂)` of the rank-1 reconstruction `V̂ᵢⱼ = rowᵢ · colⱼ / mean(row)` (fairseq's
 * `_approx_sq_grad`), with the shape of the variable.
 */
export function factoredRsqrt(row: tf.Tensor, col: tf.Tensor): tf.Tensor {
  const rowFactor = tf.rsqrt(tf.div(row, tf.mean(row, row.rank - 1, true)));
  return tf.mul(tf.expandDims(rowFactor, -1), tf.expandDims(tf.rsqrt(col), -2));
}
