// Shared by the tests of this package only (not exported, not bundled): the family's inputs to
// the kit's golden harness, a tensor-count check and a Σ x² trajectory.

import {
  expectClose,
  float32Values,
  type GoldenOptimizer,
  runGolden,
  seededRandom,
  traceSteps as steps,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export { expectClose, seededRandom, steps };

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

export interface AdaptiveGoldenRun {
  /** Makes the optimizer under test, given the variables (for param groups). */
  create: (variables: tf.Variable[]) => GoldenOptimizer & { variableSteps(): Map<string, number> };
  /** Makes the float64 reference of variable `index` (its shape is `GOLDEN_SHAPES[index]`). */
  reference: (index: number) => ReferenceStep;
  steps: number;
  seed: number;
  /** Variable `index` gets a `null` gradient at (0-based) step `step` when this returns true. */
  skip?: (index: number, step: number) => boolean;
}

/**
 * The family's golden run (the harness is `runGolden` of `@optimkit/testing`): initial values
 * uniform in ±2, gradients of a scale and mean per variable, from one seeded stream, exact in
 * float32; every element after every step within `1e-6 + 2e-4·|expected|`, and each variable's own
 * step count at the end (skipped variables advance only when they get a gradient). Returns the
 * worst error as a fraction of the tolerance.
 */
export function runAdaptiveGolden(run: AdaptiveGoldenRun): number {
  const random = seededRandom(run.seed);
  const steppers = GOLDEN_SHAPES.map((_, i) => run.reference(i));
  return runGolden({
    name: 'adaptiveGolden',
    shapes: GOLDEN_SHAPES,
    initial: GOLDEN_SHAPES.map((shape) => float32Values(random, size(shape), 2)),
    gradients: (step) =>
      GOLDEN_SHAPES.map((shape, i) => {
        const g = Float64Array.from({ length: size(shape) }, () =>
          Math.fround(GRADIENT_SCALE[i]! * (GRADIENT_OFFSET[i]! + 2 * random() - 1)),
        );
        return run.skip?.(i, step) ? null : g;
      }),
    create: run.create,
    reference: (p, g, { index, t, step }) => steppers[index]!(p, g, { t, iteration: step }),
    steps: run.steps,
    after: (optimizer, variables, { updates }) => {
      const stepsByName = optimizer.variableSteps();
      expect(variables.map((v) => stepsByName.get(v.name))).toEqual(updates);
    },
  }).worst;
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
