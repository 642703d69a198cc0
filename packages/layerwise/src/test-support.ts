/**
 * Helpers shared by the layerwise tests (not exported by the package): seeded random numbers,
 * variables of every rank, float64 vector arithmetic for the reference implementations, and the
 * element-wise comparison with the golden tolerance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Deterministic uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32-representable uniform values in [−scale, scale), so both sides see the same numbers. */
export function randomValues(random: () => number, size: number, scale: number): Float64Array {
  return Float64Array.from({ length: size }, () => Math.fround((random() * 2 - 1) * scale));
}

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

/** The golden tolerance, per element: `1e-6 + 2e-4·|expected|`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = actual[i]!;
    const tolerance = 1e-6 + 2e-4 * Math.abs(want);
    if (!(Math.abs(got - want) <= tolerance)) {
      expect.fail(`${label}[${i}]: got ${got}, expected ${want} (tolerance ${tolerance})`);
    }
  }
}

export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** Runs `fn` and counts the tensor downloads (`data`, `dataSync`, `array`, `arraySync`) it makes. */
export function countDownloads(fn: () => void): number {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const methods = ['data', 'dataSync', 'array', 'arraySync', 'bytes'] as const;
  const originals = methods.map((m) => proto[m]!);
  let reads = 0;
  methods.forEach((m, i) => {
    proto[m] = function (this: tf.Tensor, ...args: unknown[]) {
      reads += 1;
      return originals[i]!.apply(this, args);
    };
  });
  try {
    fn();
  } finally {
    methods.forEach((m, i) => {
      proto[m] = originals[i]!;
    });
  }
  return reads;
}
