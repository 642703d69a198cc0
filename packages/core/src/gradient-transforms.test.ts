import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defineOptimizer, type OptimizerOptions } from './index.js';

// Plain gradient descent (p − lr·g), so that each test sees the transformed gradient directly.
const Descent = defineOptimizer({
  className: 'OptimkitTestDescent',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 1 },
  update: ({ param, grad, h }) => ({ param: tf.sub(param, tf.mul(grad, h.learningRate)) }),
});
type DescentOptions = OptimizerOptions<{ learningRate: number }>;

function setup(options: DescentOptions, initial: number[][]) {
  const variables = initial.map((values) => tf.variable(tf.tensor1d(values)));
  const optimizer = new Descent(options);
  const apply = (grads: number[][]) => {
    const tensors = grads.map((g) => tf.tensor1d(g));
    optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tensors[i]! })));
    tf.dispose(tensors);
  };
  const values = () => variables.map((v) => Array.from(v.dataSync()));
  const dispose = () => {
    optimizer.dispose();
    tf.dispose(variables);
  };
  return { variables, optimizer, apply, values, dispose };
}

describe('gradient transforms', () => {
  it('clipGradNorm rescales by min(1, max/(‖g‖ + 1e-6)) over all gradients (PyTorch clip_grad_norm_)', () => {
    const { apply, values, dispose } = setup({ clipGradNorm: 1 }, [[0, 0], [0]]);
    // ‖(3, 4, 12)‖ = 13, scale = 1/(13 + 1e-6)
    apply([[3, 4], [12]]);
    const scale = 1 / (13 + 1e-6);
    const got = values().flat();
    [-3 * scale, -4 * scale, -12 * scale].forEach((want, i) => {
      expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1e-6 + 2e-4 * Math.abs(want));
    });
    dispose();
  });

  it('clipGradNorm leaves gradients below the threshold (nearly) unchanged', () => {
    const { apply, values, dispose } = setup({ clipGradNorm: 100 }, [[0, 0]]);
    apply([[3, 4]]);
    expect(values()[0]).toEqual([-3, -4]);
    dispose();
  });

  it('clipGradValue clips every element, before the norm', () => {
    const { apply, values, dispose } = setup({ clipGradValue: 0.5, clipGradNorm: 0.5 }, [[0, 0, 0]]);
    // clipped to (0.5, −0.5, 0.25): norm = 0.75, scale = 0.5/(0.75 + 1e-6)
    apply([[2, -3, 0.25]]);
    const scale = 0.5 / (0.75 + 1e-6);
    const got = values()[0]!;
    [-0.5 * scale, 0.5 * scale, -0.25 * scale].forEach((want, i) => {
      expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1e-6 + 2e-4 * Math.abs(want));
    });
    dispose();
  });

  it('skipNonFinite skips a step with NaN or Inf entirely and counts it', async () => {
    const { optimizer, apply, values, dispose } = setup({ skipNonFinite: true, learningRate: 0.5 }, [
      [1, 2],
      [3],
    ]);
    apply([[1, 1], [1]]);
    const state = await optimizer.saveState();
    const before = values();
    apply([[Number.NaN, 1], [1]]);
    apply([[1, 1], [Number.POSITIVE_INFINITY]]);
    expect(values()).toEqual(before);
    expect(optimizer.iterations).toBe(1);
    expect(optimizer.skippedSteps).toBe(2);
    const after = await optimizer.saveState();
    const other = new Descent({ skipNonFinite: true, learningRate: 0.5 });
    await other.loadState(after);
    expect(other.skippedSteps).toBe(2);
    expect(state.length).toBe(after.length);
    apply([[2, 2], [2]]);
    expect(values()).toEqual([[-0.5, 0.5], [1.5]]);
    other.dispose();
    dispose();
  });

  it('without skipNonFinite a NaN gradient goes through (as in PyTorch)', () => {
    const { apply, values, dispose } = setup({}, [[1]]);
    apply([[Number.NaN]]);
    expect(Number.isNaN(values()[0]![0])).toBe(true);
    dispose();
  });

  it('accumulateSteps averages k calls and applies them on the k-th', () => {
    const { optimizer, apply, values, dispose } = setup({ accumulateSteps: 3, learningRate: 1 }, [
      [0, 0],
      [0],
    ]);
    apply([[0.1, 1], [3]]);
    apply([[0.2, 2], [0]]);
    expect(values()).toEqual([[0, 0], [0]]);
    expect(optimizer.iterations).toBe(0);
    expect(optimizer.accumulatedSteps).toBe(2);
    apply([[0.4, 3], [6]]);
    // mean = (sum in float32) / 3
    const mean = (xs: number[]) => Math.fround(xs.reduce((a, b) => Math.fround(a + b), 0) / 3);
    expect(values()).toEqual([[-mean([0.1, 0.2, 0.4].map(Math.fround)), -2], [-3]]);
    expect(optimizer.iterations).toBe(1);
    expect(optimizer.accumulatedSteps).toBe(0);
    dispose();
  });

  it('a variable with no gradient in an accumulation window is not updated', () => {
    const { apply, values, variables, optimizer, dispose } = setup({ accumulateSteps: 2 }, [[1], [1]]);
    apply([[1], [1]]);
    apply([[1], [1]]);
    const g = tf.tensor1d([4]);
    optimizer.applyGradients({ [variables[0]!.name]: g });
    optimizer.applyGradients({ [variables[0]!.name]: g });
    g.dispose();
    expect(values()).toEqual([[-4], [0]]);
    dispose();
  });

  it('a half-full accumulation is saved and continues bit-identically; tfjs-layers export refuses it', async () => {
    const grads = [[[0.3, -1]], [[0.7, 2]], [[0.1, 0.5]], [[0.9, -0.2]]];
    const straight = setup({ accumulateSteps: 2, learningRate: 0.1 }, [[1, 1]]);
    for (const g of grads) straight.apply(g);
    const expected = straight.values();
    straight.dispose();

    const first = setup({ accumulateSteps: 2, learningRate: 0.1 }, [[1, 1]]);
    for (const g of grads.slice(0, 3)) first.apply(g);
    await expect(first.optimizer.getWeights()).rejects.toThrow(/middle of a gradient accumulation/);
    const bytes = await first.optimizer.saveState();
    const resumed = new Descent({ accumulateSteps: 2, learningRate: 0.1 });
    await resumed.loadState(bytes);
    expect(resumed.accumulatedSteps).toBe(1);
    const g = tf.tensor1d(grads[3]![0]!);
    resumed.applyGradients({ [first.variables[0]!.name]: g });
    g.dispose();
    expect(first.values()).toEqual(expected);
    const mismatched = new Descent({ learningRate: 0.1 });
    await expect(mismatched.loadState(bytes)).rejects.toThrow(
      /1 accumulated calls, but this optimizer applies every 1/,
    );
    resumed.dispose();
    first.dispose();
  });

  it('saves and restores the state of a stateful schedule', async () => {
    // A minimal stateful schedule: halves the value each time it is told to.
    const makeSchedule = () => {
      let value = 1;
      const schedule = Object.assign((_step: number) => value, {
        halve: () => {
          value /= 2;
        },
        stateful: {
          saveState: () => ({ value }),
          loadState: (state: unknown) => {
            const v = (state as { value?: unknown }).value;
            if (typeof v !== 'number') throw new TypeError('bad schedule state');
            value = v;
          },
        },
      });
      return schedule;
    };
    const schedule = makeSchedule();
    const { optimizer, apply, dispose } = setup({ learningRate: schedule }, [[1]]);
    apply([[1]]);
    schedule.halve();
    schedule.halve();
    const bytes = await optimizer.saveState();
    const fresh = makeSchedule();
    const other = new Descent({ learningRate: fresh });
    await other.loadState(bytes);
    expect(fresh(0)).toBe(0.25);
    other.dispose();
    dispose();
  });
});
