/**
 * Helpers shared by the layerwise tests (not exported by the package): seeded random numbers,
 * variables of every rank, float64 vector arithmetic for the reference implementations, and the
 * element-wise comparison with the golden tolerance.
 */

import {
  countDownloads,
  expectClose,
  seededRandom as mulberry32,
  float32Values as randomValues,
} from '@optimkit/core/testing';
import * as tf from '@tensorflow/tfjs-core';

export { countDownloads, expectClose, mulberry32, randomValues };

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

/** Golden-test variables: ranks 0 to 3, and a last one that starts at zero (‖p‖ = 0 ⇒ ratio 1). */
export const shapes = [[], [5], [3, 4], [2, 3, 2], [2, 2]] as const;
/** Gradient scales per variable, so that the trust ratios differ widely between tensors. */
export const gradScales = [0.3, 2, 0.05, 1, 0.7];
export const STEPS = 30;
/** At this step the vector's gradient is all zeros (‖g‖ = 0: moments only decay, LARS's ratio is 1). */
export const ZERO_GRAD_STEP = 6;

export function initialValues(seed: number): Float64Array[] {
  const random = mulberry32(seed);
  return shapes.map((s, i) => (i === 4 ? new Float64Array(sizeOf(s)) : randomValues(random, sizeOf(s), 1)));
}

export function gradientsAt(seed: number, step: number): Float64Array[] {
  const random = mulberry32(seed * 1000 + step);
  return shapes.map((s, i) =>
    i === 1 && step === ZERO_GRAD_STEP
      ? new Float64Array(sizeOf(s))
      : randomValues(random, sizeOf(s), gradScales[i]!),
  );
}

export const isRankAtMostOne = (v: tf.Variable) => v.shape.length <= 1;

/** An optimizer whose slots the golden runs compare. */
export interface SlottedOptimizer extends tf.Optimizer {
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

/**
 * Runs {@link STEPS} steps of `optimizer` and of a float64 reference side by side on the golden
 * variables (same float32-exact values and gradients from `seed`), comparing every element after
 * every step; then hands each variable's slots and reference state to `checkState`, and disposes.
 */
export function runGoldenSteps<S>(
  name: string,
  seed: number,
  optimizer: SlottedOptimizer,
  reference: {
    init: (p: Float64Array) => S;
    step: (p: Float64Array, g: Float64Array, state: S, index: number, step: number) => void;
  },
  checkState: (slots: Readonly<Record<string, tf.Tensor>>, state: S, label: string) => void,
): void {
  const values = initialValues(seed);
  const states = values.map((p) => reference.init(p));
  const variables = makeVariables(name, shapes, values);
  try {
    for (let step = 0; step < STEPS; step++) {
      const grads = gradientsAt(seed, step);
      applyStep(optimizer, variables, grads);
      values.forEach((p, i) => {
        reference.step(p, grads[i]!, states[i]!, i, step);
      });
      variables.forEach((v, i) => {
        expectClose(v.dataSync(), values[i]!, `step ${step + 1}, ${v.name}`);
      });
    }
    variables.forEach((v, i) => {
      checkState(optimizer.getSlots(v.name) ?? {}, states[i]!, v.name);
    });
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
}
