import { describeOptimizerConformance, expectClose, float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Muon, type MuonOptions, muon } from './index.js';
import { muonLearningRateScale, newtonSchulz } from './muon.js';

// ------------------------------------------------------------------------------------------------
// Independent float64 reference, written from pytorch/pytorch torch/optim/_muon.py (the code:
// buf.lerp_(grad, 1 − μ), update = grad.lerp(buf, μ), _zeropower_via_newtonschulz, _adjust_lr,
// param.mul_(1 − lr·wd), param.add_(update, alpha = −adjusted_lr)) and, for useMuon: false,
// KellerJordan/Muon muon.py adam_update with MuonWithAuxAdam's step.

interface Hyper {
  learningRate: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  nsSteps: number;
  a: number;
  b: number;
  c: number;
  epsilon: number;
  adjust: 'original' | 'matchRmsAdamW';
  useMuon: boolean;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
}

const torchDefaults: Hyper = {
  learningRate: 1e-3,
  weightDecay: 0.1,
  momentum: 0.95,
  nesterov: true,
  nsSteps: 5,
  a: 3.4445,
  b: -4.775,
  c: 2.0315,
  epsilon: 1e-7,
  adjust: 'original',
  useMuon: true,
  adamBeta1: 0.9,
  adamBeta2: 0.95,
  adamEpsilon: 1e-10,
};

/** torch.optim.Muon's Newton–Schulz settings. */
const torchNewtonSchulz = { steps: 5, a: 3.4445, b: -4.775, c: 2.0315, epsilon: 1e-7 };

/** C = A·B for A (n×k) and B (k×m), row-major, float64. */
function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * m + j]!;
      out[i * m + j] = s;
    }
  return out;
}

function transpose(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}

function nsReference(g: Float64Array, rows: number, cols: number, h: Hyper): Float64Array {
  const tall = rows > cols;
  const n = tall ? cols : rows;
  const m = tall ? rows : cols;
  let x = tall ? transpose(g, rows, cols) : Float64Array.from(g);
  let norm = 0;
  for (const value of x) norm += value * value;
  norm = Math.max(Math.sqrt(norm), h.epsilon);
  x = x.map((value) => value / norm);
  for (let step = 0; step < h.nsSteps; step++) {
    const gram = matmul(x, transpose(x, n, m), n, m, n);
    const gram2 = matmul(gram, gram, n, n, n);
    const poly = gram.map((value, i) => h.b * value + h.c * gram2[i]!);
    const px = matmul(poly, x, n, n, m);
    x = x.map((value, i) => h.a * value + px[i]!);
  }
  return tall ? transpose(x, n, m) : x;
}

function scaleReference(h: Hyper, rows: number, cols: number): number {
  return h.adjust === 'matchRmsAdamW'
    ? 0.2 * Math.sqrt(Math.max(rows, cols))
    : Math.sqrt(Math.max(1, rows / cols));
}

interface RefState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  step: number;
}

function referenceStep(state: RefState, g: Float64Array, shape: readonly number[], h: Hyper): void {
  state.step += 1;
  const { p, m, v } = state;
  if (!h.useMuon) {
    for (let i = 0; i < p.length; i++) {
      m[i] = m[i]! + (1 - h.adamBeta1) * (g[i]! - m[i]!);
      v[i] = v[i]! + (1 - h.adamBeta2) * (g[i]! * g[i]! - v[i]!);
      const update =
        m[i]! /
        (1 - h.adamBeta1 ** state.step) /
        (Math.sqrt(v[i]! / (1 - h.adamBeta2 ** state.step)) + h.adamEpsilon);
      p[i] = p[i]! * (1 - h.learningRate * h.weightDecay) - h.learningRate * update;
    }
    return;
  }
  const [rows, cols] = shape as [number, number];
  const u = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    m[i] = m[i]! + (1 - h.momentum) * (g[i]! - m[i]!);
    u[i] = h.nesterov ? g[i]! + h.momentum * (m[i]! - g[i]!) : m[i]!;
  }
  const o = nsReference(u, rows, cols, h);
  const lr = h.learningRate * scaleReference(h, rows, cols);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! * (1 - h.learningRate * h.weightDecay) - lr * o[i]!;
}

// ------------------------------------------------------------------------------------------------

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let counter = 0;

function makeVariable(shape: readonly number[], values: Float64Array, label: string): tf.Variable {
  counter += 1;
  return tf.tidy(() =>
    tf.variable(tf.tensor(Float32Array.from(values), [...shape]), true, `muonTest${counter}/${label}`),
  );
}

function step(optimizer: tf.Optimizer, variables: tf.Variable[], grads: readonly Float64Array[]): void {
  const tensors = variables.map((v, i) => tf.tensor(Float32Array.from(grads[i]!), v.shape));
  try {
    optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, tensors[i]!])));
  } finally {
    tf.dispose(tensors);
  }
}

const notMatrix = (v: tf.Variable) => v.rank !== 2;

// Matrices wide, square and tall (rows > cols, transposed for the iteration), a row vector as a
// matrix, and the ranks the AdamW path takes.
const matrixShapes = [
  [3, 4],
  [4, 3],
  [5, 2],
  [1, 6],
  [6, 6],
] as const;
const otherShapes = [[], [5], [2, 3, 2]] as const;
const shapes: readonly (readonly number[])[] = [...matrixShapes, ...otherShapes];
const STEPS = 40;

interface Case {
  title: string;
  options: MuonOptions;
  hyper: (shape: readonly number[], completed: number) => Hyper;
}

const cases: Case[] = [
  {
    title: "torch.optim.Muon's defaults, AdamW (MuonWithAuxAdam's) for the rest",
    options: { paramGroups: [{ match: notMatrix, useMuon: false }] },
    hyper: (shape) => ({ ...torchDefaults, useMuon: shape.length === 2 }),
  },
  {
    title: 'a large learning rate, weight decay, matchRmsAdamW and an AdamW group with its own options',
    options: {
      learningRate: 0.05,
      weightDecay: 0.2,
      adjustLearningRate: 'matchRmsAdamW',
      paramGroups: [
        {
          match: notMatrix,
          useMuon: false,
          learningRate: 0.01,
          weightDecay: 0.05,
          adamBeta1: 0.8,
          adamBeta2: 0.99,
        },
      ],
    },
    hyper: (shape) =>
      shape.length === 2
        ? { ...torchDefaults, learningRate: 0.05, weightDecay: 0.2, adjust: 'matchRmsAdamW' }
        : {
            ...torchDefaults,
            useMuon: false,
            learningRate: 0.01,
            weightDecay: 0.05,
            adamBeta1: 0.8,
            adamBeta2: 0.99,
          },
  },
  {
    title: 'no Nesterov, a short memory, 3 steps of other coefficients and a scheduled learning rate',
    options: {
      learningRate: (s) => 0.1 * 0.95 ** s,
      momentum: 0.3,
      nesterov: false,
      nsSteps: 3,
      nsCoefficientA: 2,
      nsCoefficientB: -1.5,
      nsCoefficientC: 0.5,
      weightDecay: 0,
      paramGroups: [{ match: notMatrix, useMuon: false, adamEpsilon: 1e-8, adamBeta1: 0.4, adamBeta2: 0.3 }],
    },
    hyper: (shape, completed) => ({
      ...torchDefaults,
      learningRate: 0.1 * 0.95 ** completed,
      momentum: 0.3,
      nesterov: false,
      nsSteps: 3,
      a: 2,
      b: -1.5,
      c: 0.5,
      weightDecay: 0,
      ...(shape.length === 2 ? {} : { useMuon: false, adamEpsilon: 1e-8, adamBeta1: 0.4, adamBeta2: 0.3 }),
    }),
  },
];

describe('muon', () => {
  describe(`matches a float64 reference over ${STEPS} steps on matrices wide, square and tall (and AdamW on ranks 0, 1, 3)`, () => {
    cases.forEach((c, caseIndex) => {
      it(c.title, () => {
        const random = seededRandom(101 + caseIndex);
        const states: RefState[] = shapes.map((shape) => {
          const size = sizeOf(shape);
          return {
            p: float32Values(random, size),
            m: new Float64Array(size),
            v: new Float64Array(size),
            step: 0,
          };
        });
        const variables = shapes.map((shape, i) => makeVariable(shape, states[i]!.p, `v${i}`));
        const optimizer = muon(c.options);
        for (let t = 0; t < STEPS; t++) {
          // Large, then small, then mixed gradients (the momentum and the second moment follow).
          const scale = t < 10 ? 1 : t < 25 ? 0.01 : 0.3;
          const grads = shapes.map((shape) => float32Values(random, sizeOf(shape), scale));
          step(optimizer, variables, grads);
          shapes.forEach((shape, i) => {
            referenceStep(states[i]!, grads[i]!, shape, c.hyper(shape, t));
          });
          variables.forEach((v, i) => {
            expectClose(v.dataSync(), states[i]!.p, `step ${t + 1}, shape [${shapes[i]}]`);
          });
        }
        variables.forEach((v, i) => {
          const slots = optimizer.getSlots(v.name)!;
          if (shapes[i]!.length === 2) {
            expect(Object.keys(slots)).toEqual(['momentumBuffer']);
            expectClose(slots.momentumBuffer!.dataSync(), states[i]!.m, `momentumBuffer of [${shapes[i]}]`);
          } else {
            expect(Object.keys(slots).sort()).toEqual(['expAvg', 'expAvgSq']);
            expectClose(slots.expAvg!.dataSync(), states[i]!.m, `expAvg of [${shapes[i]}]`);
            expectClose(slots.expAvgSq!.dataSync(), states[i]!.v, `expAvgSq of [${shapes[i]}]`);
          }
        });
        optimizer.dispose();
        tf.dispose(variables);
      });
    });
  });

  it('orthogonalises as the float64 Newton–Schulz reference does, wide and tall', () => {
    const random = seededRandom(7);
    for (const [rows, cols] of [
      [3, 4],
      [4, 3],
      [8, 2],
      [6, 6],
      [2, 9],
    ] as const) {
      for (const scale of [1e-3, 1, 50]) {
        const g = float32Values(random, rows * cols, scale);
        const got = tf.tidy(() =>
          newtonSchulz(tf.tensor2d(Float32Array.from(g), [rows, cols]), torchNewtonSchulz).dataSync(),
        );
        expectClose(
          got,
          nsReference(g, rows, cols, torchDefaults),
          `NS of [${rows}, ${cols}] at scale ${scale}`,
        );
      }
    }
  });

  it('derives the first steps of a row vector by hand: the orthogonalised update is σ₅·g/‖g‖', () => {
    // For a 1×n matrix, X Xᵀ = ‖X‖² is a number: X ← (a + bσ² + cσ⁴)X keeps X's direction and maps
    // its norm σ by σ ← aσ + bσ³ + cσ⁵, from σ₀ = 1 (after dividing by the Frobenius norm):
    //   σ₁ = 3.4445 − 4.775 + 2.0315 = 0.701
    //   σ₂ = 3.4445·0.701 − 4.775·0.701³ + 2.0315·0.701⁵ = 2.41459 − 1.64487 + 0.34393 = 1.11365
    //   σ₃ … σ₅ by the same map (below, in float64).
    const f = (s: number) => 3.4445 * s - 4.775 * s ** 3 + 2.0315 * s ** 5;
    const sigma = [1];
    for (let i = 0; i < 5; i++) sigma.push(f(sigma[i]!));
    expect(sigma[1]).toBeCloseTo(0.701, 12);
    expect(sigma[2]).toBeCloseTo(1.11365, 4);
    // Step 1 with g = [[3, 4]] (‖g‖ = 5), p = [[1, −1]], lr 0.1, wd 0.5, momentum 0.95, Nesterov:
    //   m = 0 + 0.05·(g − 0) = 0.05·g;  u = m − (m − g)·0.05 = 0.0975·g;  u/‖u‖ = [0.6, 0.8]
    //   p ← p·(1 − 0.1·0.5) − 0.1·√max(1, 1/2)·σ₅·[0.6, 0.8] = [0.95 − 0.06σ₅, −0.95 − 0.08σ₅]
    // Step 2 with g = [[−4, 3]]:
    //   m = 0.05g₁ + 0.05·(g₂ − 0.05g₁) = [−0.0425, 0.1925]... written out: m = 0.0475·g₁ + 0.05·g₂
    //     = [0.1425 − 0.2, 0.19 + 0.15] = [−0.0575, 0.34]
    //   u = m − (m − g₂)·0.05 = 0.95·m + 0.05·g₂ = [−0.054625 − 0.2, 0.323 + 0.15] = [−0.254625, 0.473]
    const p = makeVariable([1, 2], Float64Array.of(1, -1), 'row');
    const optimizer = muon({ learningRate: 0.1, weightDecay: 0.5 });
    step(optimizer, [p], [Float64Array.of(3, 4)]);
    const s5 = sigma[5]!;
    expectClose(p.dataSync(), [0.95 - 0.06 * s5, -0.95 - 0.08 * s5], 'step 1');
    const before = Float64Array.from(p.dataSync());
    step(optimizer, [p], [Float64Array.of(-4, 3)]);
    const u = [-0.254625, 0.473];
    const norm = Math.hypot(u[0]!, u[1]!);
    expectClose(
      p.dataSync(),
      before.map((x, i) => x * 0.95 - 0.1 * s5 * (u[i]! / norm)),
      'step 2',
    );
    expectClose(
      optimizer.getSlots(p.name)!.momentumBuffer!.dataSync(),
      [-0.0575, 0.34],
      'buffer after step 2',
    );
    optimizer.dispose();
    p.dispose();
  });

  it('transposes a tall matrix, and scales its step by √(rows/cols) (original) or 0.2·√rows (matchRmsAdamW)', () => {
    // A 2×1 column [[3], [4]] orthogonalises to σ₅·[0.6, 0.8]ᵀ as the row does; 'original' scales
    // the step by √max(1, 2/1) = √2, 'matchRmsAdamW' by 0.2·√max(2, 1) = 0.2·√2.
    expect(muonLearningRateScale('original', 2, 1)).toBeCloseTo(Math.SQRT2, 15);
    expect(muonLearningRateScale('original', 1, 2)).toBe(1);
    expect(muonLearningRateScale('matchRmsAdamW', 2, 1)).toBeCloseTo(0.2 * Math.SQRT2, 15);
    expect(muonLearningRateScale('matchRmsAdamW', 64, 256)).toBeCloseTo(3.2, 12);
    const f = (s: number) => 3.4445 * s - 4.775 * s ** 3 + 2.0315 * s ** 5;
    let s5 = 1;
    for (let i = 0; i < 5; i++) s5 = f(s5);
    for (const [adjust, scale] of [
      ['original', Math.SQRT2],
      ['matchRmsAdamW', 0.2 * Math.SQRT2],
    ] as const) {
      const p = makeVariable([2, 1], Float64Array.of(0, 0), `column-${adjust}`);
      const optimizer = muon({ learningRate: 0.1, weightDecay: 0, adjustLearningRate: adjust });
      step(optimizer, [p], [Float64Array.of(3, 4)]);
      expectClose(p.dataSync(), [-0.1 * scale * s5 * 0.6, -0.1 * scale * s5 * 0.8], adjust);
      optimizer.dispose();
      p.dispose();
    }
  });

  it('gives nearly orthogonal updates: NS(UΣVᵀ) = U f⁵(Σ/‖Σ‖) Vᵀ, its singular values within (0.5, 1.5)', () => {
    // Build G = U·diag(s)·Vᵀ with orthonormal U (5×3) and V (3×3) from Gram–Schmidt, so that the
    // iteration acts on each singular value alone: σ ← aσ + bσ³ + cσ⁵ from σ = s/‖s‖.
    const random = seededRandom(99);
    const orthonormal = (rows: number, cols: number) => {
      const q = float32Values(random, rows * cols);
      for (let j = 0; j < cols; j++) {
        for (let k = 0; k < j; k++) {
          let dot = 0;
          for (let i = 0; i < rows; i++) dot += q[i * cols + j]! * q[i * cols + k]!;
          for (let i = 0; i < rows; i++) q[i * cols + j] = q[i * cols + j]! - dot * q[i * cols + k]!;
        }
        let n = 0;
        for (let i = 0; i < rows; i++) n += q[i * cols + j]! ** 2;
        for (let i = 0; i < rows; i++) q[i * cols + j] = q[i * cols + j]! / Math.sqrt(n);
      }
      return q;
    };
    const u = orthonormal(5, 3);
    const v = orthonormal(3, 3);
    const s = [3, 1.5, 0.6];
    const norm = Math.hypot(...s);
    const us = u.map((x, i) => x * s[i % 3]!);
    const g = matmul(us, transpose(v, 3, 3), 5, 3, 3);
    const f = (x: number) => 3.4445 * x - 4.775 * x ** 3 + 2.0315 * x ** 5;
    const mapped = s.map((x) => {
      let y = x / norm;
      for (let i = 0; i < 5; i++) y = f(y);
      return y;
    });
    for (const y of mapped) {
      expect(y).toBeGreaterThan(0.5);
      expect(y).toBeLessThan(1.5);
    }
    const expected = matmul(
      u.map((x, i) => x * mapped[i % 3]!),
      transpose(v, 3, 3),
      5,
      3,
      3,
    );
    const got = tf.tidy(() =>
      newtonSchulz(tf.tensor2d(Float32Array.from(g), [5, 3]), torchNewtonSchulz).dataSync(),
    );
    expectClose(got, expected, 'NS(UΣVᵀ)');
    // In the bases of G, O is diagonal: UᵀOV = diag(σ₅), each within (0.5, 1.5).
    const o = Float64Array.from(got);
    const core = matmul(matmul(transpose(u, 5, 3), o, 3, 5, 3), v, 3, 3, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (i === j) expect(core[i * 3 + j]).toBeCloseTo(mapped[i]!, 4);
        else expect(Math.abs(core[i * 3 + j]!)).toBeLessThan(1e-5);
      }
    }
  });

  it('with momentum 0 orthogonalises the gradient itself (Nesterov or not)', () => {
    const random = seededRandom(3);
    const g = float32Values(random, 12);
    const finals = [true, false].map((nesterov) => {
      const p = makeVariable([3, 4], new Float64Array(12), `m0-${nesterov}`);
      const optimizer = muon({ momentum: 0, nesterov, learningRate: 1, weightDecay: 0 });
      step(optimizer, [p], [g]);
      const value = Float64Array.from(p.dataSync());
      optimizer.dispose();
      p.dispose();
      return value;
    });
    const expected = nsReference(g, 3, 4, torchDefaults).map((x) => -x);
    expectClose(finals[0]!, expected, 'nesterov');
    expectClose(finals[1]!, expected, 'heavy ball');
  });

  it('keeps one slot (4 bytes per element) on the Muon path and two on the AdamW path', () => {
    const w = makeVariable([4, 8], new Float64Array(32), 'hidden');
    const b = makeVariable([8], new Float64Array(8), 'bias');
    const optimizer = muon({ paramGroups: [{ params: [b], useMuon: false }] });
    step(optimizer, [w, b], [new Float64Array(32).fill(0.1), new Float64Array(8).fill(0.1)]);
    expect(optimizer.stateBytes()).toBe(32 * 4 + 2 * 8 * 4);
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 5; i++)
      step(optimizer, [w, b], [new Float64Array(32).fill(0.1), new Float64Array(8).fill(-0.2)]);
    expect(tf.memory().numTensors).toBe(baseline);
    optimizer.dispose();
    tf.dispose([w, b]);
  });

  it('refuses a variable that is not 2-D on the Muon path, naming it, and changes nothing', () => {
    const w = makeVariable(
      [3, 3],
      Float64Array.from({ length: 9 }, (_, i) => i),
      'hidden',
    );
    const bias = makeVariable([3], Float64Array.of(1, 2, 3), 'bias');
    const optimizer = muon();
    const before = Array.from(w.dataSync());
    expect(() =>
      step(optimizer, [w, bias], [new Float64Array(9).fill(1), new Float64Array(3).fill(1)]),
    ).toThrow(
      new RegExp(
        `2-D variables only.*useMuon: false.*\\(variable '${bias.name.replace('/', '\\/')}', shape \\[3\\]\\)`,
      ),
    );
    expect(Array.from(w.dataSync())).toEqual(before);
    expect(Array.from(bias.dataSync())).toEqual([1, 2, 3]);
    expect(optimizer.getSlots(w.name)).toBeUndefined();
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
    tf.dispose([w, bias]);
  });

  it('is a tf.Optimizer registered as OptimkitMuon, its config carrying the string option', () => {
    const optimizer = muon({ adjustLearningRate: 'matchRmsAdamW' });
    expect(optimizer).toBeInstanceOf(Muon);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitMuon');
    expect(optimizer.getConfig().adjustLearningRate).toBe('matchRmsAdamW');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitMuon?.[0]).toBe(Muon);
    optimizer.dispose();
  });

  describe('the recipe: Muon for hidden matrices, AdamW for embeddings, head, biases and gains', () => {
    it('trains a small two-layer network in one optimizer object, each variable on its path', () => {
      const random = seededRandom(5);
      const embed = makeVariable([6, 4], float32Values(random, 24, 0.5), 'embed/embeddings');
      const hidden = makeVariable([4, 4], float32Values(random, 16, 0.5), 'block/kernel');
      const hiddenBias = makeVariable([4], new Float64Array(4), 'block/bias');
      const gain = makeVariable([4], new Float64Array(4).fill(1), 'norm/gamma');
      const head = makeVariable([4, 3], float32Values(random, 12, 0.5), 'head/kernel');
      const isAuxiliary = (v: tf.Variable) => v.rank !== 2 || /embed|head/.test(v.name);
      const optimizer = muon({
        learningRate: 0.05,
        weightDecay: 0.01,
        paramGroups: [{ match: isAuxiliary, useMuon: false, learningRate: 0.03, weightDecay: 0 }],
      });
      const tokens = tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 2], 'int32');
      const targets = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 2], 'int32'), 3);
      const loss = () =>
        tf.tidy(() => {
          const x = tf.gather(embed, tokens);
          const h = tf.relu(tf.add(tf.matMul(x, hidden), hiddenBias));
          const logits = tf.matMul(tf.mul(h, gain), head);
          return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
        });
      const first = loss().dataSync()[0]!;
      for (let i = 0; i < 100; i++) optimizer.minimize(loss);
      const last = loss().dataSync()[0]!;
      expect(last).toBeLessThan(first * 0.2);
      expect(Object.keys(optimizer.getSlots(hidden.name)!)).toEqual(['momentumBuffer']);
      for (const v of [embed, hiddenBias, gain, head]) {
        expect(Object.keys(optimizer.getSlots(v.name)!).sort()).toEqual(['expAvg', 'expAvgSq']);
      }
      optimizer.dispose();
      tf.dispose([embed, hidden, hiddenBias, gain, head, tokens, targets]);
    });

    it('matches separate Muon and AdamW-path optimizers stepped on their own variables', () => {
      const random = seededRandom(8);
      const initial = [float32Values(random, 12), float32Values(random, 4)];
      const grads = Array.from({ length: 6 }, () => [float32Values(random, 12), float32Values(random, 4)]);
      const joint = [makeVariable([3, 4], initial[0]!, 'jw'), makeVariable([4], initial[1]!, 'jb')];
      const apart = [makeVariable([3, 4], initial[0]!, 'aw'), makeVariable([4], initial[1]!, 'ab')];
      const one = muon({ paramGroups: [{ match: notMatrix, useMuon: false, learningRate: 0.01 }] });
      const muonOnly = muon();
      const adamOnly = muon({ useMuon: false, learningRate: 0.01 });
      for (const g of grads) {
        step(one, joint, g);
        step(muonOnly, [apart[0]!], [g[0]!]);
        step(adamOnly, [apart[1]!], [g[1]!]);
      }
      for (let i = 0; i < 2; i++)
        expect(Array.from(joint[i]!.dataSync())).toEqual(Array.from(apart[i]!.dataSync()));
      for (const o of [one, muonOnly, adamOnly]) o.dispose();
      tf.dispose([...joint, ...apart]);
    });
  });

  describeOptimizerConformance<MuonOptions>({
    name: 'muon (conformance; AdamW path for non-matrices)',
    create: (options) => muon(options ?? { paramGroups: [{ match: notMatrix, useMuon: false }] }),
    optionSets: [
      { paramGroups: [{ match: notMatrix, useMuon: false }] },
      {
        learningRate: 0.01,
        nesterov: false,
        adjustLearningRate: 'matchRmsAdamW',
        paramGroups: [{ match: notMatrix, useMuon: false, weightDecay: 0 }],
      },
    ],
    quadratic: {
      options: { learningRate: 0.05, weightDecay: 0, paramGroups: [{ match: notMatrix, useMuon: false }] },
      steps: 600,
      tolerance: 1e-2,
    },
    rosenbrock: {
      options: {
        learningRate: 0.01,
        weightDecay: 0,
        paramGroups: [{ match: notMatrix, useMuon: false, adamBeta2: 0.999 }],
      },
      steps: 3000,
      tolerance: 5e-2,
    },
    errorCases: [
      { options: { learningRate: -1 }, error: 'Invalid learning rate: -1' },
      { options: { momentum: 1 }, error: 'Invalid momentum: 1' },
      { options: { weightDecay: -0.1 }, error: 'Invalid weightDecay: -0.1' },
      { options: { nsSteps: 0 }, error: /Invalid nsSteps: 0/ },
      { options: { nsSteps: 2.5 }, error: /Invalid nsSteps: 2.5/ },
      { options: { nsSteps: 100 }, error: /Invalid nsSteps: 100/ },
      { options: { epsilon: 0 }, error: 'Invalid epsilon: 0' },
      { options: { nsCoefficientB: Number.POSITIVE_INFINITY }, error: 'Invalid nsCoefficientB: Infinity' },
      { options: { adjustLearningRate: 'rms' as 'original' }, error: /Invalid adjustLearningRate: rms/ },
      { options: { adjustLearningRate: 1 as unknown as 'original' }, error: /must be a string/ },
      { options: { adamBeta2: 1 }, error: 'Invalid adamBeta2: 1' },
      { options: { adamEpsilon: -1 }, error: 'Invalid adamEpsilon: -1' },
      { options: { useMuon: 1 as unknown as boolean }, error: /must be a boolean/ },
    ],
  });
});
