/**
 * The golden-test harness: an optimizer and an independent float64 reference, side by side, over
 * many steps on variables of several ranks, with the same float32-exact inputs, compared element
 * by element after every step within {@link goldenTolerance}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectClose } from './golden.js';

/** What the harness knows of one variable's update when it calls a per-variable reference. */
export interface GoldenContext {
  /** The variable's index in `shapes`. */
  index: number;
  /** The variable's own update count, 1 on its first update (PyTorch's per-parameter `step`). */
  t: number;
  /** Completed optimizer steps before this one, 0 on the first (what schedules receive). */
  step: number;
  /** The reference's state of this variable, empty at first; the reference fills it as it likes. */
  state: Record<string, Float64Array>;
}

/** One update of a per-variable float64 reference: updates `p` in place from `g`. */
export type GoldenReference = (p: Float64Array, g: Float64Array, context: GoldenContext) => void;

/**
 * One step of a float64 reference over every variable at once (for rules that look across
 * variables): updates `params` in place; `grads[i]` is null when variable `i` gets no gradient.
 */
export type GoldenReferenceStep = (
  params: Float64Array[],
  grads: readonly (Float64Array | null)[],
  step: number,
) => void;

/** The optimizer a golden run drives: a tf.Optimizer whose slots can be read. */
export interface GoldenOptimizer extends tf.Optimizer {
  /** The slots of a variable by name, or undefined when it has no state. */
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

/** Describes a golden run to {@link runGolden}. */
export interface GoldenRun<O extends GoldenOptimizer = GoldenOptimizer> {
  /** Shapes of the variables, updated together (cover several ranks, 0 included). */
  shapes: readonly (readonly number[])[];
  /** Initial values of the variables, exact in float32 (see `float32Values`). */
  initial: readonly Float64Array[];
  /**
   * The gradients of step `step` (0-based), exact in float32, one per variable; `null` gives that
   * variable no gradient at that step. Called once per step, in order.
   */
  gradients: (step: number) => readonly (Float64Array | null)[];
  /** Makes the optimizer under test; it receives the variables (for param groups). */
  create: (variables: tf.Variable[]) => O;
  /** The per-variable float64 reference; exactly one of `reference` and `referenceStep` is given. */
  reference?: GoldenReference;
  /** The whole-step float64 reference. */
  referenceStep?: GoldenReferenceStep;
  /** Number of steps. */
  steps: number;
  /**
   * Also compare each variable's displacement from its initial value after every step (a small
   * update on a large parameter is then checked at its own scale). Default false.
   */
  displacement?: boolean;
  /**
   * The expected slots of variable `index` after the last step, by slot name; `state` is what a
   * per-variable reference kept. With `exactSlots`, the optimizer must hold exactly these slots.
   */
  slots?: (index: number, state: Record<string, Float64Array>) => Record<string, Float64Array>;
  /** With `slots`: the optimizer holds no slot but the expected ones. Default false. */
  exactSlots?: boolean;
  /** Extra checks after the last step, before the optimizer and variables are disposed. */
  after?: (optimizer: O, variables: tf.Variable[], result: GoldenResult) => void;
  /** Prefix of the variables' names. Default `'golden'`. */
  name?: string;
}

/** What a golden run measured. */
export interface GoldenResult {
  /** The worst |actual − expected| / tolerance over every compared element (≤ 1 when it passes). */
  worst: number;
  /** Each variable's number of updates (steps at which it had a gradient). */
  updates: number[];
  /** The per-variable reference's final state of each variable. */
  states: Record<string, Float64Array>[];
  /** The reference's final values. */
  values: Float64Array[];
}

let counter = 0;

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Runs an optimizer and an independent float64 reference side by side for `run.steps` steps on
 * variables of the given shapes, feeding both the same float32-exact gradients, and asserts after
 * every step that every element of every variable is within `1e-6 + 2e-4·|expected|`
 * ({@link goldenTolerance}), naming the step, variable and element that is not; then the slots.
 * Disposes the optimizer and the variables. The tolerance is float32-honest and never widened:
 * a failure is a bug in one of the two implementations.
 *
 * @example
 * ```ts
 * const random = seededRandom(7);
 * const shapes = [[], [5], [3, 4], [2, 3, 4]];
 * const { worst } = runGolden({
 *   shapes,
 *   initial: shapes.map((s) => float32Values(random, s.reduce((a, b) => a * b, 1))),
 *   gradients: () => shapes.map((s) => float32Values(random, s.reduce((a, b) => a * b, 1))),
 *   create: () => sgd({ learningRate: 0.1 }),
 *   reference: (p, g) => p.forEach((x, i) => (p[i] = x - 0.1 * g[i]!)),
 *   steps: 30,
 * });
 * expect(worst).toBeLessThanOrEqual(1);
 * ```
 */
export function runGolden<O extends GoldenOptimizer>(run: GoldenRun<O>): GoldenResult {
  if ((run.reference === undefined) === (run.referenceStep === undefined)) {
    throw new Error('runGolden: give exactly one of `reference` and `referenceStep`');
  }
  if (run.initial.length !== run.shapes.length) {
    throw new Error(`runGolden: ${run.initial.length} initial values for ${run.shapes.length} shapes`);
  }
  counter += 1;
  const prefix = `${run.name ?? 'golden'}${counter}`;
  const values = run.initial.map((v, i) => {
    if (v.length !== size(run.shapes[i]!)) {
      throw new Error(`runGolden: initial value ${i} has ${v.length} elements, shape [${run.shapes[i]}]`);
    }
    return Float64Array.from(v);
  });
  const start = values.map((v) => Float64Array.from(v));
  const variables = run.shapes.map((shape, i) => variableOf(`${prefix}/v${i}`, shape, values[i]!));
  const states: Record<string, Float64Array>[] = run.shapes.map(() => ({}));
  const updates = run.shapes.map(() => 0);
  const result: GoldenResult = { worst: 0, updates, states, values };
  let optimizer: O | undefined;
  try {
    optimizer = run.create(variables);
    for (let step = 0; step < run.steps; step++) {
      const grads = run.gradients(step);
      expect(grads.length, `step ${step + 1}: gradients`).toBe(variables.length);
      const map: Record<string, tf.Tensor | null> = {};
      variables.forEach((v, i) => {
        const g = grads[i];
        map[v.name] = g == null ? null : tf.tensor(Float32Array.from(g), [...v.shape], 'float32');
      });
      try {
        optimizer.applyGradients(map as tf.NamedTensorMap);
      } finally {
        tf.dispose(Object.values(map).filter((g): g is tf.Tensor => g !== null));
      }
      if (run.referenceStep) run.referenceStep(values, grads, step);
      grads.forEach((g, i) => {
        if (g == null) return;
        updates[i]! += 1;
        run.reference?.(values[i]!, g, { index: i, t: updates[i]!, step, state: states[i]! });
      });
      variables.forEach((v, i) => {
        const label = `step ${step + 1}, variable ${i} of shape [${run.shapes[i]}]`;
        const actual = v.dataSync();
        result.worst = Math.max(result.worst, expectClose(actual, values[i]!, label));
        if (run.displacement) {
          const moved = Float64Array.from(actual, (x, k) => x - start[i]![k]!);
          const expected = Float64Array.from(values[i]!, (x, k) => x - start[i]![k]!);
          result.worst = Math.max(result.worst, expectClose(moved, expected, `${label}, displacement`));
        }
      });
    }
    if (run.slots) {
      variables.forEach((v, i) => {
        const expected = run.slots!(i, states[i]!);
        const actual = optimizer!.getSlots(v.name) ?? {};
        if (run.exactSlots) {
          expect(Object.keys(actual).sort(), `slots of variable ${i}`).toEqual(Object.keys(expected).sort());
        }
        for (const [name, want] of Object.entries(expected)) {
          const slot = actual[name];
          if (slot === undefined) expect.fail(`variable ${i} has no slot '${name}'`);
          result.worst = Math.max(
            result.worst,
            expectClose(slot.dataSync(), want, `slot ${name} of variable ${i}`),
          );
        }
      });
    }
    run.after?.(optimizer, variables, result);
  } finally {
    optimizer?.dispose();
    tf.dispose(variables);
  }
  if (process.env.OPTIMKIT_REPORT)
    console.log(`${prefix}: worst error ${result.worst.toFixed(4)} of tolerance`);
  return result;
}

/**
 * Applies `gradients` one step at a time to a fresh vector variable starting at `initial` and
 * returns its values after each step; disposes the optimizer and the variable. For the first
 * steps of a test, derived by hand.
 */
export function traceSteps(optimizer: tf.Optimizer, initial: number[], gradients: number[][]): number[][] {
  counter += 1;
  const variable = variableOf(`trace${counter}`, [initial.length], initial);
  const out: number[][] = [];
  try {
    for (const g of gradients) {
      const grad = tf.tensor1d(g);
      try {
        optimizer.applyGradients({ [variable.name]: grad });
      } finally {
        grad.dispose();
      }
      out.push(Array.from(variable.dataSync()));
    }
  } finally {
    optimizer.dispose();
    variable.dispose();
  }
  return out;
}

/** Fresh trainable variables with unique names (`prefix…/v<i>`) and the given float32-exact values. */
export function makeVariables(
  prefix: string,
  shapes: readonly (readonly number[])[],
  values: readonly ArrayLike<number>[],
): tf.Variable[] {
  counter += 1;
  return shapes.map((shape, i) => variableOf(`${prefix}${counter}/v${i}`, shape, values[i]!));
}

function variableOf(name: string, shape: readonly number[], values: ArrayLike<number>): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(values), [...shape], 'float32'), true, name));
}

/** Applies one step of float32-exact gradient values to `variables` through `optimizer`. */
export function applyGradientValues(
  optimizer: tf.Optimizer,
  variables: readonly tf.Variable[],
  grads: readonly ArrayLike<number>[],
): void {
  const tensors = variables.map((v, i) => tf.tensor(Float32Array.from(grads[i]!), v.shape, 'float32'));
  try {
    optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, tensors[i]!])));
  } finally {
    tf.dispose(tensors);
  }
}
