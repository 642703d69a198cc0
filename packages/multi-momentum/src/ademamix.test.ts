import { adam, adamw } from '@optimkit/adam';
import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdEMAMix, type AdEMAMixOptions, ademamix, ademamixWarmup } from './ademamix.js';
import {
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
  alpha: number;
  beta3Warmup: number | null;
  alphaWarmup: number | null;
  eps: number;
  weightDecay: number;
}

/** The reference's schedulers, written again from apple/ml-ademamix `pytorch/ademamix.py`. */
function linearWarmup(step: number, end: number, start: number, warmup: number): number {
  if (step < warmup) {
    const a = step / warmup;
    return (1 - a) * start + a * end;
  }
  return end;
}
function halfLifeWarmup(step: number, end: number, start: number, warmup: number): number {
  const f = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
  const fInv = (t: number) => 0.5 ** (1 / (t + 1));
  if (step < warmup) {
    const a = step / warmup;
    return fInv((1 - a) * f(start) + a * f(end));
  }
  return end;
}

/** `AdEMAMix.step` of apple/ml-ademamix's PyTorch code in float64. */
function reference(o: Hyper): ReferenceStep {
  return (p, g, s, t) => {
    const fast = o.beta1 !== 0 ? stateOf(s, 'expAvgFast', p.length) : null;
    const slow = stateOf(s, 'expAvgSlow', p.length);
    const v = stateOf(s, 'expAvgSq', p.length);
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    const alpha = o.alphaWarmup !== null ? linearWarmup(t, o.alpha, 0, o.alphaWarmup) : o.alpha;
    const beta3 = o.beta3Warmup !== null ? halfLifeWarmup(t, o.beta3, o.beta1, o.beta3Warmup) : o.beta3;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      let f = gi;
      if (fast) {
        fast[i] = o.beta1 * fast[i]! + (1 - o.beta1) * gi;
        f = fast[i]!;
      }
      slow[i] = beta3 * slow[i]! + (1 - beta3) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(bc2) + o.eps;
      const update = (f / bc1 + alpha * slow[i]!) / denom + o.weightDecay * p[i]!;
      p[i] = p[i]! - o.lr * update;
    }
  };
}

const base: Hyper = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  beta3: 0.9999,
  alpha: 2,
  beta3Warmup: null,
  alphaWarmup: null,
  eps: 1e-8,
  weightDecay: 0,
};

describe('ademamix: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases: { options: AdEMAMixOptions; ref: Hyper }[] = [
    { options: {}, ref: base },
    {
      options: { learningRate: 0.01, weightDecay: 0.1, alpha: 5 },
      ref: { ...base, lr: 0.01, weightDecay: 0.1, alpha: 5 },
    },
    {
      options: { learningRate: 0.01, alpha: 8, alphaWarmup: 30, beta3Warmup: 25, beta3: 0.999 },
      ref: { ...base, lr: 0.01, alpha: 8, alphaWarmup: 30, beta3Warmup: 25, beta3: 0.999 },
    },
    {
      options: { learningRate: 0.02, beta1: 0, beta2: 0.99, epsilon: 1e-4, beta3Warmup: 100 },
      ref: { ...base, lr: 0.02, beta1: 0, beta2: 0.99, eps: 1e-4, beta3Warmup: 100 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const slotNames =
        ref.beta1 !== 0 ? ['expAvgFast', 'expAvgSlow', 'expAvgSq'] : ['expAvgSlow', 'expAvgSq'];
      const result = runGolden(ademamix(options), reference(ref), {
        steps: 40,
        seed: 151 + index,
        slotNames,
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });
});

describe('ademamix: golden values with a param group (40 steps, ranks 0–3)', () => {
  it('rank ≤ 1 variables take the group’s learning rate and no weight decay, the others the top level’s', () => {
    const result = runGoldenWithGroup(ademamix, (o) => reference({ ...base, ...o }), [
      'expAvgFast',
      'expAvgSlow',
      'expAvgSq',
    ]);
    expect(result.worst).toBeLessThanOrEqual(1);
  });
});

describe('ademamix: warmups by hand (1-based, as the PyTorch reference)', () => {
  it('α_t = (t/T)·α for t < T, then α: T = 4, α = 8 gives 2, 4, 6, 8, 8', () => {
    const h = { beta1: 0.9, beta3: 0.9999, alpha: 8, beta3Warmup: null, alphaWarmup: 4 };
    expect([1, 2, 3, 4, 5].map((t) => ademamixWarmup(h, t).alpha)).toEqual([2, 4, 6, 8, 8]);
  });

  it('β₃,t interpolates the half-life f(β) = ln ½/ln(β + 1e-8) − 1 from β₁ to β₃', () => {
    // f(0.9) = 5.5788, f(0.9999) = 6930.82 (the 1e-8 in the log moves it from 6930.13);
    // T = 2: t = 1 is halfway, f = 3468.20, β₃,₁ = 0.5^(1/3469.20) = 0.99980022; t = 2 is β₃ itself.
    const h = { beta1: 0.9, beta3: 0.9999, alpha: 2, beta3Warmup: 2, alphaWarmup: null };
    const f = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
    expect(f(0.9)).toBeCloseTo(5.5788, 4);
    expect(f(0.9999)).toBeCloseTo(6930.82, 1);
    const mid = 0.5 * f(0.9) + 0.5 * f(0.9999);
    expect(ademamixWarmup(h, 1).beta3).toBeCloseTo(0.5 ** (1 / (mid + 1)), 14);
    expect(ademamixWarmup(h, 1).beta3).toBeCloseTo(0.99980022, 8);
    expect(ademamixWarmup(h, 2).beta3).toBe(0.9999);
    // At t = 0 (which the 1-based reference never evaluates) it would be β₁ up to the 1e-8 of f.
    expect(ademamixWarmup(h, 0).beta3).toBeCloseTo(0.9, 7);
  });

  it('first two steps, lr 0.1, α = 2, alphaWarmup 2: p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: α₁ = 1; m₁ = 0.1·g, m₂ = 0.0001·g, ν = 0.001·g²; m̂₁ = g, √ν̂ = |g|;
    // u = (g + 1·0.0001·g)/(|g| + ε) = 1.0001·sign(g); p₁ = p₀ − 0.1·u = [0.89999, −2.10001].
    const p1 = [1 - (0.1 * (2 + 0.0002)) / (2 + eps), -2 - (0.1 * (0.5 + 0.00005)) / (0.5 + eps)];
    // Step 2: α₂ = 2; m₁ = [0.08, 0.095] (m̂₁ = m₁/0.19), m₂ = 0.9999·0.0001·g₁ + 0.0001·g₂ =
    // [0.00009998, 0.000099995]; ν = [0.004996, 0.00049975], √ν̂ = √(ν/0.001999) = [1.5809, 0.5].
    const m2 = [0.9999 * 0.0002 - 0.0001, 0.9999 * 0.00005 + 0.00005];
    const nu = [0.999 * 0.004 + 0.001, 0.999 * 0.00025 + 0.001 * 0.25];
    const p2 = p1.map(
      (p, i) => p - (0.1 * ([0.08, 0.095][i]! / 0.19 + 2 * m2[i]!)) / (Math.sqrt(nu[i]! / 0.001999) + eps),
    );
    const [a1, a2] = trace(
      ademamix({ learningRate: 0.1, alphaWarmup: 2 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(a1!, p1, 'step 1');
    expectClose(a2!, p2, 'step 2');
    expect(a1![0]).toBeCloseTo(0.89999, 6);
    expect(Math.sqrt(nu[0]! / 0.001999)).toBeCloseTo(1.5809, 4);
  });
});

describe('ademamix: cross-equivalences', () => {
  const gradients = Array.from({ length: 30 }, (_, t) => [Math.sin(t + 1) * 2, Math.cos(3 * t) * 0.3, 0.5]);

  it('alpha = 0 is Adam (and AdamW: the decay folded into the update is p·(1 − lr·wd) − lr·û)', () => {
    const a = trace(ademamix({ learningRate: 0.02, alpha: 0 }), [1, -2, 0.5], gradients);
    const b = trace(adam({ learningRate: 0.02 }), [1, -2, 0.5], gradients);
    a.forEach((row, t) => {
      expectClose(row, b[t]!, `adam, step ${t + 1}`);
    });
    const c = trace(ademamix({ learningRate: 0.02, alpha: 0, weightDecay: 0.1 }), [1, -2, 0.5], gradients);
    const d = trace(adamw({ learningRate: 0.02, weightDecay: 0.1 }), [1, -2, 0.5], gradients);
    c.forEach((row, t) => {
      expectClose(row, d[t]!, `adamw, step ${t + 1}`);
    });
  });

  it('beta3 = beta1 is Adam with the first moment scaled by 1/(1 − β₁ᵗ) + α', () => {
    // m₂ = m₁, so u = m₁·(1/(1 − β₁ᵗ) + α)/(√ν̂ + ε): check against a float64 run of that formula.
    const values = trace(
      ademamix({ learningRate: 0.01, beta3: 0.9, alpha: 3 }),
      [1],
      gradients.map((g) => [g[0]!]),
    );
    let m = 0;
    let v = 0;
    let p = 1;
    values.forEach((row, i) => {
      const t = i + 1;
      const g = gradients[i]![0]!;
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      p -= (0.01 * m * (1 / (1 - 0.9 ** t) + 3)) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
      expectClose(row, [p], `step ${t}`);
    });
  });

  it('beta1 = 0 keeps no fast slot and uses the gradient itself', () => {
    const optimizer = ademamix({ beta1: 0 });
    const variable = tf.variable(tf.tensor1d([1, 2]), true, 'ademamixNoFast');
    const grad = tf.tensor1d([0.5, -0.5]);
    optimizer.applyGradients({ [variable.name]: grad });
    expect(Object.keys(optimizer.getSlots(variable.name)!).sort()).toEqual(['expAvgSlow', 'expAvgSq']);
    grad.dispose();
    optimizer.dispose();
    variable.dispose();
  });
});

describe('ademamix: a β₁ scheduled away from 0', () => {
  it('creates the fast EMA at 0 on the step that first calls for it (conditionalSlots)', () => {
    // p₀ = [1, 2], g = [1, 1] twice, lr 1e-3, α = 2. Step 1 (β₁ = 0): m₁ = g, m₂ = 1e-4, ν = 1e-3,
    // √ν̂ = 1: u = (1 + 2·1e-4)/(1 + 1e-8), p₁ = p₀ − 1e-3·1.0002.
    // Step 2 (β₁ = 0.9, t = 2): m₁ is created at 0, m₁ = 0.1; 1 − β₁² = 0.19; m₂ = 1.9999e-4;
    // ν = 1.999e-3, ν̂ = 1: u = (0.1/0.19 + 2·1.9999e-4)/(1 + 1e-8) = 0.5267158, p₂ = p₁ − 1e-3·u.
    const optimizer = ademamix({ beta1: (step) => (step < 1 ? 0 : 0.9) });
    const variable = tf.variable(tf.tensor1d([1, 2]), true, 'ademamixBeta1Switch');
    const grad = tf.tensor1d([1, 1]);
    optimizer.applyGradients({ [variable.name]: grad });
    expect(Object.keys(optimizer.getSlots(variable.name)!).sort()).toEqual(['expAvgSlow', 'expAvgSq']);
    const u1 = (1 + 2e-4) / (1 + 1e-8);
    expectClose(variable.dataSync(), [1 - 1e-3 * u1, 2 - 1e-3 * u1], 'step 1');
    optimizer.applyGradients({ [variable.name]: grad });
    expect(Object.keys(optimizer.getSlots(variable.name)!).sort()).toEqual([
      'expAvgFast',
      'expAvgSlow',
      'expAvgSq',
    ]);
    expectClose(optimizer.getSlots(variable.name)!.expAvgFast!.dataSync(), [0.1, 0.1], 'fast EMA');
    const u2 = (0.1 / 0.19 + 2 * 1.9999e-4) / (1 + 1e-8);
    expect(u2).toBeCloseTo(0.5267158, 7);
    expectClose(variable.dataSync(), [1 - 1e-3 * (u1 + u2), 2 - 1e-3 * (u1 + u2)], 'step 2');
    grad.dispose();
    optimizer.dispose();
    variable.dispose();
  });
});

describe('ademamix: memory', () => {
  it('keeps numTensors constant from the second step (through the warmups) and frees everything', () => {
    expectNoLeaks(ademamix({ learningRate: 0.01, alphaWarmup: 50, beta3Warmup: 50 }));
    expectNoLeaks(ademamix({ learningRate: 0.01, beta1: 0, weightDecay: 0.1 }));
  });
});

describe('ademamix: class', () => {
  it('is registered as OptimkitAdEMAMix with the reference’s defaults', () => {
    const optimizer = ademamix();
    expect(AdEMAMix.className).toBe('OptimkitAdEMAMix');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      beta3: 0.9999,
      alpha: 2,
      beta3Warmup: null,
      alphaWarmup: null,
      epsilon: 1e-8,
      weightDecay: 0,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdEMAMixOptions>({
  name: 'ademamix',
  create: (options) => ademamix(options),
  optionSets: [{}, { weightDecay: 0.1, alphaWarmup: 20, beta3Warmup: 20 }, { beta1: 0, weightDecay: 0.1 }],
  // β₃ = 0.9999 is momentum with a ~7000-step half-life: on problems solved in a few hundred steps
  // it overshoots for thousands (loss 0.41 after 500 steps even with 200-step warmups), as the paper
  // expects of short runs; a shorter slow EMA converges.
  quadratic: { options: { learningRate: 0.05, alpha: 0.5, beta3: 0.99 }, steps: 500, tolerance: 1e-5 },
  rosenbrock: { options: { learningRate: 0.01, alpha: 0.5, beta3: 0.99 }, steps: 10000, tolerance: 1e-6 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta2: -0.1 }, error: /Invalid beta2: -0.1/ },
    { options: { beta3: 1 }, error: /Invalid beta3: 1/ },
    { options: { alpha: -1 }, error: /Invalid alpha: -1/ },
    { options: { alphaWarmup: -5 }, error: /Invalid alphaWarmup: -5/ },
    { options: { beta3Warmup: Number.NaN }, error: /Invalid beta3Warmup: NaN/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});
