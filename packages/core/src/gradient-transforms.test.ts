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

/** A float64 tensor: values in row-major order with a shape. */
interface F64 {
  values: number[];
  shape: number[];
}

/** Row-major index → coordinates. */
function coordinates(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = index % shape[d]!;
    index = Math.floor(index / shape[d]!);
  }
  return out;
}

/** The key of the unit an element belongs to, when the axes in `reduced` are summed over. */
function unitKey(index: number, shape: readonly number[], reduced: ReadonlySet<number>): string {
  return coordinates(index, shape)
    .map((c, d) => (reduced.has(d) ? '*' : c))
    .join(',');
}

/** Float64 reference of Optax's unitwise norm on tfjs layouts: per element, its unit's ‖·‖. */
function unitNorms(x: F64, reduced: ReadonlySet<number> | null): number[] {
  const sums = new Map<string, number>();
  const key = (i: number) => (reduced === null ? '' : unitKey(i, x.shape, reduced));
  x.values.forEach((v, i) => {
    sums.set(key(i), (sums.get(key(i)) ?? 0) + v * v);
  });
  return x.values.map((_, i) => Math.sqrt(sums.get(key(i))!));
}

function referenceAgc(
  p: F64,
  g: F64,
  clipping: number,
  epsilon: number,
  reduced: ReadonlySet<number> | null,
): number[] {
  const pn = unitNorms(p, reduced);
  const gn = unitNorms(g, reduced);
  return g.values.map((x, i) => {
    const max = clipping * Math.max(pn[i]!, epsilon);
    return gn[i]! < max ? x : x * (max / Math.max(gn[i]!, 1e-6));
  });
}

function referenceCentralize(g: F64): number[] {
  if (g.shape.length < 2) return [...g.values];
  const reduced = new Set(g.shape.slice(0, -1).map((_, d) => d));
  const sums = new Map<string, { sum: number; n: number }>();
  g.values.forEach((v, i) => {
    const k = unitKey(i, g.shape, reduced);
    const e = sums.get(k) ?? { sum: 0, n: 0 };
    sums.set(k, { sum: e.sum + v, n: e.n + 1 });
  });
  return g.values.map((v, i) => {
    const e = sums.get(unitKey(i, g.shape, reduced))!;
    return v - e.sum / e.n;
  });
}

/** Runs one step of plain descent (lr 1) with `options` and returns the applied gradient. */
function appliedGradient(options: DescentOptions, p: F64, g: F64): number[] {
  const variable = tf.variable(tf.tensor(p.values, p.shape));
  const grad = tf.tensor(g.values, g.shape);
  const optimizer = new Descent(options);
  optimizer.applyGradients({ [variable.name]: grad });
  const moved = Array.from(variable.dataSync()).map((x, i) => p.values[i]! - x);
  optimizer.dispose();
  tf.dispose([variable, grad]);
  return moved;
}

function seeded(n: number, seed: number, scale: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return Math.fround(((a / 2 ** 32) * 2 - 1) * scale);
  });
}

function expectNear(got: number[], want: number[], label: string): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((x, i) => {
    // The applied gradient is p − p', so it carries p's float32 rounding: allow for that too.
    expect(Math.abs(x - want[i]!), `${label}[${i}]`).toBeLessThanOrEqual(1e-6 + 2e-4 * Math.abs(want[i]!));
  });
}

describe('centralize and adaptiveGradClip (Optax adaptive_grad_clip, on tfjs layouts)', () => {
  it('centralize: by hand on a [2, 2] kernel, each output column loses its mean over the inputs', () => {
    // g = [[1, 2], [3, 6]]: column means 2 and 4 → [[−1, −2], [1, 2]].
    expectNear(
      appliedGradient(
        { centralize: true },
        { values: [0, 0, 0, 0], shape: [2, 2] },
        { values: [1, 2, 3, 6], shape: [2, 2] },
      ),
      [-1, -2, 1, 2],
      'centralize',
    );
    // A vector is left as it is.
    expectNear(
      appliedGradient({ centralize: true }, { values: [0, 0], shape: [2] }, { values: [1, 3], shape: [2] }),
      [1, 3],
      'vector',
    );
  });

  it('centralize matches the float64 reference on ranks 2 to 4', () => {
    for (const [k, shape] of [
      [3, 4],
      [2, 3, 4],
      [2, 2, 3, 5],
    ].entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const g = { values: seeded(n, 7 + k, 2), shape };
      expectNear(
        appliedGradient({ centralize: true }, { values: new Array(n).fill(0), shape }, g),
        referenceCentralize(g),
        `rank ${shape.length}`,
      );
    }
  });

  it('adaptiveGradClip: by hand on a vector and on a [2, 2] kernel', () => {
    // Vector p = (3, 4): ‖p‖ = 5, max = 0.1·5 = 0.5; g = (0, 2): ‖g‖ = 2 ≥ 0.5 → g·0.5/2 = (0, 0.5).
    expectNear(
      appliedGradient(
        { adaptiveGradClip: 0.1 },
        { values: [3, 4], shape: [2] },
        { values: [0, 2], shape: [2] },
      ),
      [0, 0.5],
      'vector',
    );
    // Kernel [in=2, out=2], units are columns: p columns (3, 4) → 5 and (0, 0) → ε = 1e-3.
    // max = (0.5, 1e-4); g columns (0.3, 0.4) → ‖·‖ 0.5, not < 0.5: scaled by 0.5/0.5 = 1;
    // (1, 0) → 1 ≥ 1e-4: scaled to (1e-4, 0).
    expectNear(
      appliedGradient(
        { adaptiveGradClip: { clipping: 0.1 } },
        { values: [3, 0, 4, 0], shape: [2, 2] },
        { values: [0.3, 1, 0.4, 0], shape: [2, 2] },
      ),
      [0.3, 1e-4, 0.4, 0],
      'kernel',
    );
  });

  it('adaptiveGradClip matches the float64 reference on every rank, with units as Optax', () => {
    const cases: [number[], ReadonlySet<number> | null][] = [
      [[], null],
      [[5], null],
      [[1, 6], null], // one dimension above 1: a vector
      [[4, 3], new Set([0])],
      [[2, 3, 4], new Set([0])],
      [[2, 2, 3, 4], new Set([0, 1, 2])],
      [[2, 2, 2, 2, 3], new Set([0, 1, 2, 3])],
    ];
    for (const [k, [shape, reduced]] of cases.entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const p = { values: seeded(n, 100 + k, 1), shape };
      const g = { values: seeded(n, 200 + k, 3), shape };
      for (const epsilon of [1e-3, 0.5]) {
        const want = referenceAgc(p, g, 0.05, epsilon, reduced);
        expect(want.some((x, i) => x !== g.values[i])).toBe(true);
        expectNear(
          appliedGradient({ adaptiveGradClip: { clipping: 0.05, epsilon } }, p, g),
          want,
          `shape [${shape}]`,
        );
      }
    }
  });

  it('composes: centralize, then adaptive clipping, then the global norm, and round-trips its config', () => {
    const p = { values: seeded(12, 1, 1), shape: [3, 4] };
    const g = { values: seeded(12, 2, 3), shape: [3, 4] };
    const centred = { values: referenceCentralize(g), shape: g.shape };
    const clipped = referenceAgc(p, centred, 0.05, 1e-3, new Set([0]));
    const norm = Math.sqrt(clipped.reduce((a, x) => a + x * x, 0));
    const scale = Math.min(1, 0.01 / (norm + 1e-6));
    const options = { centralize: true, adaptiveGradClip: 0.05, clipGradNorm: 0.01 };
    expectNear(
      appliedGradient(options, p, g),
      clipped.map((x) => x * scale),
      'composed',
    );
    const config = new Descent(options).getConfig();
    expect(config).toMatchObject({ centralize: true, adaptiveGradClip: { clipping: 0.05, epsilon: 1e-3 } });
    expect(new Descent(config as DescentOptions).getConfig()).toEqual(config);
  });

  it('refuses invalid options with the option named', () => {
    expect(() => new Descent({ centralize: 1 as unknown as boolean })).toThrow(
      /Option 'centralize' .* must be a boolean/,
    );
    for (const bad of [0, -1, Number.NaN, { clipping: 0.1, epsilon: -1 }, { clipping: 0.1, eps: 1 }, 'x']) {
      expect(() => new Descent({ adaptiveGradClip: bad as number })).toThrow(
        /Invalid adaptiveGradClip of OptimkitTestDescent/,
      );
    }
  });
});
