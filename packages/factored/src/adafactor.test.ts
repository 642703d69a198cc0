import { describeOptimizerConformance, makeVariables, runGolden } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { Adafactor, type AdafactorOptions, adafactor } from './adafactor.js';
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
// Independent float64 reference, written from HF transformers' Adafactor (docs/algorithms/factored.md#adafactor).

interface ReferenceOptions {
  learningRate: number | null | ((step: number) => number);
  epsilon1: number;
  epsilon2: number;
  clipThreshold: number;
  decayRate: number;
  beta1: number | null;
  weightDecay: number;
  scaleParameter: boolean;
  relativeStep: boolean;
  warmupInit: boolean;
}

/** The documented defaults, spelled out independently of the implementation. */
const REFERENCE_DEFAULTS: ReferenceOptions = {
  learningRate: null,
  epsilon1: 1e-30,
  epsilon2: 1e-3,
  clipThreshold: 1,
  decayRate: -0.8,
  beta1: null,
  weightDecay: 0,
  scaleParameter: true,
  relativeStep: true,
  warmupInit: false,
};

interface ReferenceState {
  step: number;
  row: Float64Array | null;
  col: Float64Array | null;
  v: Float64Array | null;
  m: Float64Array | null;
}

class ReferenceAdafactor {
  readonly states: ReferenceState[] = [];
  clipped = 0;
  floored = 0;
  constructor(readonly o: ReferenceOptions) {}

  /** One update of every variable; `completed` is the number of completed optimizer steps. */
  step(completed: number, params: Float64Array[], grads: Float64Array[]): void {
    const o = this.o;
    params.forEach((p, k) => {
      const shape = GOLDEN_SHAPES[k]!;
      const g = grads[k]!;
      const factored = shape.length >= 2;
      const n = p.length;
      if (!this.states[k]) {
        const rows = factored ? sizeOf(shape.slice(0, -1)) : 0;
        const cols = factored ? sizeOf([...shape.slice(0, -2), shape[shape.length - 1]!]) : 0;
        this.states[k] = {
          step: 0,
          row: factored ? new Float64Array(rows) : null,
          col: factored ? new Float64Array(cols) : null,
          v: factored ? null : new Float64Array(n),
          m: o.beta1 !== null ? new Float64Array(n) : null,
        };
      }
      const s = this.states[k]!;
      s.step += 1;
      const t = s.step;
      const lrOption = typeof o.learningRate === 'function' ? o.learningRate(completed) : o.learningRate;
      const rho = o.relativeStep ? Math.min(o.warmupInit ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : lrOption!;
      if (o.scaleParameter && refRms(p) < o.epsilon2) this.floored += 1;
      const alpha = o.scaleParameter ? Math.max(o.epsilon2, refRms(p)) * rho : rho;
      const beta2t = 1 - t ** o.decayRate;
      const square = new Float64Array(n);
      for (let i = 0; i < n; i++) square[i] = g[i]! * g[i]! + o.epsilon1;
      let u: Float64Array;
      if (factored) {
        refFoldFactored(s.row!, s.col!, square, shape, beta2t);
        u = refFactoredScale(s.row!, s.col!, g, shape);
      } else {
        u = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          s.v![i] = beta2t * s.v![i]! + (1 - beta2t) * square[i]!;
          u[i] = g[i]! / Math.sqrt(s.v![i]!);
        }
      }
      const ratio = refRms(u) / o.clipThreshold;
      const divisor = Math.max(ratio, 1);
      if (ratio > 1) this.clipped += 1;
      for (let i = 0; i < n; i++) u[i] = (u[i]! / divisor) * alpha;
      if (s.m) {
        for (let i = 0; i < n; i++) s.m[i] = o.beta1! * s.m[i]! + (1 - o.beta1!) * u[i]!;
        u = s.m;
      }
      for (let i = 0; i < n; i++) p[i] = p[i]! - o.weightDecay * alpha * p[i]! - u[i]!;
    });
  }
}

const STEPS = 30;

/**
 * Runs `options` on the golden variables (ranks 0–3) next to the reference for 30 steps and
 * checks, after every step, the parameters and their displacement from the start; at the end, the
 * slots. Returns the reference (for its clipping count) and the worst share of the tolerance used.
 */
function runAdafactorGolden(options: AdafactorOptions, reference: Partial<ReferenceOptions>, seed: number) {
  const grads = goldenGradients(seed + 1, STEPS);
  const ref = new ReferenceAdafactor({ ...REFERENCE_DEFAULTS, ...reference });
  const { worst } = runGolden({
    name: 'adafactorGolden',
    shapes: GOLDEN_SHAPES,
    initial: goldenParams(seed),
    gradients: (t) => grads[t]!,
    create: () => adafactor(options),
    referenceStep: (params, _grads, t) => ref.step(t, params, grads[t]!),
    steps: STEPS,
    displacement: true,
    slots: (k) => referenceSlots(ref.states[k]!),
    exactSlots: true,
  });
  return { ref, worst };
}

describe('adafactor: golden values against a float64 reference (30 steps, ranks 0–3)', () => {
  const cases: [string, AdafactorOptions, Partial<ReferenceOptions>][] = [
    ['defaults: relative step, parameter scale', {}, {}],
    ['relative step with warmupInit', { warmupInit: true }, { warmupInit: true }],
    ['relative step without parameter scale', { scaleParameter: false }, { scaleParameter: false }],
    [
      'explicit learning rate with parameter scale',
      { learningRate: 0.02 },
      { learningRate: 0.02, relativeStep: false },
    ],
    [
      'explicit learning rate without parameter scale, beta1, weight decay',
      { learningRate: 0.03, scaleParameter: false, beta1: 0.9, weightDecay: 0.1 },
      { learningRate: 0.03, relativeStep: false, scaleParameter: false, beta1: 0.9, weightDecay: 0.1 },
    ],
    [
      'clipping threshold that clips, decayRate, epsilon2 floor, beta1, weight decay',
      { clipThreshold: 0.5, decayRate: -0.5, epsilon2: 0.45, beta1: 0.5, weightDecay: 0.05 },
      { clipThreshold: 0.5, decayRate: -0.5, epsilon2: 0.45, beta1: 0.5, weightDecay: 0.05 },
    ],
    [
      'scheduled learning rate, large epsilon1, decayRate 0',
      {
        learningRate: (s: number) => 0.05 / (1 + 0.1 * s),
        scaleParameter: false,
        epsilon1: 1e-3,
        decayRate: 0,
      },
      {
        learningRate: (s: number) => 0.05 / (1 + 0.1 * s),
        relativeStep: false,
        scaleParameter: false,
        epsilon1: 1e-3,
        decayRate: 0,
      },
    ],
  ];
  cases.forEach(([title, options, reference], index) => {
    it(title, async () => {
      const { ref, worst } = runAdafactorGolden(options, reference, 1000 + 17 * index);
      expect(worst).toBeLessThanOrEqual(1);
      if ('clipThreshold' in options) expect(ref.clipped).toBeGreaterThan(10);
      if ('epsilon2' in options) {
        expect(ref.floored).toBeGreaterThan(10);
        expect(ref.floored).toBeLessThan(4 * STEPS);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('adafactor: first steps derived by hand', () => {
  const made: tf.Variable[] = [];
  let counter = 0;
  const variable = (values: number[], shape: number[]) => {
    counter += 1;
    const v = tf.variable(tf.tensor(values, shape), true, `adafactorHand${counter}`);
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

  // p = [[1, −1], [0.5, 2]], g = [[1, 2], [3, 4]]; β̂2_1 = 1 − 1^−0.8 = 0, so
  // R = mean(g², −1) = [(1+4)/2, (9+16)/2] = [2.5, 12.5], C = mean(g², −2) = [(1+9)/2, (4+16)/2] = [5, 10],
  // V̂ = R Cᵀ / mean(R) = [[2.5·5, 2.5·10], [12.5·5, 12.5·10]] / 7.5 = [[5/3, 10/3], [25/3, 50/3]],
  // u² = g² / V̂ = [[3/5, 12/10], [27/25, 48/50]] = [[0.6, 1.2], [1.08, 0.96]], RMS(u) = √(3.84/4) = √0.96.
  // ρ_1 = min(1e-2, 1/√1) = 1e-2; RMS(p) = √((1 + 1 + 0.25 + 4)/4) = 1.25, α_1 = 1.25 · 1e-2 = 0.0125.
  const p0 = [1, -1, 0.5, 2];
  const g0 = [1, 2, 3, 4];
  const u0 = [Math.sqrt(0.6), Math.sqrt(1.2), Math.sqrt(1.08), Math.sqrt(0.96)];

  it('a 2×2 matrix with the defaults (RMS(u) = √0.96 < 1: no clipping)', async () => {
    const v = variable(p0, [2, 2]);
    const optimizer = adafactor();
    apply(optimizer, v, g0);
    expectValues(await v.data(), [
      1 - 0.0125 * u0[0]!,
      -1 - 0.0125 * u0[1]!,
      0.5 - 0.0125 * u0[2]!,
      2 - 0.0125 * u0[3]!,
    ]);
    const slots = optimizer.getSlots(v.name)!;
    expectValues(slots.row!.dataSync(), [2.5, 12.5]);
    expectValues(slots.col!.dataSync(), [5, 10]);
    optimizer.dispose();
  });

  it('the same with clipThreshold 0.5: u is divided by RMS(u)/0.5 = 2√0.96', async () => {
    const v = variable(p0, [2, 2]);
    const optimizer = adafactor({ clipThreshold: 0.5 });
    apply(optimizer, v, g0);
    const d = 2 * Math.sqrt(0.96);
    expectValues(
      await v.data(),
      p0.map((p, i) => p - (0.0125 * u0[i]!) / d),
    );
    optimizer.dispose();
  });

  it('a rank-3 tensor is factored per leading index over its last two dims', async () => {
    // Slice 0 is the matrix above; slice 1 has 10× its gradient: u is scale-invariant per slice, so
    // both slices move by the same α·u, α using RMS(p) of the whole tensor (1.25 again).
    const v = variable([...p0, ...p0], [2, 2, 2]);
    const optimizer = adafactor();
    apply(optimizer, v, [...g0, ...g0.map((x) => 10 * x)]);
    const moved = p0.map((p, i) => p - 0.0125 * u0[i]!);
    expectValues(await v.data(), [...moved, ...moved]);
    const slots = optimizer.getSlots(v.name)!;
    expect(slots.row!.shape).toEqual([2, 2]);
    expect(slots.col!.shape).toEqual([2, 2]);
    expectValues(slots.row!.dataSync(), [2.5, 12.5, 250, 1250], 3);
    expectValues(slots.col!.dataSync(), [5, 10, 500, 1000], 3);
    optimizer.dispose();
  });

  it('a vector with an explicit learning rate, beta1 and weight decay, two steps', async () => {
    // p = [0.3, −0.4], lr 0.1, no parameter scale, β1 0.9, wd 0.5.
    // Step 1: g = [0.5, −2], V = g² = [0.25, 4], u = g/√V = [1, −1] (RMS 1: no clipping), u·lr = [0.1, −0.1],
    //   m = 0.1·[0.1, −0.1] = [0.01, −0.01], p = p − 0.5·0.1·p − m = [0.3 − 0.015 − 0.01, −0.4 + 0.02 + 0.01].
    const v = variable([0.3, -0.4], [2]);
    const optimizer = adafactor({ learningRate: 0.1, scaleParameter: false, beta1: 0.9, weightDecay: 0.5 });
    apply(optimizer, v, [0.5, -2]);
    expectValues(await v.data(), [0.275, -0.37]);
    // Step 2: g = [1, 1], β̂2_2 = 1 − 2^−0.8, V = β̂2·[0.25, 4] + (1 − β̂2)·[1, 1], u = g/√V, RMS(u) < 1,
    //   m = 0.9·[0.01, −0.01] + 0.1·0.1·u, p = 0.95·p − m.
    const beta2 = 1 - 2 ** -0.8;
    const V = [beta2 * 0.25 + (1 - beta2), beta2 * 4 + (1 - beta2)];
    const u = [1 / Math.sqrt(V[0]!), 1 / Math.sqrt(V[1]!)];
    expect(Math.sqrt((u[0]! ** 2 + u[1]! ** 2) / 2)).toBeLessThan(1);
    const m = [0.9 * 0.01 + 0.01 * u[0]!, 0.9 * -0.01 + 0.01 * u[1]!];
    apply(optimizer, v, [1, 1]);
    expectValues(await v.data(), [0.95 * 0.275 - m[0]!, 0.95 * -0.37 - m[1]!]);
    expectValues(optimizer.getSlots(v.name)!.m!.dataSync(), m);
    expectValues(optimizer.getSlots(v.name)!.v!.dataSync(), V);
    optimizer.dispose();
  });

  it('a scalar: warmupInit steps 1e-6·t·max(ε2, |p|); a tiny p uses the ε2 floor', async () => {
    // p = 0.125, g = −3: V = 9, u = −1; ρ_1 = min(1e-6·1, 1) = 1e-6, α_1 = max(1e-3, 0.125)·1e-6 = 1.25e-7,
    // p_1 = 0.125 + 1.25e-7. Step 2, g = −3: V = 9 again, u = −1, ρ_2 = 2e-6, α_2 = p_1·2e-6, p_2 = p_1 + α_2.
    // (The float32 spacing near 0.125 is 1.5e-8, so the displacement is checked to 1.5e-8.)
    const a = variable([0.125], []);
    const warm = adafactor({ warmupInit: true });
    apply(warm, a, [-3]);
    const p1 = 0.125 + 1.25e-7;
    expect(Math.abs((await a.data())[0]! - p1)).toBeLessThan(1.5e-8);
    apply(warm, a, [-3]);
    expect(Math.abs((await a.data())[0]! - (p1 + p1 * 2e-6))).toBeLessThan(1.5e-8);
    warm.dispose();
    // p = 1e-4, g = 5: α = max(1e-3, 1e-4)·1e-2 = 1e-5, u = 1, p = 1e-4 − 1e-5 = 9e-5.
    const b = variable([1e-4], []);
    const floor = adafactor();
    apply(floor, b, [5]);
    expectValues(await b.data(), [9e-5], 9);
    floor.dispose();
  });

  it('a zero gradient leaves the parameter in place (ε1 keeps the statistics positive)', async () => {
    const v = variable([0.5, -0.25, 1, 2, -3, 4], [2, 3]);
    const optimizer = adafactor({ learningRate: 0.1, scaleParameter: false });
    apply(optimizer, v, [0, 0, 0, 0, 0, 0]);
    expectValues(await v.data(), [0.5, -0.25, 1, 2, -3, 4], 9);
    const slots = optimizer.getSlots(v.name)!;
    // R = mean(0 + 1e-30) = 1e-30 on every row: representable in float32 (its normal range reaches 1.2e-38).
    expectValues(
      Array.from(slots.row!.dataSync(), (x) => x / 1e-30),
      [1, 1],
    );
    optimizer.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describe('adafactor: options, slots and memory', () => {
  it('has the documented defaults', () => {
    const optimizer = adafactor();
    expect(optimizer.getClassName()).toBe('OptimkitAdafactor');
    expect(Adafactor.className).toBe('OptimkitAdafactor');
    expect(optimizer.getConfig()).toEqual(REFERENCE_DEFAULTS);
    expect(adafactor({ learningRate: 1e-3 }).getConfig()).toMatchObject({
      learningRate: 1e-3,
      relativeStep: false,
    });
    optimizer.dispose();
  });

  it('infers relativeStep per param group from its learning rate', () => {
    const optimizer = adafactor({ paramGroups: [{ params: ['x'], learningRate: 1e-3 }] });
    const [top, group] = optimizer.hyperparametersAt(0);
    expect(top).toMatchObject({ learningRate: null, relativeStep: true });
    expect(group).toMatchObject({ learningRate: 1e-3, relativeStep: false });
    expect(() => new Adafactor({ learningRate: 1e-3 })).toThrow(/Invalid relativeStep: true/);
    expect(new Adafactor({ learningRate: 1e-3, relativeStep: false }).getConfig().learningRate).toBe(1e-3);
  });

  it('keeps row/col statistics for rank ≥ 2, a full v for rank ≤ 1, m only with beta1', () => {
    const shapes = [[], [7], [4, 6], [2, 3, 5]];
    for (const beta1 of [null, 0.9]) {
      const variables = shapes.map((s, i) => tf.variable(tf.ones(s), true, `adafactorSlots${beta1}/${i}`));
      const optimizer = adafactor({ beta1 });
      const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
      optimizer.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
      const shapesOf = (name: string) =>
        Object.fromEntries(Object.entries(optimizer.getSlots(name)!).map(([k, t]) => [k, t.shape]));
      const m = (shape: number[]) => (beta1 === null ? {} : { m: shape });
      expect(shapesOf(variables[0]!.name)).toEqual({ v: [], ...m([]) });
      expect(shapesOf(variables[1]!.name)).toEqual({ v: [7], ...m([7]) });
      expect(shapesOf(variables[2]!.name)).toEqual({ row: [4], col: [6], ...m([4, 6]) });
      expect(shapesOf(variables[3]!.name)).toEqual({ row: [2, 3], col: [2, 5], ...m([2, 3, 5]) });
      optimizer.dispose();
      tf.dispose(variables);
    }
  });

  it('a 1024×1024 matrix costs 4·(1024 + 1024) bytes = 0.0078125 bytes per parameter', () => {
    const weight = tf.variable(tf.randomNormal([1024, 1024], 0, 1, 'float32', 7), true, 'adafactorMemory/w');
    const bias = tf.variable(tf.zeros([1024]), true, 'adafactorMemory/b');
    const optimizer = adafactor();
    const grads = {
      [weight.name]: tf.randomNormal([1024, 1024], 0, 1, 'float32', 8),
      [bias.name]: tf.ones([1024]),
    };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const matrixBytes = Object.values(optimizer.getSlots(weight.name)!).reduce((s, t) => s + t.size * 4, 0);
    expect(matrixBytes).toBe(8192);
    expect(matrixBytes / 1_048_576).toBe(0.0078125);
    expect(matrixBytes / 1_048_576).toBeLessThanOrEqual(0.01);
    // The bias keeps a full second moment: 4 bytes per parameter.
    expect(optimizer.stateBytes()).toBe(8192 + 4096);
    optimizer.dispose();
    // With beta1 the momentum is full size: 4 + 0.0078125 bytes per parameter.
    const withMomentum = adafactor({ beta1: 0.9 });
    const again = { [weight.name]: tf.randomNormal([1024, 1024], 0, 1, 'float32', 9) };
    withMomentum.applyGradients(again);
    tf.dispose(Object.values(again));
    const momentumBytes = Object.values(withMomentum.getSlots(weight.name)!).reduce(
      (s, t) => s + t.size * 4,
      0,
    );
    expect(momentumBytes / 1_048_576).toBe(4.0078125);
    withMomentum.dispose();
    tf.dispose([weight, bias]);
  });

  it('keeps tf.memory().numTensors constant from the second step on and frees all on dispose', () => {
    for (const options of [{}, { learningRate: 0.01, beta1: 0.9, weightDecay: 0.1 }] as AdafactorOptions[]) {
      const params = goldenParams(5);
      const variables = makeVariables('adafactorLeak', GOLDEN_SHAPES, params);
      const grads = goldenGradients(6, 12);
      const baseline = tf.memory().numTensors;
      const optimizer = adafactor(options);
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
    }
  });
});

// ---------------------------------------------------------------------------------------------

describeOptimizerConformance<AdafactorOptions>({
  name: 'adafactor',
  create: (options) => adafactor(options),
  optionSets: [
    {},
    { learningRate: 1e-2, relativeStep: false, beta1: 0.9, weightDecay: 0.01 },
    { warmupInit: true, clipThreshold: 0.5, decayRate: -0.6 },
  ],
  quadratic: { options: { learningRate: 0.05, scaleParameter: false }, steps: 300, tolerance: 1e-3 },
  rosenbrock: {
    options: { learningRate: 3e-3, scaleParameter: false, beta1: 0.9 },
    steps: 3000,
    tolerance: 1e-2,
  },
  errorCases: [
    { options: { clipThreshold: 0 }, error: /Invalid clipThreshold: 0/ },
    { options: { clipThreshold: -1 }, error: /Invalid clipThreshold: -1/ },
    { options: { epsilon1: 0 }, error: /Invalid epsilon1: 0/ },
    { options: { epsilon2: -1e-3 }, error: /Invalid epsilon2: -0.001/ },
    { options: { decayRate: 0.5 }, error: /Invalid decayRate: 0.5/ },
    { options: { decayRate: Number.NEGATIVE_INFINITY }, error: /Invalid decayRate: -Infinity/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta1: -0.1 }, error: /Invalid beta1: -0.1/ },
    { options: { weightDecay: -0.01 }, error: /Invalid weightDecay: -0.01/ },
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    {
      options: { learningRate: 1e-3, relativeStep: true },
      error: /Invalid relativeStep: true with learningRate 0.001/,
    },
    { options: { relativeStep: false }, error: /Invalid learningRate: null with relativeStep: false/ },
    {
      options: { learningRate: 1e-3, warmupInit: true },
      error: /Invalid warmupInit: true with relativeStep: false/,
    },
    { options: { learningRate: () => -1 }, error: /Invalid learning rate: -1 \(scheduled/ },
  ],
});
