import { defineOptimizer } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { float32Values, seededRandom } from './golden.js';
import { type GoldenRun, runGolden, traceSteps } from './golden-run.js';

const shapes = [[], [5], [3, 4], [2, 3, 2]];
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// Heavy ball, as a plugin writes it: one slot `m`, m ← β·m + g, p ← p − lr·m.
const HeavyBall = defineOptimizer({
  className: 'OptimkitTestingHeavyBall',
  packageName: '@optimkit/testing-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1, beta: 0.9 },
  epsilons: [],
  slots: { m: 0 },
  rule: ({ param, grad, slots, s, op }) => {
    const m = op.add(op.mul(slots.m, s.beta), grad);
    return { param: op.sub(param, op.mul(m, s.learningRate)), slots: { m } };
  },
});
const momentum = (learningRate: number, beta: number) => new HeavyBall({ learningRate, beta });

function run(overrides: Partial<GoldenRun> = {}, skip?: (index: number, step: number) => boolean): GoldenRun {
  const random = seededRandom(3);
  return {
    shapes,
    initial: shapes.map((s) => float32Values(random, size(s), 2)),
    gradients: (step) => shapes.map((s, i) => (skip?.(i, step) ? null : float32Values(random, size(s)))),
    create: () => momentum(0.1, 0.9),
    reference: (p, g, { state }) => {
      state.m ??= new Float64Array(p.length);
      for (let k = 0; k < p.length; k++) {
        state.m[k] = 0.9 * state.m[k]! + g[k]!;
        p[k] = p[k]! - 0.1 * state.m[k]!;
      }
    },
    steps: 25,
    slots: (_i, state) => ({ m: state.m! }),
    exactSlots: true,
    ...overrides,
  };
}

describe('runGolden', () => {
  it('passes an optimizer that matches its float64 reference, and frees everything', () => {
    const before = tf.memory().numTensors;
    const result = runGolden(run());
    expect(result.worst).toBeLessThanOrEqual(1);
    expect(result.worst).toBeGreaterThan(0);
    expect(result.updates).toEqual([25, 25, 25, 25]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails, naming the step and variable, when the reference differs by 1e-3 relative', () => {
    const before = tf.memory().numTensors;
    const wrong = run({
      reference: (p, g, { state }) => {
        state.m ??= new Float64Array(p.length);
        for (let k = 0; k < p.length; k++) {
          state.m[k] = 0.9 * state.m[k]! + g[k]!;
          p[k] = p[k]! - 0.1001 * state.m[k]!;
        }
      },
    });
    expect(() => runGolden(wrong)).toThrow(/step \d+, variable \d of shape/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails on a slot that differs, and on a missing slot', () => {
    expect(() => runGolden(run({ slots: (_i, state) => ({ m: state.m!.map((x) => x * 1.01) }) }))).toThrow(
      /slot m of variable 0/,
    );
    expect(() => runGolden(run({ slots: (_i, state) => ({ m: state.m!, v: state.m! }) }))).toThrow(
      /slots of variable 0/,
    );
  });

  it('gives a variable no gradient when asked, and counts its updates', () => {
    const skip = (i: number, step: number) => i === 1 && step % 3 === 0;
    const result = runGolden(run({}, skip));
    expect(result.updates).toEqual([25, 16, 25, 25]);
  });

  it('compares displacements too, and takes a whole-step reference', () => {
    const result = runGolden(
      run({
        create: () => momentum(0.1, 0),
        exactSlots: false,
        reference: undefined,
        referenceStep: (params, grads) => {
          params.forEach((p, i) => {
            for (let k = 0; k < p.length; k++) p[k] = p[k]! - 0.1 * grads[i]![k]!;
          });
        },
        slots: undefined,
        displacement: true,
      }),
    );
    expect(result.worst).toBeLessThanOrEqual(1);
    expect(() => runGolden(run({ referenceStep: () => {} }))).toThrow(/exactly one of/);
  });

  it('traceSteps returns the values after each step', () => {
    expect(
      traceSteps(
        tf.train.sgd(0.5),
        [1, 2],
        [
          [1, 0],
          [0, 2],
        ],
      ),
    ).toEqual([
      [0.5, 2],
      [0.5, 1],
    ]);
  });
});
