import { describeOptimizerConformance, expectClose, float32Values } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { matrixDims, mulberry32, sizeOf } from './golden-inputs.js';
import { SM3, type SM3Options, sm3 } from './index.js';

/**
 * optax.sm3 (scale_by_sm3 with b2 = 1, eps = 1e-8, then −lr) in float64, written for any rank with
 * one accumulator per dimension, as Optax keeps them (a scalar as a vector of one).
 */
function optaxReference(shape: readonly number[]) {
  const dims = shape.length === 0 ? [1] : [...shape];
  const n = sizeOf(dims);
  const accumulators = dims.length < 2 ? [new Float64Array(n)] : dims.map((d) => new Float64Array(d));
  const m = new Float64Array(n);
  const index = (flat: number) => {
    const at: number[] = [];
    for (let k = dims.length - 1; k >= 0; k--) {
      at[k] = flat % dims[k]!;
      flat = Math.floor(flat / dims[k]!);
    }
    return at;
  };
  return {
    m,
    accumulators,
    step(p: Float64Array, g: Float64Array, learningRate: number, momentum: number) {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const at = index(i);
        const past =
          dims.length < 2 ? accumulators[0]![i]! : Math.min(...at.map((j, k) => accumulators[k]![j]!));
        a[i] = g[i]! * g[i]! + past;
        const u = a[i]! > 0 ? g[i]! / Math.sqrt(a[i]! + 1e-8) : 0;
        m[i] = (1 - momentum) * u + momentum * m[i]!;
        p[i] = p[i]! - learningRate * m[i]!;
      }
      if (dims.length < 2) accumulators[0]!.set(a);
      else {
        for (const acc of accumulators) acc.fill(Number.NEGATIVE_INFINITY);
        for (let i = 0; i < n; i++) {
          index(i).forEach((j, k) => {
            accumulators[k]![j] = Math.max(accumulators[k]![j]!, a[i]!);
          });
        }
      }
    },
  };
}

/** This package's cover for rank ≥ 3: Optax's two-dimensional SM3 on each matrix of the batch. */
function batchedReference(shape: readonly number[]) {
  const { batch, rows, cols } = matrixDims(shape);
  const matrices = Array.from({ length: batch }, () => optaxReference([rows, cols]));
  const size = rows * cols;
  return {
    matrices,
    step(p: Float64Array, g: Float64Array, learningRate: number, momentum: number) {
      matrices.forEach((matrix, b) => {
        const slice = p.subarray(b * size, (b + 1) * size);
        matrix.step(slice, g.subarray(b * size, (b + 1) * size), learningRate, momentum);
      });
    },
  };
}

const shapes = [[], [5], [3, 4], [1, 3, 4], [2, 3, 2]];

/** Initial values and every step's gradients, float32-exact. */
function inputs(seed: number, steps: number) {
  const random = mulberry32(seed);
  const start = shapes.map((s) => float32Values(random, sizeOf(s), 1));
  const grads = Array.from({ length: steps }, () =>
    shapes.map((s, i) => float32Values(random, sizeOf(s), 0.3 + i * 0.4)),
  );
  return { start, grads };
}

function run(
  options: SM3Options,
  steps: number,
  seed: number,
  check: (step: number, values: Float64Array[]) => void,
) {
  const { start, grads } = inputs(seed, steps);
  const variables = start.map((values, i) => tf.variable(tf.tensor(Float32Array.from(values), shapes[i])));
  const optimizer = sm3(options);
  grads.forEach((g, step) => {
    const tensors = g.map((x, i) => tf.tensor(Float32Array.from(x), shapes[i]));
    optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tensors[i]! })));
    tf.dispose(tensors);
    check(
      step,
      variables.map((v) => Float64Array.from(v.dataSync())),
    );
  });
  const slots = variables.map((v) => optimizer.getSlots(v.name)!);
  return { grads, slots, optimizer, variables };
}

describe('sm3', () => {
  const optionSets: [SM3Options, (i: number) => { learningRate: number; momentum: number }][] = [
    [{ learningRate: 0.1 }, () => ({ learningRate: 0.1, momentum: 0.9 })],
    [{ learningRate: 0.05, momentum: 0 }, () => ({ learningRate: 0.05, momentum: 0 })],
    [
      { learningRate: 0.2, momentum: 0.5, paramGroups: [{ match: (v) => v.rank <= 1, learningRate: 0.02 }] },
      (i) => ({ learningRate: shapes[i]!.length <= 1 ? 0.02 : 0.2, momentum: 0.5 }),
    ],
  ];
  optionSets.forEach(([options, hyper], index) => {
    it(`matches a float64 reference of optax.sm3 over 40 steps on ranks 0–3: ${JSON.stringify(options)}`, () => {
      const references = shapes.map((s) =>
        s.length >= 3 && s[0] !== 1 ? batchedReference(s) : optaxReference(s),
      );
      const { start, grads } = inputs(100 + index, 40);
      const reference = start.map((x) => Float64Array.from(x));
      const result = run(options, 40, 100 + index, (step, values) => {
        references.forEach((r, i) => {
          const h = hyper(i);
          r.step(reference[i]!, grads[step]![i]!, h.learningRate, h.momentum);
          expectClose(values[i]!, reference[i]!, `step ${step + 1}, shape [${shapes[i]}]`);
        });
      });
      // The accumulators: Optax's per-dimension ones for rank ≤ 2 (and a leading dimension of 1).
      const matrix = references[2] as ReturnType<typeof optaxReference>;
      const vector = references[1] as ReturnType<typeof optaxReference>;
      expectClose(result.slots[2]!.rowAccumulator!.dataSync(), matrix.accumulators[0]!, 'rows of [3, 4]');
      expectClose(result.slots[2]!.colAccumulator!.dataSync(), matrix.accumulators[1]!, 'cols of [3, 4]');
      expectClose(result.slots[1]!.accumulator!.dataSync(), vector.accumulators[0]!, 'accumulator of [5]');
      expectClose(result.slots[1]!.momentumBuffer!.dataSync(), vector.m, 'momentum of [5]');
      result.optimizer.dispose();
      tf.dispose(result.variables);
    });
  });

  it('takes the first steps derived by hand', () => {
    // lr 0.1, momentum 0.9, p₀ = 0 (2×2), covers r = c = 0:
    // 1: g = [[1, 2], [3, 4]]: A = g² + min(rᵢ, cⱼ) = [[1, 4], [9, 16]]; u = g/√(A + 1e-8) ≈ 1 everywhere;
    //    m = 0.1·u = 0.1; p = −0.01; r = max per row = [4, 16]; c = max per column = [9, 16]
    // 2: g = [[1, 0], [0, 1]]: A = [[1 + min(4, 9), 0 + min(4, 16)], [0 + min(16, 9), 1 + min(16, 16)]]
    //    = [[5, 4], [9, 17]]; u = [[1/√5, 0], [0, 1/√17]] = [[0.4472136, 0], [0, 0.2425356]]
    //    m = 0.1·u + 0.9·0.1 = [[0.1347214, 0.09], [0.09, 0.1142536]]
    //    p = −0.01 − 0.1·m = [[−0.0234721, −0.019], [−0.019, −0.0214254]]; r = [5, 17], c = [9, 17]
    const p = tf.variable(tf.zeros([2, 2]));
    const optimizer = sm3({ learningRate: 0.1 });
    const seen: number[][] = [];
    for (const g of [
      [
        [1, 2],
        [3, 4],
      ],
      [
        [1, 0],
        [0, 1],
      ],
    ]) {
      const grad = tf.tensor2d(g);
      optimizer.applyGradients({ [p.name]: grad });
      grad.dispose();
      const slots = optimizer.getSlots(p.name)!;
      seen.push(
        Array.from(p.dataSync()),
        Array.from(slots.rowAccumulator!.dataSync()),
        Array.from(slots.colAccumulator!.dataSync()),
      );
    }
    expectClose(
      seen.flat(),
      [-0.01, -0.01, -0.01, -0.01, 4, 16, 9, 16, -0.0234721, -0.019, -0.019, -0.0214254, 5, 17, 9, 17],
      'hand steps',
    );
    optimizer.dispose();
    p.dispose();
  });

  it('keeps every accumulator an upper bound of its elements’ sums of squared gradients', () => {
    const { grads, slots, optimizer, variables } = run({ learningRate: 0.1 }, 25, 7, () => {});
    shapes.forEach((shape, i) => {
      if (shape.length < 2) return;
      const { batch, rows, cols } = matrixDims(shape);
      const sums = new Float64Array(sizeOf(shape));
      for (const g of grads) {
        g[i]!.forEach((x, k) => {
          sums[k]! += x * x;
        });
      }
      const row = slots[i]!.rowAccumulator!.dataSync();
      const col = slots[i]!.colAccumulator!.dataSync();
      for (let b = 0; b < batch; b++)
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const sum = sums[(b * rows + r) * cols + c]!;
            expect(row[b * rows + r]! * (1 + 1e-6)).toBeGreaterThanOrEqual(sum);
            expect(col[b * cols + c]! * (1 + 1e-6)).toBeGreaterThanOrEqual(sum);
          }
    });
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('with equal gradients over a matrix is Adagrad on every element (the cover is exact)', () => {
    // momentum 0: p_t = p_{t−1} − lr·g_t/√(Σ_{s≤t} g_s² + 1e-8), the same for every element.
    const p = tf.variable(tf.zeros([3, 2]));
    const optimizer = sm3({ learningRate: 0.5, momentum: 0 });
    let expected = 0;
    let sum = 0;
    for (const g of [0.3, -1.2, 0.7, 2, -0.1]) {
      const grad = tf.fill([3, 2], g);
      optimizer.applyGradients({ [p.name]: grad });
      grad.dispose();
      sum += Math.fround(g) ** 2;
      expected -= (0.5 * Math.fround(g)) / Math.sqrt(sum + 1e-8);
      expectClose(p.dataSync(), new Array(6).fill(expected), `adagrad step, g = ${g}`);
    }
    optimizer.dispose();
    p.dispose();
  });

  it('keeps rows + columns numbers of second moment for a matrix, the full shape for a vector', () => {
    const { slots, optimizer, variables } = run({ learningRate: 0.1 }, 1, 1, () => {});
    expect(slots[0]!.accumulator!.shape).toEqual([]);
    expect(slots[2]!.rowAccumulator!.shape).toEqual([3]);
    expect(slots[2]!.colAccumulator!.shape).toEqual([4]);
    expect(slots[4]!.rowAccumulator!.shape).toEqual([2, 3]);
    expect(slots[4]!.colAccumulator!.shape).toEqual([2, 2]);
    expect(Object.keys(slots[2]!).sort()).toEqual(['colAccumulator', 'momentumBuffer', 'rowAccumulator']);
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('is a tf.Optimizer registered under OptimkitSM3', () => {
    expect(new SM3({ learningRate: 1 })).toBeInstanceOf(tf.Optimizer);
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitSM3).toBeDefined();
  });
});

describeOptimizerConformance<SM3Options>({
  name: 'sm3',
  create: (options) => sm3(options ?? { learningRate: 0.1 }),
  optionSets: [
    { learningRate: 0.1 },
    { learningRate: 0.05, momentum: 0 },
    { learningRate: 0.1, paramGroups: [{ match: (v) => v.rank >= 2, momentum: 0.5 }] },
  ],
  quadratic: { options: { learningRate: 0.5 }, steps: 500, tolerance: 1e-6 },
  // Measured: 3.8e-3 after 3000 steps (Adagrad-like accumulated statistics keep shrinking the steps).
  rosenbrock: { options: { learningRate: 0.5 }, steps: 3000, tolerance: 1e-2 },
  errorCases: [
    { options: {} as SM3Options, error: /Invalid learning rate: null \(sm3 requires a learningRate/ },
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: 0.1, momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { learningRate: 0.1, momentum: -0.5 }, error: /Invalid momentum: -0.5/ },
  ],
});
