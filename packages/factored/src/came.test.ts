import { describeOptimizerConformance, makeVariables, runGolden } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { CAME, type CAMEOptions, came } from './came.js';
import {
  GOLDEN_SHAPES,
  goldenGradients,
  goldenParams,
  referenceSlots,
  refFactoredScale,
  refFoldFactored,
  refRms,
  sizeOf,
} from './golden-inputs.js';

// ---------------------------------------------------------------------------------------------
// Independent float64 reference, written from the official CAME code (docs/algorithms/factored.md#came).

interface ReferenceOptions {
  learningRate: number | ((step: number) => number);
  beta1: number;
  beta2: number;
  beta3: number;
  epsilon1: number;
  epsilon2: number;
  clipThreshold: number;
  weightDecay: number;
}

/** The documented defaults (the learning rate has none), spelled out independently. */
const REFERENCE_DEFAULTS: Omit<ReferenceOptions, 'learningRate'> = {
  beta1: 0.9,
  beta2: 0.999,
  beta3: 0.9999,
  epsilon1: 1e-30,
  epsilon2: 1e-16,
  clipThreshold: 1,
  weightDecay: 0,
};

interface ReferenceState {
  m: Float64Array;
  v: Float64Array | null;
  row: Float64Array | null;
  col: Float64Array | null;
  resRow: Float64Array | null;
  resCol: Float64Array | null;
}

class ReferenceCAME {
  readonly states: ReferenceState[] = [];
  clipped = 0;
  constructor(readonly o: ReferenceOptions) {}

  step(completed: number, params: Float64Array[], grads: Float64Array[]): void {
    const o = this.o;
    const lr = typeof o.learningRate === 'function' ? o.learningRate(completed) : o.learningRate;
    params.forEach((p, k) => {
      const shape = GOLDEN_SHAPES[k]!;
      const g = grads[k]!;
      const factored = shape.length >= 2;
      const n = p.length;
      if (!this.states[k]) {
        const rows = factored ? sizeOf(shape.slice(0, -1)) : 0;
        const cols = factored ? sizeOf([...shape.slice(0, -2), shape[shape.length - 1]!]) : 0;
        this.states[k] = {
          m: new Float64Array(n),
          v: factored ? null : new Float64Array(n),
          row: factored ? new Float64Array(rows) : null,
          col: factored ? new Float64Array(cols) : null,
          resRow: factored ? new Float64Array(rows) : null,
          resCol: factored ? new Float64Array(cols) : null,
        };
      }
      const s = this.states[k]!;
      const square = new Float64Array(n);
      for (let i = 0; i < n; i++) square[i] = g[i]! * g[i]! + o.epsilon1;
      let u: Float64Array;
      if (factored) {
        refFoldFactored(s.row!, s.col!, square, shape, o.beta2);
        u = refFactoredScale(s.row!, s.col!, g, shape);
      } else {
        u = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          s.v![i] = o.beta2 * s.v![i]! + (1 - o.beta2) * square[i]!;
          u[i] = g[i]! / Math.sqrt(s.v![i]!);
        }
      }
      const ratio = refRms(u) / o.clipThreshold;
      if (ratio > 1) this.clipped += 1;
      const divisor = Math.max(ratio, 1);
      for (let i = 0; i < n; i++) u[i] = u[i]! / divisor;
      for (let i = 0; i < n; i++) s.m[i] = o.beta1 * s.m[i]! + (1 - o.beta1) * u[i]!;
      let step: Float64Array;
      if (factored) {
        const residual = new Float64Array(n);
        for (let i = 0; i < n; i++) residual[i] = (u[i]! - s.m[i]!) ** 2 + o.epsilon2;
        refFoldFactored(s.resRow!, s.resCol!, residual, shape, o.beta3);
        step = refFactoredScale(s.resRow!, s.resCol!, s.m, shape);
      } else {
        step = s.m;
      }
      for (let i = 0; i < n; i++) p[i] = p[i]! - o.weightDecay * lr * p[i]! - lr * step[i]!;
    });
  }
}

const STEPS = 30;

/** Runs CAME and the reference side by side for 30 steps; see the Adafactor test for the checks. */
function runCAMEGolden(options: CAMEOptions, reference: Partial<ReferenceOptions>, seed: number) {
  const grads = goldenGradients(seed + 1, STEPS);
  const ref = new ReferenceCAME({
    ...REFERENCE_DEFAULTS,
    learningRate: options.learningRate as number,
    ...reference,
  });
  const { worst } = runGolden({
    name: 'cameGolden',
    shapes: GOLDEN_SHAPES,
    initial: goldenParams(seed),
    gradients: (t) => grads[t]!,
    create: () => came(options),
    referenceStep: (params, _grads, t) => ref.step(t, params, grads[t]!),
    steps: STEPS,
    displacement: true,
    slots: (k) => referenceSlots(ref.states[k]!),
    exactSlots: true,
  });
  return { ref, worst };
}

describe('came: golden values against a float64 reference (30 steps, ranks 0–3)', () => {
  const cases: [string, CAMEOptions, Partial<ReferenceOptions>][] = [
    ['defaults with the typical learning rate 2e-4', { learningRate: 2e-4 }, {}],
    ['learning rate 1e-2 with weight decay', { learningRate: 1e-2, weightDecay: 0.1 }, { weightDecay: 0.1 }],
    [
      'every beta, both epsilons, a lower clipping threshold',
      {
        learningRate: 5e-3,
        beta1: 0.8,
        beta2: 0.99,
        beta3: 0.995,
        epsilon1: 1e-4,
        epsilon2: 1e-3,
        clipThreshold: 0.5,
        weightDecay: 0.02,
      },
      {
        beta1: 0.8,
        beta2: 0.99,
        beta3: 0.995,
        epsilon1: 1e-4,
        epsilon2: 1e-3,
        clipThreshold: 0.5,
        weightDecay: 0.02,
      },
    ],
    [
      'scheduled learning rate, clipping threshold 3',
      { learningRate: (s: number) => 0.01 * 0.9 ** s, clipThreshold: 3, beta2: 0.9 },
      { learningRate: (s: number) => 0.01 * 0.9 ** s, clipThreshold: 3, beta2: 0.9 },
    ],
  ];
  cases.forEach(([title, options, reference], index) => {
    it(title, async () => {
      const { ref, worst } = runCAMEGolden(options, reference, 2000 + 31 * index);
      expect(worst).toBeLessThanOrEqual(1);
      // Without bias correction the first updates are always clipped; a high threshold clips less.
      expect(ref.clipped).toBeGreaterThan(0);
      if (options.clipThreshold === 3) expect(ref.clipped).toBeLessThan(4 * STEPS);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('came: first step derived by hand', () => {
  const made: tf.Variable[] = [];
  let counter = 0;
  const variable = (values: number[], shape: number[]) => {
    counter += 1;
    const v = tf.variable(tf.tensor(values, shape), true, `cameHand${counter}`);
    made.push(v);
    return v;
  };
  const apply = (optimizer: tf.Optimizer, v: tf.Variable, g: number[]) => {
    const grad = tf.tensor(g, v.shape);
    optimizer.applyGradients({ [v.name]: grad });
    grad.dispose();
  };
  const expectValues = (actual: ArrayLike<number>, expected: number[], digits = 6) => {
    expect(actual.length).toBe(expected.length);
    expected.forEach((e, i) => {
      expect(actual[i]).toBeCloseTo(e, digits);
    });
  };
  afterEach(() => {
    tf.dispose(made.splice(0));
  });

  it('a vector: clipped to ±1, momentum 0.1·u, no confidence scaling, decoupled weight decay', async () => {
    // p = [0.3, −0.4], g = [0.5, −2], lr 0.1, wd 0.5. V = 0.001·g² = [2.5e-4, 4e-3], u = g/√V = ±√1000,
    // RMS(u) = √1000 > 1: u = [1, −1]. m = 0.1·u = [0.1, −0.1]; 1-D: step = m.
    // p = p − 0.5·0.1·p − 0.1·m = [0.3 − 0.015 − 0.01, −0.4 + 0.02 + 0.01] = [0.275, −0.37].
    const v = variable([0.3, -0.4], [2]);
    const optimizer = came({ learningRate: 0.1, weightDecay: 0.5 });
    apply(optimizer, v, [0.5, -2]);
    expectValues(await v.data(), [0.275, -0.37]);
    expectValues(optimizer.getSlots(v.name)!.m!.dataSync(), [0.1, -0.1]);
    expectValues(optimizer.getSlots(v.name)!.v!.dataSync(), [2.5e-4, 4e-3], 9);
    optimizer.dispose();
  });

  it('a 2×2 matrix: factored second moment, clipping, factored confidence', async () => {
    // p = [[1, −1], [0.5, 2]], g = [[1, 2], [3, 4]], lr 0.01.
    // R = 0.001·[2.5, 12.5], C = 0.001·[5, 10], V̂ = R Cᵀ/mean(R) = 0.001·[[5/3, 10/3], [25/3, 50/3]],
    // u² = g²/V̂ = 1000·[0.6, 1.2, 1.08, 0.96]: RMS(u) = √960 > 1, so u² = [0.6, 1.2, 1.08, 0.96]/0.96
    // = [0.625, 1.25, 1.125, 1]. m = 0.1·u. Instability (u − m)² + 1e-16 = 0.81·u² = [0.50625, 1.0125, 0.91125, 0.81].
    // Rs = 1e-4·[(0.50625 + 1.0125)/2, (0.91125 + 0.81)/2] = 1e-4·[0.759375, 0.860625],
    // Cs = 1e-4·[(0.50625 + 0.91125)/2, (1.0125 + 0.81)/2] = 1e-4·[0.70875, 0.91125], mean(Rs) = 1e-4·0.81.
    // S = Rs Csᵀ / mean(Rs); p = p − 0.01·m/√S.
    const v = variable([1, -1, 0.5, 2], [2, 2]);
    const optimizer = came({ learningRate: 0.01 });
    apply(optimizer, v, [1, 2, 3, 4]);
    const u = [Math.sqrt(0.625), Math.sqrt(1.25), Math.sqrt(1.125), 1];
    const rs = [0.759375e-4, 0.860625e-4];
    const cs = [0.70875e-4, 0.91125e-4];
    const S = [
      (rs[0]! * cs[0]!) / 0.81e-4,
      (rs[0]! * cs[1]!) / 0.81e-4,
      (rs[1]! * cs[0]!) / 0.81e-4,
      (rs[1]! * cs[1]!) / 0.81e-4,
    ];
    const p0 = [1, -1, 0.5, 2];
    expectValues(
      await v.data(),
      p0.map((p, i) => p - (0.01 * 0.1 * u[i]!) / Math.sqrt(S[i]!)),
      5,
    );
    const slots = optimizer.getSlots(v.name)!;
    expectValues(slots.row!.dataSync(), [2.5e-3, 12.5e-3]);
    expectValues(slots.col!.dataSync(), [5e-3, 10e-3]);
    expectValues(
      Array.from(slots.resRow!.dataSync(), (x) => x * 1e4),
      [0.759375, 0.860625],
    );
    expectValues(
      Array.from(slots.resCol!.dataSync(), (x) => x * 1e4),
      [0.70875, 0.91125],
    );
    expectValues(
      slots.m!.dataSync(),
      u.map((x) => 0.1 * x),
    );
    optimizer.dispose();
  });

  it('a zero gradient leaves the parameter in place (ε1 and ε2 keep every statistic positive)', async () => {
    const v = variable([0.5, -0.25, 1, 2, -3, 4], [2, 3]);
    const optimizer = came({ learningRate: 0.1 });
    apply(optimizer, v, [0, 0, 0, 0, 0, 0]);
    expectValues(await v.data(), [0.5, -0.25, 1, 2, -3, 4], 9);
    optimizer.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describe('came: options, slots and memory', () => {
  it('has the documented defaults and requires a learning rate', () => {
    const optimizer = came({ learningRate: 2e-4 });
    expect(optimizer.getClassName()).toBe('OptimkitCAME');
    expect(CAME.className).toBe('OptimkitCAME');
    expect(optimizer.getConfig()).toEqual({ ...REFERENCE_DEFAULTS, learningRate: 2e-4 });
    expect(() => came()).toThrow(/Invalid learning rate: null/);
    optimizer.dispose();
  });

  it('keeps m, row/col and resRow/resCol for rank ≥ 2; m and a full v for rank ≤ 1', () => {
    const shapes = [[], [7], [4, 6], [2, 3, 5]];
    const variables = shapes.map((s, i) => tf.variable(tf.ones(s), true, `cameSlots/${i}`));
    const optimizer = came({ learningRate: 1e-3 });
    const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
    const shapesOf = (name: string) =>
      Object.fromEntries(Object.entries(optimizer.getSlots(name)!).map(([k, t]) => [k, t.shape]));
    expect(shapesOf(variables[0]!.name)).toEqual({ m: [], v: [] });
    expect(shapesOf(variables[1]!.name)).toEqual({ m: [7], v: [7] });
    expect(shapesOf(variables[2]!.name)).toEqual({ m: [4, 6], row: [4], col: [6], resRow: [4], resCol: [6] });
    expect(shapesOf(variables[3]!.name)).toEqual({
      m: [2, 3, 5],
      row: [2, 3],
      col: [2, 5],
      resRow: [2, 3],
      resCol: [2, 5],
    });
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('a 1024×1024 matrix costs 4 + 8·2048/1024² = 4.015625 bytes per parameter', () => {
    const weight = tf.variable(tf.randomNormal([1024, 1024], 0, 1, 'float32', 7), true, 'cameMemory/w');
    const bias = tf.variable(tf.zeros([1024]), true, 'cameMemory/b');
    const optimizer = came({ learningRate: 2e-4 });
    const grads = {
      [weight.name]: tf.randomNormal([1024, 1024], 0, 1, 'float32', 8),
      [bias.name]: tf.ones([1024]),
    };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const matrixBytes = Object.values(optimizer.getSlots(weight.name)!).reduce((s, t) => s + t.size * 4, 0);
    // m: 1024·1024 floats; row, col, resRow, resCol: 1024 floats each.
    expect(matrixBytes).toBe(4 * (1_048_576 + 4 * 1024));
    expect(matrixBytes / 1_048_576).toBe(4.015625);
    // The bias keeps m and v: 8 bytes per parameter.
    expect(optimizer.stateBytes()).toBe(matrixBytes + 8 * 1024);
    optimizer.dispose();
    tf.dispose([weight, bias]);
  });

  it('keeps tf.memory().numTensors constant from the second step on and frees all on dispose', () => {
    const params = goldenParams(9);
    const variables = makeVariables('cameLeak', GOLDEN_SHAPES, params);
    const grads = goldenGradients(10, 12);
    const baseline = tf.memory().numTensors;
    const optimizer = came({ learningRate: 1e-3, weightDecay: 0.01 });
    const counts: number[] = [];
    for (const step of grads) {
      const tensors = variables.map((v, k) => ({
        name: v.name,
        tensor: tf.tensor(Float32Array.from(step[k]!), v.shape),
      }));
      optimizer.applyGradients(tensors);
      tf.dispose(tensors.map((x) => x.tensor));
      counts.push(tf.memory().numTensors);
    }
    expect(counts[0]).toBeGreaterThan(baseline);
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[0]]));
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose(variables);
  });
});

// ---------------------------------------------------------------------------------------------

describeOptimizerConformance<CAMEOptions>({
  name: 'came',
  create: (options) => came(options),
  optionSets: [
    { learningRate: 2e-4 },
    { learningRate: 1e-3, beta1: 0.8, beta2: 0.99, beta3: 0.995, weightDecay: 0.01, clipThreshold: 0.5 },
  ],
  quadratic: { options: { learningRate: 1e-2 }, steps: 300, tolerance: 1e-3 },
  rosenbrock: { options: { learningRate: 2e-2 }, steps: 3000, tolerance: 1e-2 },
  errorCases: [
    { options: {}, error: /Invalid learning rate: null/ },
    { options: { learningRate: null }, error: /Invalid learning rate: null/ },
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: 1e-3, beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { learningRate: 1e-3, beta1: -0.1 }, error: /Invalid beta1: -0.1/ },
    { options: { learningRate: 1e-3, beta2: 1.5 }, error: /Invalid beta2: 1.5/ },
    { options: { learningRate: 1e-3, beta3: 1 }, error: /Invalid beta3: 1/ },
    { options: { learningRate: 1e-3, epsilon1: 0 }, error: /Invalid epsilon1: 0/ },
    { options: { learningRate: 1e-3, epsilon2: -1e-16 }, error: /Invalid epsilon2: -1e-16/ },
    { options: { learningRate: 1e-3, clipThreshold: 0 }, error: /Invalid clipThreshold: 0/ },
    { options: { learningRate: 1e-3, weightDecay: -1 }, error: /Invalid weightDecay: -1/ },
    { options: { learningRate: () => -2e-4 }, error: /Invalid learning rate: -0.0002 \(scheduled/ },
  ],
});
