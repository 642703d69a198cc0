import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordKernels, useBackend } from '../../../testing/src/index.js';
import { defineOptimizer, defineRuleKernel, fusedKernelName, setFusedKernels } from '../index.js';

// m ← β·m + g, returned as the kernel's value (not written over the input).
const momentum = defineRuleKernel<'m', 'beta', { scaled: boolean }>({
  name: 'OptimkitTestKernelMomentum',
  rule: ({ grad, slots, s, op, v }) => {
    const m = op.add(op.mul(slots.m, s.beta), grad);
    return { param: v.scaled ? op.mul(m, 2) : m, slots: { m } };
  },
});

function runMomentum(fused: boolean, inPlace: boolean) {
  const previous = setFusedKernels(fused);
  try {
    const m = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3, 4], [2, 2]), false));
    const grad = tf.tensor([0.5, -1, 0, 2], [2, 2]);
    const param = tf.tidy(() => tf.variable(tf.tensor([9, 9, 9, 9], [2, 2]), false));
    const kernels = recordKernels(() => {
      tf.tidy(() => {
        const out = momentum.run({
          param: inPlace ? param : grad,
          grad,
          slots: { m },
          scalars: { beta: 0.5 },
          variant: { scaled: true },
          inPlace,
        });
        if (out.slots.m && out.slots.m !== m) m.assign(out.slots.m);
        if (out.param !== param) param.assign(out.param);
      });
    });
    const result = { m: m.dataSync(), param: param.dataSync(), grad: grad.dataSync(), kernels };
    tf.dispose([m, grad, param]);
    return result;
  } finally {
    setFusedKernels(previous);
  }
}

describe('defineRuleKernel', () => {
  for (const backend of ['cpu', 'wasm']) {
    describe(`on ${backend}`, () => {
      let previousBackend = '';
      beforeAll(async () => {
        previousBackend = tf.getBackend();
        await useBackend(backend);
      });
      afterAll(async () => {
        await tf.setBackend(previousBackend);
      });

      it('runs fused and composite alike, leaving its inputs unchanged unless inPlace', () => {
        const baseline = tf.memory().numTensors;
        // m = 0.5·[1, 2, 3, 4] + [0.5, −1, 0, 2] = [1, 0, 1.5, 4]; the value is 2·m.
        for (const fused of [false, true]) {
          const r = runMomentum(fused, false);
          expect(Array.from(r.m)).toEqual([1, 0, 1.5, 4]);
          expect(Array.from(r.param)).toEqual([2, 0, 3, 8]);
          expect(Array.from(r.grad)).toEqual([0.5, -1, 0, 2]);
          expect(r.kernels.includes(fusedKernelName('OptimkitTestKernelMomentum'))).toBe(fused);
          const inPlace = runMomentum(fused, true);
          expect(Array.from(inPlace.param)).toEqual([2, 0, 3, 8]);
        }
        expect(tf.memory().numTensors).toBe(baseline);
      });
    });
  }

  it('refuses a scalar the rule reads but the run does not give, and a slot of no layout', () => {
    const reads = defineRuleKernel<never, 'lr', object>({
      name: 'OptimkitTestKernelReads',
      rule: ({ param, grad, s, op }) => ({ param: op.sub(param, op.mul(grad, s.lr)) }),
    });
    const x = tf.zeros([3]);
    expect(() =>
      tf.tidy(() => reads.run({ param: x, grad: x, slots: {}, scalars: {} as { lr: number }, variant: {} })),
    ).toThrow(/lr/);
    const odd = tf.zeros([2]);
    expect(() =>
      tf.tidy(() =>
        momentum.run({
          param: x,
          grad: x,
          slots: { m: odd },
          scalars: { beta: 1 },
          variant: { scaled: false },
        }),
      ),
    ).toThrow(/slot 'm'/);
    tf.dispose([x, odd]);
  });
});

describe('string options (choices)', () => {
  const Choice = defineOptimizer({
    className: 'OptimkitTestStringChoice',
    packageName: '@optimkit/core-tests',
    packageVersion: '0.0.0',
    defaults: { learningRate: 0.1, direction: 'down' as 'down' | 'up' },
    validate(h) {
      if (h.direction !== 'down' && h.direction !== 'up') {
        throw new RangeError(`Invalid direction: ${String(h.direction)}`);
      }
    },
    rule: ({ param, grad, s, op, v }) => ({
      param:
        v.direction === 'up'
          ? op.add(param, op.mul(grad, s.learningRate))
          : op.sub(param, op.mul(grad, s.learningRate)),
    }),
  });

  it('branches the rule on the choice, per param group, and keeps it in the config', () => {
    const a = tf.tidy(() => tf.variable(tf.tensor([1, 1]), true, 'optimkitStringChoice/a'));
    const b = tf.tidy(() => tf.variable(tf.tensor([1, 1]), true, 'optimkitStringChoice/b'));
    const optimizer = new Choice({ paramGroups: [{ params: [b], direction: 'up' }] });
    const g = tf.tensor([1, 2]);
    optimizer.applyGradients({ [a.name]: g, [b.name]: g });
    // a: 1 − 0.1·[1, 2]; b: 1 + 0.1·[1, 2] (float32).
    expect(Array.from(a.dataSync())).toEqual([Math.fround(0.9), Math.fround(1 - Math.fround(0.2))]);
    expect(Array.from(b.dataSync())).toEqual([Math.fround(1.1), Math.fround(1.2)]);
    const config = optimizer.getConfig();
    expect(config.direction).toBe('down');
    expect((config.paramGroups as { direction?: string }[])[0]!.direction).toBe('up');
    optimizer.dispose();
    tf.dispose([a, b, g]);
  });

  it('refuses a value that is not a string, and one the definition does not know', () => {
    expect(() => new Choice({ direction: 1 as unknown as 'up' })).toThrow(
      "Option 'direction' of OptimkitTestStringChoice must be a string",
    );
    expect(() => new Choice({ direction: 'sideways' as 'up' })).toThrow('Invalid direction: sideways');
  });
});

describe('a definition that refuses a variable in its slots', () => {
  const MatricesOnly = defineOptimizer({
    className: 'OptimkitTestMatricesOnly',
    packageName: '@optimkit/core-tests',
    packageVersion: '0.0.0',
    defaults: { learningRate: 0.1 },
    slots: (shape) => {
      if (shape.length !== 2) throw new RangeError('OptimkitTestMatricesOnly takes matrices only');
      return {};
    },
    rule: ({ param, grad, s, op }) => ({ param: op.sub(param, op.mul(grad, s.learningRate)) }),
  });

  it('names the variable in the error and changes nothing', () => {
    const matrix = tf.tidy(() => tf.variable(tf.ones([2, 2]), true, 'optimkitMatricesOnly/matrix'));
    const vector = tf.tidy(() => tf.variable(tf.ones([3]), true, 'optimkitMatricesOnly/vector'));
    const optimizer = new MatricesOnly();
    const grads = { [matrix.name]: tf.ones([2, 2]), [vector.name]: tf.ones([3]) };
    expect(() => optimizer.applyGradients(grads)).toThrow(
      "OptimkitTestMatricesOnly takes matrices only (variable 'optimkitMatricesOnly/vector', shape [3])",
    );
    expect(Array.from(matrix.dataSync())).toEqual([1, 1, 1, 1]);
    expect(optimizer.getSlots(matrix.name)).toBeUndefined();
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
    tf.dispose([matrix, vector, ...Object.values(grads)]);
  });
});
