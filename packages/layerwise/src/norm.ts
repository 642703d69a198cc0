import * as tf from '@tensorflow/tfjs-core';

/** The L2 (Frobenius) norm of a whole tensor, as a scalar tensor. */
export function l2Norm(x: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x)));
}
