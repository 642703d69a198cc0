import { describeOptimizerConformance } from '@optimkit/core/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { muProduct, NAdam, type NAdamOptions, nadam } from './nadam.js';
import {
  expectClose,
  expectNoLeaks,
  mulberry32,
  type ReferenceStep,
  runGolden,
  stateOf,
  trace,
} from './test-helpers.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  momentumDecay: number;
  decoupled: boolean;
}

/**
 * torch.optim.NAdam (algorithms.md §8) in float64, keeping `mu_product` as a running product in
 * the state as PyTorch does.
 */
function reference(o: Hyper): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const v = stateOf(s, 'expAvgSq', p.length);
    s.muProduct ??= Float64Array.of(1);
    const product = s.muProduct;
    const bc2 = 1 - o.beta2 ** t;
    const mu = o.beta1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));
    const muNext = o.beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * o.momentumDecay));
    product[0] = product[0]! * mu;
    const muProductNext = product[0]! * muNext;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.decoupled) p[i] = p[i]! * (1 - o.lr * o.weightDecay);
      else gi += o.weightDecay * p[i]!;
      m[i] = m[i]! + (1 - o.beta1) * (gi - m[i]!);
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      const denom = Math.sqrt(v[i]! / bc2) + o.eps;
      p[i] = p[i]! - ((o.lr * (1 - mu)) / (1 - product[0]!)) * (gi / denom);
      p[i] = p[i]! - ((o.lr * muNext) / (1 - muProductNext)) * (m[i]! / denom);
    }
  };
}

const base: Hyper = {
  lr: 2e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  momentumDecay: 4e-3,
  decoupled: false,
};

describe('nadam: golden values against a float64 reference (80 steps, ranks 0–3, past Π_t < 2⁻⁶⁰)', () => {
  const cases = [
    { options: {}, ref: base },
    { options: { learningRate: 0.02, momentumDecay: 0 }, ref: { ...base, lr: 0.02, momentumDecay: 0 } },
    { options: { learningRate: 0.02, weightDecay: 0.1 }, ref: { ...base, lr: 0.02, weightDecay: 0.1 } },
    {
      options: {
        learningRate: 0.03,
        beta1: 0.8,
        beta2: 0.99,
        epsilon: 1e-3,
        weightDecay: 0.1,
        momentumDecay: 0.04,
        decoupledWeightDecay: true,
      },
      ref: {
        lr: 0.03,
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-3,
        weightDecay: 0.1,
        momentumDecay: 0.04,
        decoupled: true,
      },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const result = runGolden(nadam(options), reference(ref), {
        steps: 80,
        seed: 41 + index,
        slotNames: ['expAvg', 'expAvgSq'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });
});

describe('nadam: first two steps by hand', () => {
  it('lr 0.1, β = (0.9, 0.999), ψ = 0.004, ε = 1e-8; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // μ_t = 0.9·(1 − 0.5·0.96^(0.004·t)): μ₁ = 0.4500735, μ₂ = 0.4501469, μ₃ = 0.4502204.
    const mu1 = 0.9 * (1 - 0.5 * 0.96 ** 0.004);
    const mu2 = 0.9 * (1 - 0.5 * 0.96 ** 0.008);
    const mu3 = 0.9 * (1 - 0.5 * 0.96 ** 0.012);
    // Step 1: Π₁ = μ₁; m = 0.1·g, v = 0.001·g², d = √(v/0.001) + ε = |g| + ε.
    // p₁ = p₀ − 0.1·(1 − μ₁)/(1 − μ₁)·g/d − 0.1·μ₂/(1 − μ₁μ₂)·0.1·g/d
    //    = p₀ − sign(g)·(0.1 + 0.1·0.4501469/0.7974008·0.1) = p₀ − sign(g)·0.1056452 = [0.8943548, −2.1056452]
    const p1 = [
      1 - (0.1 * 2) / (2 + eps) - ((0.1 * mu2) / (1 - mu1 * mu2)) * (0.2 / (2 + eps)),
      -2 - (0.1 * 0.5) / (0.5 + eps) - ((0.1 * mu2) / (1 - mu1 * mu2)) * (0.05 / (0.5 + eps)),
    ];
    // Step 2: Π₂ = μ₁μ₂ = 0.2025992; m = [0.08, 0.095], v = [0.004996, 0.00049975],
    // d = √(v/0.001999) + ε = [1.5809015, 0.5];
    // p₂ = p₁ − 0.1·(1 − μ₂)/(1 − Π₂)·g₂/d − 0.1·μ₃/(1 − Π₂μ₃)·m/d, coefficients 0.0689557 and 0.0495409:
    // p₂ = [0.8943548 + 0.0689557/1.5809015 − 0.0495409·0.08/1.5809015,
    //       −2.1056452 − 0.0689557·0.5/0.5 − 0.0495409·0.095/0.5] = [0.9354658, −2.1840136]
    const product2 = mu1 * mu2;
    const g2 = [-1, 0.5];
    const m2 = [0.9 * 0.2 + 0.1 * -1, 0.9 * 0.05 + 0.1 * 0.5];
    const v2 = [0.999 * 0.004 + 0.001 * 1, 0.999 * 0.00025 + 0.001 * 0.25];
    const p2 = p1.map((p, i) => {
      const d = Math.sqrt(v2[i]! / 0.001999) + eps;
      return (
        p -
        ((0.1 * (1 - mu2)) / (1 - product2)) * (g2[i]! / d) -
        ((0.1 * mu3) / (1 - product2 * mu3)) * (m2[i]! / d)
      );
    });
    const [s1, s2] = trace(
      nadam({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(s1!, p1, 'step 1');
    expectClose(s2!, p2, 'step 2');
    expect(s1![0]).toBeCloseTo(0.8943548, 6);
    expect(s2![0]).toBeCloseTo(0.9354658, 6);
    expect(s2![1]).toBeCloseTo(-2.1840136, 6);
  });
});

describe('nadam: cross-equivalences and μ products', () => {
  it('with momentumDecay 0 follows the closed form μ = β₁/2, Π_t = (β₁/2)ᵗ', () => {
    const lr = 0.05;
    const beta1 = 0.9;
    const beta2 = 0.99;
    const mu = beta1 / 2;
    const random = mulberry32(9);
    const grads = Array.from({ length: 30 }, () =>
      Array.from({ length: 5 }, () => Math.fround(random() * 4 - 2)),
    );
    const p = [0.5, -1, 2, 0, 1];
    const m = p.map(() => 0);
    const v = p.map(() => 0);
    const expected = grads.map((g, k) => {
      const t = k + 1;
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
        const d = Math.sqrt(v[i]! / (1 - beta2 ** t)) + 1e-8;
        p[i] =
          p[i]! -
          (lr * (1 - mu) * g[i]!) / ((1 - mu ** t) * d) -
          (lr * mu * m[i]!) / ((1 - mu ** (t + 1)) * d);
      }
      return [...p];
    });
    const actual = trace(
      nadam({ learningRate: lr, beta1, beta2, momentumDecay: 0 }),
      [0.5, -1, 2, 0, 1],
      grads,
    );
    actual.forEach((row, k) => {
      expectClose(row, expected[k]!, `step ${k + 1}`);
    });
  });

  it('muProduct equals the running product multiplied step by step, in any order of queries', () => {
    for (const [beta1, psi] of [
      [0.9, 4e-3],
      [0.999, 4e-3],
      [0.95, 0],
      [0.9999, 1000], // μ ≈ β₁ from the start: Π_3000 ≈ 0.74, a long series
    ] as const) {
      const mu = (t: number) => beta1 * (1 - 0.5 * 0.96 ** (t * psi));
      const naive = [1];
      for (let t = 1; t <= 3000; t++) naive.push(naive[t - 1]! * mu(t));
      for (const t of [2500, 1, 40, 3000, 2, 1999, 3, 2999]) {
        // Bit-identical while the product matters; below 2⁻⁶⁰ it may read as 0, which leaves both
        // 1 − Π_t and 1 − Π_t·μ_{t+1} at exactly 1, as the true product does.
        const got = muProduct(beta1, psi, t);
        if (naive[t]! >= 2 ** -60) expect(got).toBe(naive[t]);
        else {
          expect(1 - got).toBe(1 - naive[t]!);
          expect(1 - got * mu(t + 1)).toBe(1 - naive[t]! * mu(t + 1));
        }
      }
    }
    expect(muProduct(0.9, 4e-3, 100_000)).toBe(0);
  });

  it('muProduct continues in closed form past the memoized steps, within float64 rounding', () => {
    for (const [beta1, psi] of [
      [0.9999, 1000],
      [0.99999, 1e-3],
      [0.999999, 0],
    ] as const) {
      const mu = (t: number) => beta1 * (1 - 0.5 * 0.96 ** (t * psi));
      let naive = 1;
      for (let t = 1; t <= 20_000; t++) {
        naive *= mu(t);
        if (t % 1000 === 0 && naive >= 2 ** -60) {
          expect(Math.abs(muProduct(beta1, psi, t) - naive) / naive).toBeLessThan(1e-11);
        }
      }
    }
  });

  it('muProduct of a huge step count (a loaded state) costs no more than the memoized steps', () => {
    // μ_i = β₁ exactly in float64 for i ≥ 2 when ψ = 1000, so Π_t = μ_1 · β₁^(t−1).
    const beta1 = 0.99999999;
    const t = 1e9;
    const expected = beta1 * (1 - 0.5 * 0.96 ** 1000) * beta1 ** (t - 1);
    const got = muProduct(beta1, 1000, t);
    expect(Math.abs(got - expected) / expected).toBeLessThan(1e-6);
    expect(got).toBeGreaterThan(4e-5);
  });
});

describe('nadam: memory', () => {
  it('keeps numTensors constant from the second step and frees everything on dispose', () => {
    expectNoLeaks(nadam({ learningRate: 0.01 }));
    expectNoLeaks(nadam({ learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true }));
  });
});

describe('nadam: class', () => {
  it('is registered as OptimkitNAdam with the defaults of DESIGN.md', () => {
    const optimizer = nadam();
    expect(NAdam.className).toBe('OptimkitNAdam');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 2e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      momentumDecay: 4e-3,
      decoupledWeightDecay: false,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<NAdamOptions>({
  name: 'nadam',
  create: (options) => nadam(options),
  optionSets: [{}, { weightDecay: 0.1, decoupledWeightDecay: true, momentumDecay: 0 }],
  quadratic: { options: { learningRate: 0.1 }, steps: 300, tolerance: 1e-6 },
  rosenbrock: { options: { learningRate: 0.01 }, steps: 5000, tolerance: 1e-4 },
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
    { options: { momentumDecay: -0.004 }, error: /Invalid momentumDecay: -0.004/ },
    { options: { momentumDecay: Number.POSITIVE_INFINITY }, error: /Invalid momentumDecay: Infinity/ },
    {
      options: { decoupledWeightDecay: 1 as unknown as boolean },
      error: /Option 'decoupledWeightDecay' of OptimkitNAdam must be a boolean/,
    },
  ],
});
