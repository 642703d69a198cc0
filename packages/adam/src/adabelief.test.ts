import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdaBelief, type AdaBeliefOptions, adabelief, beliefRectification } from './adabelief.js';
import {
  bitsOf,
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runAdamGolden,
  runGoldenWithGroup,
  stateOf,
  trace,
} from './golden-inputs.js';
import { rectification } from './radam.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  decouple: boolean;
  fixedDecay: boolean;
  rectify: boolean;
  degenerated: boolean;
}

/**
 * adabelief_pytorch 0.2.1's `AdaBelief.step` in float64, elementwise; records which branch each
 * step took.
 */
function reference(o: Hyper, branches: Set<string>): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const v = stateOf(s, 'expAvgVar', p.length);
    const vMax = o.amsgrad ? stateOf(s, 'maxExpAvgVar', p.length) : null;
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    const beta2t = o.beta2 ** t;
    const rhoInf = 2 / (1 - o.beta2) - 1;
    const rho = rhoInf - (2 * t * beta2t) / (1 - beta2t);
    const branch = !o.rectify ? 'adaptive' : rho >= 5 ? 'rectified' : o.degenerated ? 'sgd' : 'none';
    branches.add(branch);
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.decouple) p[i] = p[i]! * (o.fixedDecay ? 1 - o.weightDecay : 1 - o.lr * o.weightDecay);
      else gi += o.weightDecay * p[i]!;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      const residual = gi - m[i]!;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * residual * residual + o.eps;
      let second = v[i]!;
      if (vMax) {
        vMax[i] = Math.max(vMax[i]!, v[i]!);
        second = vMax[i]!;
      }
      if (branch === 'adaptive') {
        p[i] = p[i]! - ((o.lr / bc1) * m[i]!) / (Math.sqrt(second) / Math.sqrt(bc2) + o.eps);
      } else if (branch === 'rectified') {
        const r = Math.sqrt(
          ((((((1 - beta2t) * (rho - 4)) / (rhoInf - 4)) * (rho - 2)) / rho) * rhoInf) / (rhoInf - 2),
        );
        p[i] = p[i]! - ((r / bc1) * o.lr * m[i]!) / (Math.sqrt(v[i]!) + o.eps);
      } else if (branch === 'sgd') {
        p[i] = p[i]! - (o.lr / bc1) * m[i]!;
      }
    }
  };
}

const base: Hyper = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-16,
  weightDecay: 0,
  amsgrad: false,
  decouple: true,
  fixedDecay: false,
  rectify: true,
  degenerated: true,
};

describe('adabelief: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  // β₂ = 0.999 switches to the rectified step at t = 6 (ρ₅ = 4.996 < 5 ≤ ρ₆ = 5.994); β₂ = 0.6 never does.
  const cases: { options: AdaBeliefOptions; ref: Hyper; branches: string[] }[] = [
    { options: {}, ref: base, branches: ['rectified', 'sgd'] },
    {
      options: { learningRate: 0.01, weightDecay: 0.1 },
      ref: { ...base, lr: 0.01, weightDecay: 0.1 },
      branches: ['rectified', 'sgd'],
    },
    {
      options: {
        learningRate: 0.01,
        rectify: false,
        epsilon: 1e-8,
        weightDecay: 0.1,
        decoupledWeightDecay: false,
      },
      ref: { ...base, lr: 0.01, rectify: false, eps: 1e-8, weightDecay: 0.1, decouple: false },
      branches: ['adaptive'],
    },
    {
      options: { learningRate: 0.02, beta1: 0.8, beta2: 0.99, rectify: false, amsgrad: true },
      ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.99, rectify: false, amsgrad: true },
      branches: ['adaptive'],
    },
    {
      options: { learningRate: 0.01, amsgrad: true, weightDecay: 0.05, fixedDecay: true },
      ref: { ...base, lr: 0.01, amsgrad: true, weightDecay: 0.05, fixedDecay: true },
      branches: ['rectified', 'sgd'],
    },
    {
      options: { learningRate: 0.005, beta2: 0.6, degeneratedToSgd: false },
      ref: { ...base, lr: 0.005, beta2: 0.6, degenerated: false },
      branches: ['none'],
    },
    {
      options: { learningRate: 0.02, beta2: 0.9, degeneratedToSgd: false, epsilon: 1e-6 },
      ref: { ...base, lr: 0.02, beta2: 0.9, degenerated: false, eps: 1e-6 },
      branches: ['none', 'rectified'],
    },
  ];
  cases.forEach(({ options, ref, branches }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const taken = new Set<string>();
      const slotNames = ref.amsgrad ? ['expAvg', 'expAvgVar', 'maxExpAvgVar'] : ['expAvg', 'expAvgVar'];
      const result = runAdamGolden(adabelief(options), reference(ref, taken), {
        steps: 40,
        seed: 71 + index,
        slotNames,
      });
      expect(result.worst).toBeLessThanOrEqual(1);
      expect([...taken].sort()).toEqual(branches);
    });
  });
});

describe('adabelief: golden values with a param group (40 steps, ranks 0–3)', () => {
  it('rank ≤ 1 variables take the group’s learning rate and no weight decay, the others the top level’s', () => {
    const result = runGoldenWithGroup(adabelief, (o) => reference({ ...base, ...o }, new Set()), [
      'expAvg',
      'expAvgVar',
    ]);
    expect(result.worst).toBeLessThanOrEqual(1);
  });
});

describe('adabelief: steps by hand', () => {
  it('rectify off, lr 0.1, β = (0.9, 0.999), ε = 1e-8; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: m = 0.1·g = [0.2, 0.05]; g − m = 0.9·g = [1.8, 0.45];
    // s = 0.001·(g − m)² + ε = [0.00324 + ε, 0.0002025 + ε]; ŝ = s/0.001 = [3.24001, 0.20251]
    // (the ε kept in s is 1e-5 after the bias correction, visible here);
    // p₁ = p₀ − (0.1/0.1)·m/(√ŝ + ε) = [1 − 0.2/1.8000028, −2 − 0.05/0.4500111] = [0.8888891, −2.1111084].
    const s1 = [0.001 * 1.8 ** 2 + eps, 0.001 * 0.45 ** 2 + eps];
    const p1 = [1 - 0.2 / (Math.sqrt(s1[0]! / 0.001) + eps), -2 - 0.05 / (Math.sqrt(s1[1]! / 0.001) + eps)];
    // Step 2: m = 0.9·m + 0.1·g₂ = [0.08, 0.095]; g₂ − m = [−1.08, 0.405];
    // s = 0.999·s₁ + 0.001·(g₂ − m)² + ε = [0.0044032, 0.0003663]; bias corrections 0.19, 0.001999.
    const m2 = [0.08, 0.095];
    const s2 = [0.999 * s1[0]! + 0.001 * 1.08 ** 2 + eps, 0.999 * s1[1]! + 0.001 * 0.405 ** 2 + eps];
    const p2 = p1.map((p, i) => p - ((0.1 / 0.19) * m2[i]!) / (Math.sqrt(s2[i]! / 0.001999) + eps));
    const [a1, a2] = trace(
      adabelief({ learningRate: 0.1, rectify: false, epsilon: eps }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(a1!, p1, 'step 1');
    expectClose(a2!, p2, 'step 2');
    expect(a1![0]).toBeCloseTo(0.8888891, 6);
    expect(a1![1]).toBeCloseTo(-2.1111083, 6);
    // ŝ₂ = [2.2026913, 0.1832629]: p₂ = p₁ − (0.1/0.19)·[0.08/1.4841467, 0.095/0.4280921] = [0.8605190, −2.2279057]
    expect(a2![0]).toBeCloseTo(0.860519, 6);
  });

  it('rectified (defaults, lr 0.1): steps 1–5 are SGD with momentum lr·m̂, step 6 the first rectified one', () => {
    // g = 1 always: m_t = 1 − 0.9ᵗ, m̂ = 1, so t ≤ 5 moves by exactly lr = 0.1: 0.9, 0.8, …, 0.5.
    // t = 6: ρ₆ = 5.994 ≥ 5; s₆ = Σ 0.999^(6−k)·0.001·(0.9^k)² + ε·Σ0.999^k (g − m_k = 0.9^k);
    // p₆ = 0.5 − 0.1·√((1 − β₂⁶)(ρ₆ − 4)(ρ₆ − 2)ρ_∞/((ρ_∞ − 4)(ρ_∞ − 2)ρ₆))/(1 − 0.9⁶)·m₆/(√s₆ + ε).
    const values = trace(
      adabelief({ learningRate: 0.1 }),
      [1],
      Array.from({ length: 6 }, () => [1]),
    );
    let s = 0;
    for (let k = 1; k <= 6; k++) s = 0.999 * s + 0.001 * 0.9 ** (2 * k) + 1e-16;
    const rho = 1999 - (12 * 0.999 ** 6) / (1 - 0.999 ** 6);
    const r = Math.sqrt(((1 - 0.999 ** 6) * (rho - 4) * (rho - 2) * 1999) / (1995 * 1997 * rho));
    const m6 = 1 - 0.9 ** 6;
    const expected = [0.9, 0.8, 0.7, 0.6, 0.5, 0.5 - (0.1 * (r / m6) * m6) / (Math.sqrt(s) + 1e-16)];
    values.forEach((row, i) => {
      expectClose(row, [expected[i]!], `step ${i + 1}`);
    });
    expect(expected[5]).toBeLessThan(0.5);
  });

  it('ρ_t and the rectified coefficient agree with RAdam’s (r_t·√(1 − β₂ᵗ)/(1 − β₁ᵗ)), with ρ ≥ 5 as threshold', () => {
    for (const beta2 of [0.999, 0.99, 0.9]) {
      for (let t = 1; t <= 60; t++) {
        const belief = beliefRectification(0.9, beta2, t, true);
        const radam = rectification(beta2, t);
        expect(belief.rho).toBeCloseTo(radam.rho, 9);
        if (radam.rect !== null) {
          expect(belief.rectified).toBe(true);
          const expected = (radam.rect * Math.sqrt(1 - beta2 ** t)) / (1 - 0.9 ** t);
          expect(belief.stepSize!).toBeCloseTo(expected, 12);
        } else if (!belief.rectified) expect(belief.stepSize).toBeCloseTo(1 / (1 - 0.9 ** t), 12);
      }
    }
    expect(beliefRectification(0.9, 0.6, 3, false).stepSize).toBeNull();
  });
});

describe('adabelief: cross-equivalences', () => {
  const gradients = Array.from({ length: 30 }, (_, t) => [Math.sin(t + 1) * 2, Math.cos(3 * t) * 0.3, 0.5]);

  it('with rectify, amsgrad changes no parameter (the reference divides by √s, not the maximum)', () => {
    const plain = trace(adabelief({ learningRate: 0.02 }), [1, -2, 0.5], gradients);
    const ams = trace(adabelief({ learningRate: 0.02, amsgrad: true }), [1, -2, 0.5], gradients);
    expect(bitsOf(ams)).toEqual(bitsOf(plain));
    // Without rectify it does: the maximum is the denominator.
    const adaptive = trace(adabelief({ learningRate: 0.02, rectify: false }), [1, -2, 0.5], gradients);
    const adaptiveAms = trace(
      adabelief({ learningRate: 0.02, rectify: false, amsgrad: true }),
      [1, -2, 0.5],
      gradients,
    );
    expect(bitsOf(adaptiveAms)).not.toEqual(bitsOf(adaptive));
  });

  it('weightDecay 0 is the same whether decoupled, fixed or coupled', () => {
    const a = trace(adabelief({ learningRate: 0.02 }), [1, -2, 0.5], gradients);
    const b = trace(adabelief({ learningRate: 0.02, decoupledWeightDecay: false }), [1, -2, 0.5], gradients);
    const c = trace(adabelief({ learningRate: 0.02, fixedDecay: true }), [1, -2, 0.5], gradients);
    expect(bitsOf(b)).toEqual(bitsOf(a));
    expect(bitsOf(c)).toEqual(bitsOf(a));
  });
});

describe('adabelief: memory', () => {
  it('keeps numTensors constant from the second step (across the branch switch) and frees everything', () => {
    expectNoLeaks(adabelief({ learningRate: 0.01 }));
    expectNoLeaks(adabelief({ learningRate: 0.01, amsgrad: true, rectify: false, weightDecay: 0.1 }));
  });
});

describe('adabelief: class', () => {
  it('is registered as OptimkitAdaBelief with the reference’s defaults', () => {
    const optimizer = adabelief();
    expect(AdaBelief.className).toBe('OptimkitAdaBelief');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-16,
      weightDecay: 0,
      amsgrad: false,
      decoupledWeightDecay: true,
      fixedDecay: false,
      rectify: true,
      degeneratedToSgd: true,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdaBeliefOptions>({
  name: 'adabelief',
  create: (options) => adabelief(options),
  optionSets: [
    {},
    { amsgrad: true, weightDecay: 0.1 },
    { rectify: false, amsgrad: true, decoupledWeightDecay: false, weightDecay: 0.1 },
  ],
  quadratic: { options: { learningRate: 0.1, rectify: false }, steps: 500, tolerance: 1e-4 },
  // The rectified default takes plain momentum steps of lr·m̂ for its first 5 updates, which throw
  // Rosenbrock off at lr 0.01 (NaN, as RAdam's); it converges at 0.004 in 10⁴ steps. The unrectified
  // update gets there in 3000 at 0.01 (loss 1.6e-4), which keeps the suite short.
  rosenbrock: { options: { learningRate: 0.01, rectify: false }, steps: 3000, tolerance: 1e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1.2 }, error: /Invalid beta1: 1.2/ },
    { options: { beta2: 1 }, error: /Invalid beta2: 1/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: Number.NaN }, error: /Invalid epsilon: NaN/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
    {
      options: { rectify: 1 as unknown as boolean },
      error: /Option 'rectify' of OptimkitAdaBelief must be a boolean/,
    },
  ],
});
