/**
 * Test support for the Adam family (not part of the package entry): a seeded generator, a golden
 * harness that runs an optimizer beside an independent float64 reference, and a memory check.
 */

import {
  expectClose,
  seededRandom as mulberry32,
  goldenTolerance as tolerance,
} from '@optimkit/core/testing';
import * as tf from '@tensorflow/tfjs-core';

export { expectClose, mulberry32, tolerance };

import { expect } from 'vitest';

/** What the helpers need of an optimizer: a tf.Optimizer whose slots can be read. */
export type InspectableOptimizer = tf.Optimizer & {
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
};

/** Ranks 0 to 3, updated together. */
export const SHAPES: readonly (readonly number[])[] = [[], [3], [2, 3], [2, 2, 2]];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * One step of a reference optimizer on one variable, in float64: updates `p` and `state` in place.
 * `t` is the variable's step, 1 on its first update.
 */
export type ReferenceStep = (
  p: Float64Array,
  g: Float64Array,
  state: Record<string, Float64Array>,
  t: number,
) => void;

/**
 * Gradient scale by step: large, then small (so v and the infinity norm shrink, AMSGrad's max
 * matters), then medium with a spike.
 */
function gradientScale(step: number): number {
  if (step <= 8) return 2;
  if (step <= 20) return 0.05;
  return step % 7 === 0 ? 3 : 0.5;
}

let counter = 0;

/** What a golden run measured. */
export interface GoldenResult {
  /** The worst |actual − expected| / tolerance over every element of every step (≤ 1 to pass). */
  worst: number;
  /** The reference's final state per variable, to check that a branch was exercised. */
  states: Record<string, Float64Array>[];
  /** The reference's steps, per variable. */
  steps: number;
}

/**
 * Runs `optimizer` and `reference` side by side for `steps` steps on variables of rank 0 to 3 with
 * seeded pseudo-random gradients (rounded to float32 for both), and compares every parameter after
 * every step, and the slots named in `slotNames` at the end.
 */
export function runGolden(
  optimizer: InspectableOptimizer,
  reference: ReferenceStep,
  { steps, seed, slotNames = [] }: { steps: number; seed: number; slotNames?: readonly string[] },
): GoldenResult {
  const random = mulberry32(seed);
  const uniform = (n: number, scale: number) =>
    Float64Array.from({ length: n }, () => Math.fround((random() * 2 - 1) * scale));
  counter += 1;
  const expected = SHAPES.map((shape) => uniform(size(shape), 1.5));
  const variables = SHAPES.map((shape, i) =>
    tf.variable(
      tf.tensor(Float32Array.from(expected[i]!), [...shape], 'float32'),
      true,
      `golden${counter}/rank${shape.length}`,
    ),
  );
  const states: Record<string, Float64Array>[] = SHAPES.map(() => ({}));
  let worst = 0;
  try {
    for (let t = 1; t <= steps; t++) {
      const grads = SHAPES.map((shape) => uniform(size(shape), gradientScale(t)));
      const map: tf.NamedTensorMap = {};
      variables.forEach((v, i) => {
        map[v.name] = tf.tensor(Float32Array.from(grads[i]!), [...v.shape], 'float32');
      });
      optimizer.applyGradients(map);
      tf.dispose(Object.values(map));
      SHAPES.forEach((_, i) => {
        reference(expected[i]!, grads[i]!, states[i]!, t);
        const actual = variables[i]!.dataSync();
        worst = Math.max(worst, expectClose(actual, expected[i]!, `step ${t}, rank ${SHAPES[i]!.length}`));
      });
    }
    variables.forEach((v, i) => {
      const slots = optimizer.getSlots(v.name)!;
      for (const name of slotNames) {
        worst = Math.max(
          worst,
          expectClose(slots[name]!.dataSync(), states[i]![name]!, `slot ${name} of ${v.name}`),
        );
      }
    });
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  return { worst, states, steps };
}

/** The top-level and group hyperparameters of {@link runGoldenWithGroup}, as a reference takes them. */
export interface GroupHyperparameters {
  lr: number;
  weightDecay: number;
}

/**
 * {@link runGolden} over 40 steps with one param group: the variables of rank ≤ 1 (1 and 3
 * elements) take learning rate 0.05 and no weight decay, the others the top level's 0.01 and 0.1;
 * `reference` makes the float64 step of either from those two hyperparameters.
 */
export function runGoldenWithGroup(
  create: (options: {
    learningRate: number;
    weightDecay: number;
    paramGroups: { match: (v: tf.Variable) => boolean; learningRate: number; weightDecay: number }[];
  }) => InspectableOptimizer,
  reference: (h: GroupHyperparameters) => ReferenceStep,
  slotNames: readonly string[],
): GoldenResult {
  const top = reference({ lr: 0.01, weightDecay: 0.1 });
  const group = reference({ lr: 0.05, weightDecay: 0 });
  const optimizer = create({
    learningRate: 0.01,
    weightDecay: 0.1,
    paramGroups: [{ match: (v) => v.rank <= 1, learningRate: 0.05, weightDecay: 0 }],
  });
  return runGolden(optimizer, (p, g, s, t) => (p.length <= 3 ? group : top)(p, g, s, t), {
    steps: 40,
    seed: 7,
    slotNames,
  });
}

/** Zeros state entries on first use. */
export function stateOf(state: Record<string, Float64Array>, key: string, n: number): Float64Array {
  state[key] ??= new Float64Array(n);
  return state[key];
}

/**
 * Applies the given gradients one step at a time to a fresh variable and returns its value after
 * each step (float32 values as numbers).
 */
export function trace(optimizer: tf.Optimizer, initial: number[], gradients: number[][]): number[][] {
  counter += 1;
  const variable = tf.variable(tf.tensor1d(initial), true, `trace${counter}`);
  const out: number[][] = [];
  try {
    for (const g of gradients) {
      const grad = tf.tensor1d(g);
      optimizer.applyGradients({ [variable.name]: grad });
      grad.dispose();
      out.push(Array.from(variable.dataSync()));
    }
  } finally {
    optimizer.dispose();
    variable.dispose();
  }
  return out;
}

/** The raw float32 bits of a trace, for bit-identity checks. */
export function bitsOf(values: number[][]): number[][] {
  return values.map((row) => Array.from(new Uint32Array(Float32Array.from(row).buffer)));
}

/**
 * Runs many steps on variables of rank 0 to 3 and asserts that `tf.memory().numTensors` is the
 * same after every step from the second on, and back to its baseline after `dispose()`.
 */
export function expectNoLeaks(optimizer: InspectableOptimizer, steps = 100): void {
  counter += 1;
  const random = mulberry32(counter);
  const variables = SHAPES.map((shape) =>
    tf.variable(
      tf.randomUniform([...shape], -1, 1, 'float32', counter),
      true,
      `memory${counter}/rank${shape.length}`,
    ),
  );
  const baseline = tf.memory().numTensors;
  let afterFirst = -1;
  for (let t = 1; t <= steps; t++) {
    const map: tf.NamedTensorMap = {};
    for (const v of variables)
      map[v.name] = tf.tensor(Float32Array.from({ length: v.size }, random), [...v.shape]);
    optimizer.applyGradients(map);
    tf.dispose(Object.values(map));
    if (t === 1) afterFirst = tf.memory().numTensors;
    else if (tf.memory().numTensors !== afterFirst) {
      expect.fail(`step ${t}: ${tf.memory().numTensors} tensors, ${afterFirst} after the first step`);
    }
  }
  expect(afterFirst).toBeGreaterThan(baseline);
  optimizer.dispose();
  expect(tf.memory().numTensors).toBe(baseline);
  tf.dispose(variables);
}
