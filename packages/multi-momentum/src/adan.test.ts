import { adamw } from '@optimkit/adam';
import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Adan, type AdanOptions, adan } from './adan.js';
import {
  bitsOf,
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runGolden,
  runGoldenWithGroup,
  stateOf,
  trace,
} from './test-support.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  beta3: number;
  eps: number;
  weightDecay: number;
  noProx: boolean;
}

/** sail-sg/Adan's `_single_tensor_adan` (no global clipping) in float64. */
function reference(o: Hyper): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const n = stateOf(s, 'expAvgSq', p.length);
    const d = stateOf(s, 'expAvgDiff', p.length);
    // The reference's `neg_pre_grad`, set to −g on the first step.
    if (t === 1) s.negPreGrad = Float64Array.from(g, (x) => -x);
    const neg = s.negPreGrad!;
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    const bc3 = 1 - o.beta3 ** t;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const diff = neg[i]! + gi;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      d[i] = o.beta2 * d[i]! + (1 - o.beta2) * diff;
      const u = gi + o.beta2 * diff;
      n[i] = o.beta3 * n[i]! + (1 - o.beta3) * u * u;
      const denom = Math.sqrt(n[i]!) / Math.sqrt(bc3) + o.eps;
      if (o.noProx) p[i] = p[i]! * (1 - o.lr * o.weightDecay);
      p[i] = p[i]! - ((o.lr / bc1) * m[i]!) / denom - (((o.lr * o.beta2) / bc2) * d[i]!) / denom;
      if (!o.noProx) p[i] = p[i]! / (1 + o.lr * o.weightDecay);
      neg[i] = -gi;
    }
  };
}

const base: Hyper = {
  lr: 1e-3,
  beta1: 0.98,
  beta2: 0.92,
  beta3: 0.99,
  eps: 1e-8,
  weightDecay: 0,
  noProx: false,
};

describe('adan: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases: { options: AdanOptions; ref: Hyper }[] = [
    { options: {}, ref: base },
    { options: { learningRate: 0.01, weightDecay: 0.02 }, ref: { ...base, lr: 0.01, weightDecay: 0.02 } },
    {
      options: { learningRate: 0.01, weightDecay: 0.1, noProx: true },
      ref: { ...base, lr: 0.01, weightDecay: 0.1, noProx: true },
    },
    {
      options: { learningRate: 0.02, beta1: 0.9, beta2: 0.5, beta3: 0.999, epsilon: 1e-4 },
      ref: { ...base, lr: 0.02, beta1: 0.9, beta2: 0.5, beta3: 0.999, eps: 1e-4 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const result = runGolden(adan(options), reference(ref), {
        steps: 40,
        seed: 131 + index,
        slotNames: ['expAvg', 'expAvgSq', 'expAvgDiff', 'negPreGrad'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });
});

describe('adan: golden values with a param group (40 steps, ranks 0–3)', () => {
  it('rank ≤ 1 variables take the group’s learning rate and no weight decay, the others the top level’s', () => {
    const result = runGoldenWithGroup(adan, (o) => reference({ ...base, ...o }), [
      'expAvg',
      'expAvgSq',
      'expAvgDiff',
      'negPreGrad',
    ]);
    expect(result.worst).toBeLessThanOrEqual(1);
  });
});

describe('adan: steps by hand', () => {
  it('lr 0.1, defaults (β = 0.98, 0.92, 0.99); p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: the previous gradient is g₁, so δ = 0 and d = 0; m = 0.02·g = [0.04, 0.01];
    // n = 0.01·g² = [0.04, 0.0025]; η = √n/√0.01 + ε = |g| + ε = [2, 0.5];
    // p₁ = p₀ − (0.1/0.02)·m/η = p₀ − 0.1·sign(g) = [0.9, −2.1].
    const p1 = [1 - (5 * 0.04) / (2 + eps), -2 - (5 * 0.01) / (0.5 + eps)];
    // Step 2: δ = g₂ − g₁ = [−3, 0]; m = 0.98·m + 0.02·g₂ = [0.0192, 0.0198]; d = 0.08·δ = [−0.24, 0];
    // u = g₂ + 0.92·δ = [−3.76, 0.5]; n = 0.99·n + 0.01·u² = [0.180976, 0.004975];
    // bias corrections 1 − 0.98² = 0.0396, 1 − 0.92² = 0.1536, √(1 − 0.99²) = √0.0199;
    // η = √n/√0.0199 + ε = [3.0156710, 0.5]; p₂ = p₁ − (0.1/0.0396)·m/η − (0.1·0.92/0.1536)·d/η
    // = [0.9 − 2.5252525·0.0192/3.0156710 + 0.5989583·0.24/3.0156710, −2.1 − 2.5252525·0.0198/0.5]
    // = [0.9 − 0.0160776 + 0.0476677, −2.2] = [0.9315900, −2.2].
    const m2 = [0.98 * 0.04 + 0.02 * -1, 0.98 * 0.01 + 0.02 * 0.5];
    const d2 = [0.08 * -3, 0];
    const n2 = [0.99 * 0.04 + 0.01 * 3.76 ** 2, 0.99 * 0.0025 + 0.01 * 0.25];
    const eta = n2.map((n) => Math.sqrt(n) / Math.sqrt(0.0199) + eps);
    const p2 = p1.map(
      (p, i) => p - ((0.1 / 0.0396) * m2[i]!) / eta[i]! - (((0.1 * 0.92) / 0.1536) * d2[i]!) / eta[i]!,
    );
    const [a1, a2] = trace(
      adan({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(a1!, p1, 'step 1');
    expectClose(a2!, p2, 'step 2');
    expect(a1![0]).toBeCloseTo(0.9, 6);
    expect(a1![1]).toBeCloseTo(-2.1, 6);
    expect(eta[0]).toBeCloseTo(3.015671, 6);
    // The difference term pushes element 0 up, by 0.0476677.
    expect(a2![0]).toBeCloseTo(0.93159, 5);
    expect(a2![1]).toBeCloseTo(-2.2, 6);
  });

  it('weight decay: proximal p/(1 + lr·wd) after the step, or p·(1 − lr·wd) before it (noProx)', () => {
    // g = 0 on a fresh variable: no move but the decay. lr 0.1, wd 0.5: 1/1.05 = 0.952381 vs 0.95.
    const [prox] = trace(adan({ learningRate: 0.1, weightDecay: 0.5 }), [1], [[0]]);
    const [noProx] = trace(adan({ learningRate: 0.1, weightDecay: 0.5, noProx: true }), [1], [[0]]);
    expectClose(prox!, [1 / 1.05], 'prox');
    expectClose(noProx!, [0.95], 'noProx');
  });
});

describe('adan: cross-equivalences', () => {
  const gradients = Array.from({ length: 30 }, (_, t) => [Math.sin(t + 1) * 2, Math.cos(3 * t) * 0.3, 0.5]);

  it('beta2 = 0 (no difference term) with noProx is AdamW with β₂ = Adan’s β₃', () => {
    // δ is then weighted by 0 in u and d's step size is lr·0/1: m, n and the step are AdamW's.
    const a = trace(
      adan({ learningRate: 0.02, beta2: 0, beta3: 0.99, weightDecay: 0.1, noProx: true }),
      [1, -2, 0.5],
      gradients,
    );
    const w = trace(
      adamw({ learningRate: 0.02, beta1: 0.98, beta2: 0.99, weightDecay: 0.1 }),
      [1, -2, 0.5],
      gradients,
    );
    a.forEach((row, t) => {
      expectClose(row, w[t]!, `step ${t + 1}`);
    });
  });

  it('a constant gradient has no difference: d stays 0 and the update is Adam’s sign-like step', () => {
    const constant = Array.from({ length: 10 }, () => [0.3, -2]);
    const optimizer = adan({ learningRate: 0.01 });
    const variable = tf.variable(tf.tensor1d([0, 0]), true, 'adanConstant');
    const values: number[][] = [];
    for (const g of constant) {
      const grad = tf.tensor1d(g);
      optimizer.applyGradients({ [variable.name]: grad });
      grad.dispose();
      values.push(Array.from(variable.dataSync()));
    }
    expect(Array.from(optimizer.getSlots(variable.name)!.expAvgDiff!.dataSync())).toEqual([0, 0]);
    // m̂ = g and √n̂ = |g| exactly in real arithmetic: each step moves by lr·sign(g).
    values.forEach((row, t) => {
      expectClose(row, [-0.01 * (t + 1), 0.01 * (t + 1)], `step ${t + 1}`);
    });
    optimizer.dispose();
    variable.dispose();
  });

  it('weightDecay 0 is the same with and without noProx', () => {
    const a = trace(adan({ learningRate: 0.02 }), [1, -2, 0.5], gradients);
    const b = trace(adan({ learningRate: 0.02, noProx: true }), [1, -2, 0.5], gradients);
    expect(bitsOf(b)).toEqual(bitsOf(a));
  });
});

describe('adan: memory', () => {
  it('keeps numTensors constant from the second step and frees everything', () => {
    expectNoLeaks(adan({ learningRate: 0.01 }));
    expectNoLeaks(adan({ learningRate: 0.01, weightDecay: 0.1, noProx: true }));
  });
});

describe('adan: class', () => {
  it('is registered as OptimkitAdan with the reference’s defaults', () => {
    const optimizer = adan();
    expect(Adan.className).toBe('OptimkitAdan');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.98,
      beta2: 0.92,
      beta3: 0.99,
      epsilon: 1e-8,
      weightDecay: 0,
      noProx: false,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdanOptions>({
  name: 'adan',
  create: (options) => adan(options),
  optionSets: [{}, { weightDecay: 0.02 }, { weightDecay: 0.1, noProx: true }],
  quadratic: { options: { learningRate: 0.05 }, steps: 500, tolerance: 1e-3 },
  rosenbrock: { options: { learningRate: 0.01 }, steps: 10000, tolerance: 1e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta2: -0.1 }, error: /Invalid beta2: -0.1/ },
    { options: { beta3: 1.5 }, error: /Invalid beta3: 1.5/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
    {
      options: { noProx: 1 as unknown as boolean },
      error: /Option 'noProx' of OptimkitAdan must be a boolean/,
    },
  ],
});
