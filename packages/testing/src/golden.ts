/**
 * Building blocks for golden tests against an independent float64 reference: seeded inputs that are
 * exact in float32, the float32-honest tolerance, and a check that a step downloads no tensor data.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` uniform values in [−scale, scale), rounded to float32 so both sides see the same numbers. */
export function float32Values(random: () => number, size: number, scale = 1): Float64Array {
  return Float64Array.from({ length: size }, () => Math.fround((random() * 2 - 1) * scale));
}

/** The golden tolerance of one element: `1e-6 + 2e-4·|expected|`. */
export function goldenTolerance(expected: number): number {
  return 1e-6 + 2e-4 * Math.abs(expected);
}

/**
 * Asserts `actual ≈ expected` elementwise within {@link goldenTolerance}, naming the first element
 * that is off; returns the worst |difference| / tolerance seen (≤ 1 when it passes).
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label = 'values',
): number {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i]!;
    const got = actual[i]!;
    const ratio = Math.abs(got - want) / goldenTolerance(want);
    if (!(ratio <= 1))
      expect.fail(`${label}[${i}]: got ${got}, expected ${want} (tolerance ${goldenTolerance(want)})`);
    worst = Math.max(worst, ratio);
  }
  return worst;
}

/** Runs `fn` and counts the tensor downloads (`data`, `dataSync`, `array`, `arraySync`, `bytes`) it makes. */
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
