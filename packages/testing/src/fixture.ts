/**
 * Replays a golden fixture recorded from a reference implementation (for instance real
 * `torch.optim` in float64, by a script committed beside the tests): the same float32 inputs go
 * through the optimizer under test, and every step's values and the final state are compared with
 * {@link expectClose}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expectClose } from './golden.js';

/** One recorded run: values are flattened row-major, one array per variable. */
export interface FixtureCase {
  title: string;
  /** The optimizer's options (without param groups). */
  options: Record<string, number>;
  /** Overrides for the variables of rank ≤ 1 (a param group), or null. */
  smallGroup: Record<string, number> | null;
  shapes: number[][];
  initial: number[][];
  /** Per step, per variable. */
  grads: number[][][];
  /** The reference's values after each step, per variable. */
  params: number[][][];
  /** The reference's final state per variable, by the reference's names. */
  state: Record<string, number[]>[];
}

/** What replaying needs of an optimizer. */
export interface FixtureOptimizer extends tf.Optimizer {
  /** The slots of a variable by name, or undefined when it has no state. */
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

/**
 * Runs `fixture` through `create(options)` (param group included, selecting variables of rank ≤ 1)
 * and compares the values after every step and then the slots named in `slots` (optimkit's slot
 * name → the reference's state name). Returns the worst error as a fraction of the tolerance.
 */
export function replayFixture(
  fixture: FixtureCase,
  create: (options: Record<string, unknown>) => FixtureOptimizer,
  slots: Record<string, string>,
): number {
  const variables = fixture.shapes.map((shape, i) =>
    tf.variable(tf.tensor(Float32Array.from(fixture.initial[i]!), shape, 'float32')),
  );
  const paramGroups = fixture.smallGroup
    ? [{ match: (v: tf.Variable) => v.rank <= 1, ...fixture.smallGroup }]
    : undefined;
  const optimizer = create({ ...fixture.options, ...(paramGroups ? { paramGroups } : {}) });
  let worst = 0;
  try {
    fixture.grads.forEach((row, step) => {
      const grads = row.map((g, i) => tf.tensor(Float32Array.from(g), fixture.shapes[i], 'float32'));
      optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, grads[i]!])));
      tf.dispose(grads);
      variables.forEach((v, i) => {
        const label = `${fixture.title}: step ${step + 1}, shape [${fixture.shapes[i]}]`;
        worst = Math.max(worst, expectClose(v.dataSync(), fixture.params[step]![i]!, label));
      });
    });
    variables.forEach((v, i) => {
      const state = optimizer.getSlots(v.name)!;
      for (const [slot, key] of Object.entries(slots)) {
        const label = `${fixture.title}: slot ${slot} of shape [${fixture.shapes[i]}]`;
        worst = Math.max(worst, expectClose(state[slot]!.dataSync(), fixture.state[i]![key]!, label));
      }
    });
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  return worst;
}
