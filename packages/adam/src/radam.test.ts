import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runAdamGolden,
  stateOf,
  trace,
} from './golden-inputs.js';
import { RAdam, type RAdamOptions, radam, rectification } from './radam.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

/** torch.optim.RAdam (docs/algorithms/adam.md#radam) in float64; records which branch each step took. */
function reference(o: Hyper, branches: Set<string>): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const v = stateOf(s, 'expAvgSq', p.length);
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    const rhoInf = 2 / (1 - o.beta2) - 1;
    const rhoT = rhoInf - (2 * t * o.beta2 ** t) / bc2;
    const rectified = rhoT > 5;
    branches.add(rectified ? 'rectified' : 'momentum');
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.decoupled) p[i] = p[i]! * (1 - o.lr * o.weightDecay);
      else gi += o.weightDecay * p[i]!;
      m[i] = m[i]! + (1 - o.beta1) * (gi - m[i]!);
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      const mHat = m[i]! / bc1;
      if (rectified) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        const adaptive = Math.sqrt(bc2) / (Math.sqrt(v[i]!) + o.eps);
        p[i] = p[i]! - o.lr * mHat * rect * adaptive;
      } else {
        p[i] = p[i]! - o.lr * mHat;
      }
    }
  };
}

const base: Hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };

describe('radam: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  // With β₂ = 0.999 the first 5 steps take the momentum branch and steps 6–40 are rectified; with
  // β₂ = 0.9 the switch is at step 6 too (ρ₆ = 5.39); with β₂ = 0.6, ρ_∞ = 4 and it never comes.
  const cases = [
    { options: {}, ref: base, branches: ['momentum', 'rectified'] },
    {
      options: { learningRate: 0.01, weightDecay: 0.1 },
      ref: { ...base, lr: 0.01, weightDecay: 0.1 },
      branches: ['momentum', 'rectified'],
    },
    {
      options: {
        learningRate: 0.01,
        beta1: 0.8,
        epsilon: 1e-3,
        weightDecay: 0.1,
        decoupledWeightDecay: true,
      },
      ref: { ...base, lr: 0.01, beta1: 0.8, eps: 1e-3, weightDecay: 0.1, decoupled: true },
      branches: ['momentum', 'rectified'],
    },
    {
      options: { learningRate: 0.02, beta2: 0.9 },
      ref: { ...base, lr: 0.02, beta2: 0.9 },
      branches: ['momentum', 'rectified'],
    },
    {
      options: { learningRate: 0.005, beta2: 0.6 },
      ref: { ...base, lr: 0.005, beta2: 0.6 },
      branches: ['momentum'],
    },
  ];
  cases.forEach(({ options, ref, branches }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const taken = new Set<string>();
      const result = runAdamGolden(radam(options), reference(ref, taken), {
        steps: 40,
        seed: 51 + index,
        slotNames: ['expAvg', 'expAvgSq'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
      expect([...taken].sort()).toEqual(branches);
    });
  });
});

describe('radam: steps by hand', () => {
  it('ρ_t for β₂ = 0.999: ρ_∞ = 1999, ρ₁ = 1, ρ₂ = 1.9995, ρ₅ = 4.996, ρ₆ = 5.994', () => {
    // ρ_t = ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ): ρ₁ = 1999 − 2·0.999/0.001 = 1; ρ₂ = 1999 − 4·0.998001/0.001999.
    expect(rectification(0.999, 1).rho).toBeCloseTo(1, 9);
    expect(rectification(0.999, 1).rect).toBeNull();
    expect(rectification(0.999, 2).rho).toBeCloseTo(1999 - (4 * 0.998001) / 0.001999, 9);
    expect(rectification(0.999, 5).rect).toBeNull();
    expect(rectification(0.999, 6).rho).toBeCloseTo(5.9941638, 6);
    expect(rectification(0.999, 6).rect).toBeCloseTo(0.0258211, 6);
  });

  it('lr 0.1, β = (0.9, 0.999); p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]: both steps un-rectified', () => {
    // Step 1 (ρ₁ = 1 ≤ 5): m = 0.1·g, m̂ = m/0.1 = g; p₁ = p₀ − 0.1·g = [1 − 0.2, −2 − 0.05] = [0.8, −2.05].
    const p1 = [1 - 0.1 * 2, -2 - 0.1 * 0.5];
    // Step 2 (ρ₂ = 1.9995 ≤ 5): m = 0.9·m + 0.1·g₂ = [0.08, 0.095], m̂ = m/0.19 = [0.4210526, 0.5];
    // p₂ = p₁ − 0.1·m̂ = [0.8 − 0.0421053, −2.05 − 0.05] = [0.7578947, −2.1].
    const m2 = [0.9 * 0.2 + 0.1 * -1, 0.9 * 0.05 + 0.1 * 0.5];
    const p2 = p1.map((p, i) => p - 0.1 * (m2[i]! / 0.19));
    const [s1, s2] = trace(
      radam({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(s1!, p1, 'step 1');
    expectClose(s2!, p2, 'step 2');
    expect(s2![0]).toBeCloseTo(0.7578947, 6);
    expect(s2![1]).toBeCloseTo(-2.1, 6);
  });

  it('a constant gradient 1: steps of lr until t = 5, then lr·r_t (the first rectified step)', () => {
    // g = 1 always: m_t = 1 − 0.9ᵗ so m̂ = 1, and v_t = 1 − 0.999ᵗ so √(1 − β₂ᵗ)/(√v + ε) ≈ 1.
    // t ≤ 5: p ← p − 0.1; t = 6: p ← p − 0.1·r₆ with r₆ = 0.0258211; t = 7: r₇ = 0.0327388.
    const rect = (t: number) => {
      const rho = 1999 - (2 * t * 0.999 ** t) / (1 - 0.999 ** t);
      return Math.sqrt(((rho - 4) * (rho - 2) * 1999) / (1995 * 1997 * rho));
    };
    const adaptive = (t: number) => Math.sqrt(1 - 0.999 ** t) / (Math.sqrt(1 - 0.999 ** t) + 1e-8);
    const values = trace(
      radam({ learningRate: 0.1 }),
      [1],
      Array.from({ length: 7 }, () => [1]),
    );
    const expected = [0.9, 0.8, 0.7, 0.6, 0.5];
    expected.push(0.5 - 0.1 * rect(6) * adaptive(6)); // 0.4974179
    expected.push(expected[5]! - 0.1 * rect(7) * adaptive(7)); // 0.4941440
    values.forEach((row, i) => {
      expectClose(row, [expected[i]!], `step ${i + 1}`);
    });
    expect(values[5]![0]).toBeCloseTo(0.4974179, 6);
  });
});

describe('radam: memory', () => {
  it('keeps numTensors constant from the second step (across the branch switch) and frees everything', () => {
    expectNoLeaks(radam({ learningRate: 0.01 }));
    expectNoLeaks(radam({ learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true }));
  });
});

describe('radam: class', () => {
  it('is registered as OptimkitRAdam with the defaults of docs/algorithms/adam.md#radam', () => {
    const optimizer = radam();
    expect(RAdam.className).toBe('OptimkitRAdam');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      decoupledWeightDecay: false,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<RAdamOptions>({
  name: 'radam',
  create: (options) => radam(options),
  optionSets: [{}, { weightDecay: 0.1, decoupledWeightDecay: true }],
  quadratic: { options: { learningRate: 0.1 }, steps: 500, tolerance: 1e-6 },
  // The first 5 steps are plain momentum steps of lr·m̂ ≈ lr·|∇| (≈ 216 at the start), so a larger
  // learning rate throws Rosenbrock off (lr ≥ 0.008 diverges, as it would in PyTorch).
  rosenbrock: { options: { learningRate: 0.004 }, steps: 10000, tolerance: 1e-6 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { beta1: 1.2 }, error: /Invalid beta1: 1.2/ },
    { options: { beta1: -0.1 }, error: /Invalid beta1: -0.1/ },
    { options: { beta2: 1 }, error: /Invalid beta2: 1/ },
    { options: { beta2: -0.5 }, error: /Invalid beta2: -0.5/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: -1e-8 }, error: /Invalid epsilon: -1e-8/ },
    { options: { epsilon: Number.POSITIVE_INFINITY }, error: /Invalid epsilon: Infinity/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
    {
      options: { decoupledWeightDecay: 1 as unknown as boolean },
      error: /Option 'decoupledWeightDecay' of OptimkitRAdam must be a boolean/,
    },
  ],
});
