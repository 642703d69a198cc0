import { elementwise } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** The L2 (Frobenius) norm of a whole tensor, as a scalar tensor. */
export function l2Norm(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x)));
}

/** `l2Norm` of a float32 array from its float64 sum of squares, rounded as the composite ops round it. */
export function normFromSum(sumOfSquares: number): number {
  return Math.fround(Math.sqrt(Math.fround(sumOfSquares)));
}

/** The sums of squares of two arrays in one pass (for `normFromSum`). */
export const sumsOfSquares = /* @__PURE__ */ elementwise((e) => {
  e.sum(e.mul(e.input(0), e.input(0)));
  e.sum(e.mul(e.input(1), e.input(1)));
  return [];
});
