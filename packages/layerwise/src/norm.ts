import { sumOfSquares } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** The L2 (Frobenius) norm of a whole tensor, as a scalar tensor. */
export function l2Norm(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x)));
}

/** {@link l2Norm} over a float32 array, rounded as the cpu backend's composite ops round it. */
export function fusedL2Norm(x: Float32Array): number {
  return Math.fround(Math.sqrt(sumOfSquares(x)));
}
