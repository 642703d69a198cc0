import { loadOptimizer } from '@optimkit/core';
import {
  describeFusedEquivalence,
  describeOptimizerConformance,
  expectClose,
  float32Values,
  seededRandom,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { prodigyCases } from './fused-cases.js';
import { Prodigy, type ProdigyOptions, prodigy } from './index.js';

// ------------------------------------------------------------------------------------------------
// Independent float64 reference, written from konstmish/prodigy prodigyopt/prodigy.py (step()):
// the first loop over every group's parameters sums ⟨g, p0 − p⟩ and ‖s‖₁ (updating the moments
// and s with the old d), d is updated, the second loop steps with the old dlr and the new d.

interface Global {
  lr: number;
  beta1: number;
  beta2: number;
  beta3: number | null;
  decouple: boolean;
  useBiasCorrection: boolean;
  dCoef: number;
  growthRate: number;
}

interface Local {
  lr: number;
  weightDecay: number;
  epsilon: number;
  d0: number;
  safeguardWarmup: boolean;
}

interface VarState {
  p: Float64Array;
  p0: Float64Array | null;
  s: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

class Reference {
  d: number;
  dMax: number;
  dNumerator = 0;
  k = 0;
  constructor(
    readonly g: Global,
    readonly vars: VarState[],
    readonly locals: Local[],
  ) {
    this.d = locals[0]!.d0;
    this.dMax = this.d;
  }

  step(grads: readonly Float64Array[]): void {
    const { beta1, beta2, growthRate, dCoef } = this.g;
    const beta3 = this.g.beta3 ?? Math.sqrt(beta2);
    const lr = Math.max(this.g.lr, ...this.locals.map((l) => l.lr));
    const bc = this.g.useBiasCorrection
      ? Math.sqrt(1 - beta2 ** (this.k + 1)) / (1 - beta1 ** (this.k + 1))
      : 1;
    const d = this.d;
    const dlr = d * lr * bc;
    let dNumerator = this.dNumerator * beta3;
    let delta = 0;
    let denom = 0;
    const gs = grads.map((grad, i) => {
      const { p } = this.vars[i]!;
      const l = this.locals[i]!;
      return l.weightDecay !== 0 && !this.g.decouple ? grad.map((x, j) => x + l.weightDecay * p[j]!) : grad;
    });
    this.vars.forEach((st, i) => {
      const l = this.locals[i]!;
      const g = gs[i]!;
      if (!st.p0) st.p0 = Float64Array.from(st.p);
      if (l.lr > 0) {
        let dot = 0;
        for (let j = 0; j < g.length; j++) dot += g[j]! * (st.p0[j]! - st.p[j]!);
        delta += (d / l.d0) * dlr * dot;
        const c = (d / l.d0) * (l.safeguardWarmup ? d : dlr);
        for (let j = 0; j < g.length; j++) {
          if (beta1 > 0) st.m[j] = st.m[j]! * beta1 + d * (1 - beta1) * g[j]!;
          st.v[j] = st.v[j]! * beta2 + d * d * (1 - beta2) * g[j]! * g[j]!;
          st.s[j] = st.s[j]! * beta3 + c * g[j]!;
          denom += Math.abs(st.s[j]!);
        }
      }
    });
    if (denom === 0) return;
    let next = d;
    if (lr > 0) {
      dNumerator += delta;
      const dHat = (dCoef * dNumerator) / denom;
      if (d === this.locals[0]!.d0) next = Math.max(d, dHat);
      this.dMax = Math.max(this.dMax, dHat);
      next = Math.min(this.dMax, next * growthRate);
    }
    this.dNumerator = dNumerator;
    this.d = next;
    this.vars.forEach((st, i) => {
      const l = this.locals[i]!;
      const g = gs[i]!;
      for (let j = 0; j < g.length; j++) {
        const den = Math.sqrt(st.v[j]!) + next * l.epsilon;
        if (l.weightDecay !== 0 && this.g.decouple) st.p[j] = st.p[j]! - l.weightDecay * dlr * st.p[j]!;
        st.p[j] = beta1 > 0 ? st.p[j]! - (dlr * st.m[j]!) / den : st.p[j]! - (dlr * next * g[j]!) / den;
      }
    });
    this.k += 1;
  }
}

// ------------------------------------------------------------------------------------------------

const shapes = [[], [5], [3, 4], [2, 3, 4]] as const;
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
let counter = 0;

function makeVariables(values: readonly Float64Array[]): tf.Variable[] {
  counter += 1;
  return shapes.map((shape, i) =>
    tf.tidy(() =>
      tf.variable(tf.tensor(Float32Array.from(values[i]!), [...shape]), true, `prodigy${counter}/v${i}`),
    ),
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

const referenceGlobal: Global = {
  lr: 1,
  beta1: 0.9,
  beta2: 0.999,
  beta3: null,
  decouple: true,
  useBiasCorrection: false,
  dCoef: 1,
  growthRate: Number.POSITIVE_INFINITY,
};
const referenceLocal: Local = { lr: 1, weightDecay: 0, epsilon: 1e-8, d0: 1e-6, safeguardWarmup: false };
const isRankAtMostOne = (v: tf.Variable) => v.rank <= 1;

interface Case {
  title: string;
  options: ProdigyOptions;
  global: Global;
  local: (rank: number) => Local;
}

const cases: Case[] = [
  { title: 'the reference defaults', options: {}, global: referenceGlobal, local: () => referenceLocal },
  {
    title: 'beta1 0, coupled weight decay, bias correction, a larger d0 and a growth rate',
    options: {
      beta1: 0,
      decouple: false,
      weightDecay: 0.1,
      useBiasCorrection: true,
      d0: 1e-3,
      growthRate: 1.05,
    },
    global: { ...referenceGlobal, beta1: 0, decouple: false, useBiasCorrection: true, growthRate: 1.05 },
    local: () => ({ ...referenceLocal, weightDecay: 0.1, d0: 1e-3 }),
  },
  {
    title:
      'safeguard warmup, decoupled decay, dCoef 2, beta3 0.9, a group with its own epsilon, d0 and decay',
    options: {
      safeguardWarmup: true,
      weightDecay: 0.05,
      dCoef: 2,
      beta3: 0.9,
      learningRate: 0.5,
      paramGroups: [
        { match: isRankAtMostOne, epsilon: 1e-4, d0: 1e-5, weightDecay: 0, safeguardWarmup: false },
      ],
    },
    global: { ...referenceGlobal, dCoef: 2, beta3: 0.9, lr: 0.5 },
    local: (rank) =>
      rank <= 1
        ? { ...referenceLocal, lr: 0.5, epsilon: 1e-4, d0: 1e-5, weightDecay: 0 }
        : { ...referenceLocal, lr: 0.5, weightDecay: 0.05, safeguardWarmup: true },
  },
];

const STEPS = 40;

describe('prodigy', () => {
  describe(`matches a float64 reference over ${STEPS} steps on ranks 0–3 (parameters and d)`, () => {
    cases.forEach((c, index) => {
      it(c.title, () => {
        const random = seededRandom(71 + index);
        const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
        // The reference's d0 comparison uses the first group's d0: order the variables so that the
        // first is one of the top-level options.
        const order = [2, 3, 0, 1];
        const vars = order.map((i) => ({
          p: Float64Array.from(initial[i]!),
          p0: null,
          s: new Float64Array(initial[i]!.length),
          m: new Float64Array(initial[i]!.length),
          v: new Float64Array(initial[i]!.length),
        }));
        const reference = new Reference(
          c.global,
          vars,
          order.map((i) => c.local(shapes[i]!.length)),
        );
        const variables = makeVariables(initial);
        const optimizer = prodigy(c.options);
        for (let t = 0; t < STEPS; t++) {
          const scale = t < 10 ? 1 : t < 25 ? 0.05 : 0.5;
          const grads = shapes.map((s) => float32Values(random, sizeOf(s), scale));
          step(optimizer, variables, grads);
          reference.step(order.map((i) => grads[i]!));
          expectClose([optimizer.d], [reference.d], `step ${t + 1}: d`);
          order.forEach((i, r) => {
            expectClose(variables[i]!.dataSync(), reference.vars[r]!.p, `step ${t + 1}, [${shapes[i]}]`);
          });
        }
        expect(reference.d).toBeGreaterThan(c.local(2).d0);
        optimizer.dispose();
        tf.dispose(variables);
      });
    });
  });

  it('derives the first two steps by hand', () => {
    // One element p = 1, defaults (lr 1, β1 0.9, β2 0.999, β3 = √0.999, d0 = 1e-6, ε 1e-8).
    // Step 1, g = 2: p0 = 1, ⟨g, p0 − p⟩ = 0, so r = 0 and d̂ = 0: d stays 1e-6 (= d0).
    //   m = 1e-6·0.1·2 = 2e-7;  v = 1e-12·0.001·4 = 4e-15;  s = (d/d0)·dlr·g = 1·1e-6·2 = 2e-6
    //   p ← 1 − 1e-6·2e-7/(√4e-15 + 1e-6·1e-8) = 1 − 2e-13/(6.3246e-8 + 1e-14) ≈ 1 − 3.16223e-6
    // Step 2, g = 1: ⟨g, p0 − p⟩ = 3.16223e-6; r = β3·0 + 1·1e-6·3.16223e-6 = 3.16223e-12
    //   s = β3·2e-6 + 1e-6·1 = 2.99900e-6;  d̂ = r/‖s‖₁ = 1.05443e-6 > d0: d = 1.05443e-6
    //   m = 0.9·2e-7 + 1e-6·0.1 = 2.8e-7;  v = 0.999·4e-15 + 1e-12·0.001 = 4.996e-15
    //   p ← p − 1e-6·2.8e-7/(√4.996e-15 + 1.05443e-6·1e-8)   (dlr from the old d, ε·d from the new)
    const [p] = makeVariables([
      Float64Array.of(1),
      new Float64Array(5),
      new Float64Array(12),
      new Float64Array(24),
    ]);
    const optimizer = prodigy();
    const single = (g: number) => {
      const t = tf.scalar(g);
      optimizer.applyGradients({ [p!.name]: t });
      t.dispose();
    };
    single(2);
    const p1 = 1 - (1e-6 * 2e-7) / (Math.sqrt(4e-15) + 1e-14);
    expectClose(p!.dataSync(), [p1], 'p₁');
    expectClose([optimizer.d], [1e-6], 'd₁');
    single(1);
    const beta3 = Math.sqrt(0.999);
    const r = 1e-6 * (1 - p1);
    const s = beta3 * 2e-6 + 1e-6;
    const d2 = r / s;
    expectClose([d2], [1.05443e-6], 'd̂₂ by hand');
    expectClose([optimizer.d], [d2], 'd₂');
    expectClose(p!.dataSync(), [p1 - (1e-6 * 2.8e-7) / (Math.sqrt(4.996e-15) + d2 * 1e-8)], 'p₂');
    optimizer.dispose();
    p!.dispose();
  });

  it('with maximize: true takes the steps of the negated gradients, d estimate included', () => {
    const random = seededRandom(21);
    const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
    const grads = Array.from({ length: 6 }, () => shapes.map((s) => float32Values(random, sizeOf(s))));
    const up = makeVariables(initial);
    const down = makeVariables(initial);
    const ascent = prodigy({ maximize: true, weightDecay: 0.1, decouple: false });
    const descent = prodigy({ weightDecay: 0.1, decouple: false });
    for (const g of grads) {
      step(ascent, up, g);
      step(
        descent,
        down,
        g.map((x) => x.map((v) => -v)),
      );
    }
    expect(ascent.d).toBe(descent.d);
    up.forEach((v, i) => {
      expect(Array.from(v.dataSync())).toEqual(Array.from(down[i]!.dataSync()));
    });
    for (const o of [ascent, descent]) o.dispose();
    tf.dispose([...up, ...down]);
  });

  it('does nothing while every gradient is zero from the start (Σ‖s‖₁ = 0), as the reference', () => {
    const variables = makeVariables(
      shapes.map((s) => Float64Array.from({ length: sizeOf(s) }, (_, i) => i + 1)),
    );
    const optimizer = prodigy({ weightDecay: 0.1 });
    step(
      optimizer,
      variables,
      shapes.map((s) => new Float64Array(sizeOf(s))),
    );
    expect(optimizer.iterations).toBe(0);
    expect(optimizer.d).toBe(Math.fround(1e-6));
    variables.forEach((v, i) => {
      expect(Array.from(v.dataSync())).toEqual(Array.from({ length: sizeOf(shapes[i]!) }, (_, j) => j + 1));
    });
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('keeps d through saveState / loadOptimizer and getWeights / setWeights, continuing bit for bit', async () => {
    const random = seededRandom(13);
    const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
    const grads = Array.from({ length: 8 }, () => shapes.map((s) => float32Values(random, sizeOf(s))));
    const straight = makeVariables(initial);
    const a = prodigy({ weightDecay: 0.01 });
    for (const g of grads) step(a, straight, g);
    const resumed = makeVariables(initial);
    const b = prodigy({ weightDecay: 0.01 });
    for (const g of grads.slice(0, 4)) step(b, resumed, g);
    const bytes = await b.saveState();
    const weights = await b.getWeights();
    const c = (await loadOptimizer(bytes)) as Prodigy;
    expect(c).toBeInstanceOf(Prodigy);
    expect(c.d).toBe(b.d);
    const viaLayers = prodigy({ weightDecay: 0.01 });
    await viaLayers.setWeights(weights);
    expect(viaLayers.d).toBe(b.d);
    for (const g of grads.slice(4)) step(c, resumed, g);
    expect(c.d).toBe(a.d);
    resumed.forEach((v, i) => {
      expect(Array.from(v.dataSync())).toEqual(Array.from(straight[i]!.dataSync()));
    });
    for (const o of [a, b, c, viaLayers]) o.dispose();
    tf.dispose([...straight, ...resumed]);
  });

  it('refuses per-group values of the shared hyperparameters, gradient transforms, and mixed learning rates', () => {
    expect(() => prodigy({ paramGroups: [{ match: isRankAtMostOne, beta1: 0.5 }] })).toThrow(
      "paramGroups[0] of OptimkitProdigy sets 'beta1', which Prodigy shares across all variables: set it at the top level",
    );
    expect(() => prodigy({ clipGradNorm: 1 })).toThrow(/does not take 'clipGradNorm'/);
    expect(() => prodigy({ accumulateSteps: 2 })).toThrow(/does not take 'accumulateSteps'/);
    expect(() => prodigy({ skipNonFinite: true })).toThrow(/does not take 'skipNonFinite'/);
    const variables = makeVariables(shapes.map((s) => float32Values(seededRandom(1), sizeOf(s))));
    const optimizer = prodigy({ paramGroups: [{ match: isRankAtMostOne, learningRate: 0.5 }] });
    const before = variables.map((v) => Array.from(v.dataSync()));
    expect(() =>
      step(
        optimizer,
        variables,
        shapes.map((s) => float32Values(seededRandom(2), sizeOf(s))),
      ),
    ).toThrow(/param groups may only set the learning rate of the others \(1\) or 0/);
    variables.forEach((v, i) => {
      expect(Array.from(v.dataSync())).toEqual(before[i]);
    });
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('reads the gradients back once per step (the reference reads each sum with .item())', async () => {
    const { countDownloads } = await import('@optimkit/testing');
    const variables = makeVariables(shapes.map((s) => float32Values(seededRandom(4), sizeOf(s))));
    const optimizer = prodigy();
    const grads = shapes.map((s) => float32Values(seededRandom(5), sizeOf(s)));
    step(optimizer, variables, grads);
    expect(countDownloads(() => step(optimizer, variables, grads))).toBe(1);
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step(optimizer, variables, grads);
    expect(tf.memory().numTensors).toBe(baseline);
    optimizer.dispose();
    tf.dispose(variables);
  });

  describeFusedEquivalence<ProdigyOptions>({
    name: 'prodigy',
    create: prodigy,
    optionSets: prodigyCases,
    backends: ['cpu'],
    bitIdentical: ['cpu'],
  });

  describeOptimizerConformance<ProdigyOptions>({
    name: 'prodigy',
    create: (options) => prodigy(options),
    optionSets: [{}, { beta1: 0, weightDecay: 0.01, decouple: false, useBiasCorrection: true }],
    quadratic: { options: {}, steps: 300, tolerance: 1e-3 },
    rosenbrock: { options: { d0: 1e-4 }, steps: 3000, tolerance: 5e-2 },
    errorCases: [
      { options: { learningRate: -1 }, error: 'Invalid learning rate: -1' },
      { options: { beta1: 1 }, error: 'Invalid beta1: 1' },
      { options: { beta2: -1 }, error: 'Invalid beta2: -1' },
      { options: { beta3: 1 }, error: 'Invalid beta3: 1' },
      { options: { epsilon: 0 }, error: 'Invalid epsilon: 0' },
      { options: { weightDecay: -1 }, error: 'Invalid weightDecay: -1' },
      { options: { d0: 0 }, error: 'Invalid d0: 0' },
      { options: { dCoef: 0 }, error: 'Invalid dCoef: 0' },
      { options: { growthRate: 0.5 }, error: 'Invalid growthRate: 0.5' },
    ],
  });
});
