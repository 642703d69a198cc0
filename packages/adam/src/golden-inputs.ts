/**
 * The Adam family's golden inputs (not part of the package entry): its seeded input streams for
 * the kit's golden harness, and a memory check.
 */

import {
  expectClose,
  float32Values,
  type GoldenOptimizer,
  type GoldenResult,
  runGolden,
  seededRandom,
  goldenTolerance as tolerance,
  traceSteps as trace,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export { expectClose, seededRandom as mulberry32, tolerance, trace };

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

/**
 * The family's golden run (the harness is `runGolden` of `@optimkit/testing`): `optimizer` and
 * `reference` side by side for `steps` steps on variables of rank 0 to 3, initial values uniform in
 * ±1.5 and gradients scaled by {@link gradientScale}, all from one seeded stream and exact in
 * float32; every parameter compared after every step, the slots named in `slotNames` at the end.
 */
export function runAdamGolden(
  optimizer: GoldenOptimizer,
  reference: ReferenceStep,
  { steps, seed, slotNames = [] }: { steps: number; seed: number; slotNames?: readonly string[] },
): GoldenResult {
  const random = seededRandom(seed);
  return runGolden({
    name: 'adamGolden',
    shapes: SHAPES,
    initial: SHAPES.map((shape) => float32Values(random, size(shape), 1.5)),
    gradients: (step) => SHAPES.map((shape) => float32Values(random, size(shape), gradientScale(step + 1))),
    create: () => optimizer,
    reference: (p, g, { state, t }) => reference(p, g, state, t),
    steps,
    slots: (_index, state) => Object.fromEntries(slotNames.map((name) => [name, state[name]!])),
  });
}

/** The top-level and group hyperparameters of {@link runGoldenWithGroup}, as a reference takes them. */
export interface GroupHyperparameters {
  lr: number;
  weightDecay: number;
}

/**
 * {@link runAdamGolden} over 40 steps with one param group: the variables of rank ≤ 1 (1 and 3
 * elements) take learning rate 0.05 and no weight decay, the others the top level's 0.01 and 0.1;
 * `reference` makes the float64 step of either from those two hyperparameters.
 */
export function runGoldenWithGroup(
  create: (options: {
    learningRate: number;
    weightDecay: number;
    paramGroups: { match: (v: tf.Variable) => boolean; learningRate: number; weightDecay: number }[];
  }) => GoldenOptimizer,
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
  return runAdamGolden(optimizer, (p, g, s, t) => (p.length <= 3 ? group : top)(p, g, s, t), {
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

/** The raw float32 bits of a trace, for bit-identity checks. */
export function bitsOf(values: number[][]): number[][] {
  return values.map((row) => Array.from(new Uint32Array(Float32Array.from(row).buffer)));
}

let counter = 0;

/**
 * Runs many steps on variables of rank 0 to 3 and asserts that `tf.memory().numTensors` is the
 * same after every step from the second on, and back to its baseline after `dispose()`.
 */
export function expectNoLeaks(optimizer: tf.Optimizer, steps = 100): void {
  counter += 1;
  const random = seededRandom(counter);
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
