/**
 * Helpers shared by the lion tests (not exported by the package): seeded random numbers,
 * variables of every rank, float64 vector arithmetic for the reference implementations, and the
 * element-wise comparison with the golden tolerance.
 */

import {
  expectClose,
  seededRandom as mulberry32,
  float32Values as randomValues,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';

export { expectClose, mulberry32, randomValues };

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

let counter = 0;

/** Fresh variables with unique names and the given float32-exact initial values. */
export function makeVariables(
  prefix: string,
  shapes: readonly (readonly number[])[],
  values: readonly Float64Array[],
): tf.Variable[] {
  counter += 1;
  return shapes.map((shape, i) =>
    tf.variable(tf.tensor(Array.from(values[i]!), [...shape], 'float32'), true, `${prefix}${counter}/v${i}`),
  );
}

/** Applies one step of float64 gradients (float32-exact) to the variables through `optimizer`. */
export function applyStep(optimizer: tf.Optimizer, variables: tf.Variable[], grads: readonly Float64Array[]) {
  const tensors = variables.map((v, i) => tf.tensor(Array.from(grads[i]!), v.shape, 'float32'));
  optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, tensors[i]!])));
  tf.dispose(tensors);
}

export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}
