// Shared by the tests of this package only (not exported, not bundled): a seeded generator, the
// golden-run harness that feeds the same float32 gradients to an optimizer and to a float64
// reference, and a tensor-count check.

import { seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';

export { seededRandom };

import { expect } from 'vitest';

/** Per-element tolerance of every golden comparison: `1e-6 + 2e-4 · |expected|`. */
export const ABSOLUTE_TOLERANCE = 1e-6;
export const RELATIVE_TOLERANCE = 2e-4;

/** Variables of rank 0, 1, 2 and 3, updated together in every golden run. */
export const GOLDEN_SHAPES: readonly (readonly number[])[] = [[], [5], [3, 4], [2, 3, 2]];
/** Gradient scale and mean per variable, so that magnitudes differ and averages are not zero. */
const GRADIENT_SCALE = [1, 0.1, 3, 0.5];
const GRADIENT_OFFSET = [0.2, -0.3, 0.1, 0.5];

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** One variable's float64 reference: updates `p` in place from `g`, keeping its own state. */
export type ReferenceStep = (p: Float64Array, g: Float64Array, context: ReferenceContext) => void;

export interface ReferenceContext {
  /** This variable's update number, 1 on its first update (PyTorch's per-parameter `step`). */
  t: number;
  /** Completed optimizer steps before this one (what schedules receive). */
  iteration: number;
}

export interface GoldenRun {
  /** Makes the optimizer under test, given the variables (for param groups). */
  create: (variables: tf.Variable[]) => tf.Optimizer & { variableSteps(): Map<string, number> };
  /** Makes the float64 reference of variable `index` (its shape is `GOLDEN_SHAPES[index]`). */
  reference: (index: number) => ReferenceStep;
  steps: number;
  seed: number;
  /** Variable `index` gets a `null` gradient at (0-based) step `step` when this returns true. */
  skip?: (index: number, step: number) => boolean;
}

/**
 * Runs `steps` optimizer steps and the float64 reference side by side on pseudo-random
 * gradients (rounded to float32 so both see the same inputs), asserting after every step that each
 * element is within `1e-6 + 2e-4 · |expected|`. Returns the worst error as a fraction of the
 * tolerance (≤ 1 when it passes).
 */
export async function runGolden(run: GoldenRun): Promise<number> {
  const random = seededRandom(run.seed);
  const uniform = () => 2 * random() - 1;
  const reference = GOLDEN_SHAPES.map((shape) =>
    Float64Array.from({ length: size(shape) }, () => Math.fround(uniform() * 2)),
  );
  const variables = GOLDEN_SHAPES.map((shape, i) =>
    tf.variable(tf.tensor(Float32Array.from(reference[i]!), [...shape])),
  );
  const optimizer = run.create(variables);
  const steppers = GOLDEN_SHAPES.map((_, i) => run.reference(i));
  const counts = GOLDEN_SHAPES.map(() => 0);
  let worst = 0;
  try {
    for (let step = 0; step < run.steps; step++) {
      const grads: Record<string, tf.Tensor | null> = {};
      const values: (Float64Array | null)[] = GOLDEN_SHAPES.map((shape, i) => {
        const g = Float64Array.from({ length: size(shape) }, () =>
          Math.fround(GRADIENT_SCALE[i]! * (GRADIENT_OFFSET[i]! + uniform())),
        );
        if (run.skip?.(i, step)) {
          grads[variables[i]!.name] = null;
          return null;
        }
        grads[variables[i]!.name] = tf.tensor(Float32Array.from(g), [...shape]);
        return g;
      });
      optimizer.applyGradients(grads as tf.NamedTensorMap);
      tf.dispose(Object.values(grads).filter((g): g is tf.Tensor => g !== null));
      values.forEach((g, i) => {
        if (g === null) return;
        counts[i]! += 1;
        steppers[i]!(reference[i]!, g, { t: counts[i]!, iteration: step });
      });
      for (let i = 0; i < variables.length; i++) {
        const actual = variables[i]!.dataSync();
        const expected = reference[i]!;
        for (let k = 0; k < expected.length; k++) {
          const e = expected[k]!;
          const a = actual[k]!;
          const ratio = Math.abs(a - e) / (ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * Math.abs(e));
          if (!(ratio <= 1)) {
            expect.fail(
              `step ${step + 1}, variable of shape [${GOLDEN_SHAPES[i]}], element ${k}: got ${a}, expected ${e}`,
            );
          }
          worst = Math.max(worst, ratio);
        }
      }
    }
    // Each variable's own step count: the skipped ones advance only when they get a gradient.
    const stepsByName = optimizer.variableSteps();
    expect(variables.map((v) => stepsByName.get(v.name))).toEqual(counts);
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  if (process.env.OPTIMKIT_REPORT)
    console.log(`golden seed ${run.seed}: worst error ${worst.toFixed(4)} of tolerance`);
  return worst;
}

/**
 * Checks the tensor count: constant from the second step on, and back to the count before the
 * optimizer existed after `dispose()`. Returns the number of tensors the optimizer holds.
 */
export function checkMemory(create: () => tf.Optimizer, steps = 6): number {
  const x = tf.variable(
    tf.tensor2d([
      [1, -2],
      [3, 0.5],
    ]),
  );
  const y = tf.variable(tf.scalar(0.7));
  const baseline = tf.memory().numTensors;
  const optimizer = create();
  const counts: number[] = [];
  for (let step = 0; step < steps; step++) {
    optimizer.minimize(() => tf.add(tf.sum(tf.square(x)), tf.mul(tf.square(y), 3)));
    counts.push(tf.memory().numTensors);
  }
  const held = counts[0]! - baseline;
  for (const count of counts.slice(1)) expect(count).toBe(counts[1]);
  optimizer.dispose();
  expect(tf.memory().numTensors).toBe(baseline);
  tf.dispose([x, y]);
  return held;
}

/** The values of a variable after each of `steps` minimizations of Σ x² (tfjs's own test loss). */
export async function trajectory(
  optimizer: tf.Optimizer,
  start: number[],
  steps: number,
): Promise<number[][]> {
  const x = tf.variable(tf.tensor1d(start));
  const out: number[][] = [];
  try {
    for (let i = 0; i < steps; i++) {
      optimizer.minimize(() => tf.sum(tf.square(x)));
      out.push(Array.from(await x.data()));
    }
  } finally {
    x.dispose();
    optimizer.dispose();
  }
  return out;
}

/** Asserts that every element of `actual` is within `1e-6 + 2e-4 · |expected|` of `expected`. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const e = expected[k]!;
    const a = actual[k]!;
    if (!(Math.abs(a - e) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * Math.abs(e))) {
      expect.fail(
        `element ${k}: got ${a}, expected ${e} (all: [${Array.from(actual)}] vs [${Array.from(expected)}])`,
      );
    }
  }
}

/** Runs `gradients` through `optimizer` on a fresh vector variable from `start`; returns the values after each step, then disposes both. */
export async function steps(
  optimizer: tf.Optimizer,
  start: number[],
  gradients: number[][],
): Promise<number[][]> {
  const x = tf.variable(tf.tensor1d(start));
  const out: number[][] = [];
  try {
    for (const g of gradients) {
      const grad = tf.tensor1d(g);
      optimizer.applyGradients({ [x.name]: grad });
      grad.dispose();
      out.push(Array.from(await x.data()));
    }
  } finally {
    x.dispose();
    optimizer.dispose();
  }
  return out;
}
