import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { adam } from './adam.js';
import { AdamW, type AdamWOptions, adamw } from './adamw.js';
import {
  bitsOf,
  expectClose,
  expectNoLeaks,
  mulberry32,
  type ReferenceStep,
  runAdamGolden,
  stateOf,
  trace,
} from './golden-inputs.js';

/** torch.optim.AdamW (docs/algorithms/adam.md#adamw: decoupled decay before the moments) in float64. */
function reference(o: {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const v = stateOf(s, 'expAvgSq', p.length);
    const vMax = o.amsgrad ? stateOf(s, 'maxExpAvgSq', p.length) : null;
    const bc1 = 1 - o.beta1 ** t;
    const bc2 = 1 - o.beta2 ** t;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - o.lr * o.weightDecay);
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g[i]!;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g[i]! * g[i]!;
      let second = v[i]!;
      if (vMax) {
        vMax[i] = Math.max(vMax[i]!, v[i]!);
        second = vMax[i]!;
      }
      p[i] = p[i]! - (o.lr * (m[i]! / bc1)) / (Math.sqrt(second / bc2) + o.eps);
    }
  };
}

const base = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, amsgrad: false };

describe('adamw: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases = [
    { options: {}, ref: base },
    {
      options: { learningRate: 0.05, weightDecay: 0.1, amsgrad: true },
      ref: { ...base, lr: 0.05, weightDecay: 0.1, amsgrad: true },
    },
    {
      options: { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0 },
      ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0 },
    },
    {
      options: { learningRate: 0.03, beta2: 0.9, weightDecay: 0.5, amsgrad: true },
      ref: { ...base, lr: 0.03, beta2: 0.9, weightDecay: 0.5, amsgrad: true },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const slotNames = ref.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
      const result = runAdamGolden(adamw(options), reference(ref), {
        steps: 40,
        seed: 21 + index,
        slotNames,
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });
});

describe('adamw: first two steps by hand', () => {
  it('lr 0.1, wd 0.1, β = (0.9, 0.999), ε = 1e-8; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: decay first, p ← p·(1 − 0.1·0.1) = [0.99, −1.98]; the moments never see the decay:
    // m̂ = g, v̂ = g², so p₁ = [0.99 − 0.1·2/(2 + ε), −1.98 − 0.1·0.5/(0.5 + ε)] ≈ [0.89, −2.08].
    const p1 = [1 * 0.99 - (0.1 * 2) / (2 + eps), -2 * 0.99 - (0.1 * 0.5) / (0.5 + eps)];
    // Step 2: p ← p₁·0.99 = [0.8811, −2.0592]; m = [0.08, 0.095], v = [0.004996, 0.00049975],
    // m̂ = m/0.19 = [0.4210526, 0.5], v̂ = v/0.001999 = [2.4992496, 0.25];
    // p₂ = [0.8811 − 0.1·0.4210526/1.5809015, −2.0592 − 0.1·0.5/0.5] = [0.8544663, −2.1592].
    const m2 = [0.9 * 0.2 + 0.1 * -1, 0.9 * 0.05 + 0.1 * 0.5];
    const v2 = [0.999 * 0.004 + 0.001 * 1, 0.999 * 0.00025 + 0.001 * 0.25];
    const p2 = p1.map((p, i) => p * 0.99 - (0.1 * (m2[i]! / 0.19)) / (Math.sqrt(v2[i]! / 0.001999) + eps));
    const [s1, s2] = trace(
      adamw({ learningRate: 0.1, weightDecay: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(s1!, p1, 'step 1');
    expectClose(s2!, p2, 'step 2');
    expect(s1![0]).toBeCloseTo(0.89, 6);
    expect(s2![0]).toBeCloseTo(0.8544663, 6);
    expect(s2![1]).toBeCloseTo(-2.1592, 6);
  });
});

describe('adamw: cross-equivalences', () => {
  const random = mulberry32(5);
  const grads = Array.from({ length: 30 }, (_, t) =>
    Array.from({ length: 6 }, () => (random() * 2 - 1) * (t < 10 ? 2 : 0.1)),
  );
  const initial = [1, -1, 0.5, 2, -0.25, 0];

  for (const amsgrad of [false, true]) {
    it(`with weightDecay 0 is bit-identical to adam (amsgrad ${amsgrad})`, () => {
      const options = { learningRate: 0.05, beta1: 0.85, beta2: 0.98, amsgrad };
      const a = trace(adamw({ ...options, weightDecay: 0 }), initial, grads);
      const b = trace(adam(options), initial, grads);
      expect(bitsOf(a)).toEqual(bitsOf(b));
    });
  }

  it('with weightDecay ≠ 0 differs from adam’s coupled L2', () => {
    const a = trace(adamw({ learningRate: 0.05, weightDecay: 0.1 }), initial, grads);
    const b = trace(adam({ learningRate: 0.05, weightDecay: 0.1 }), initial, grads);
    expect(bitsOf(a)).not.toEqual(bitsOf(b));
  });
});

describe('adamw: memory', () => {
  it('keeps numTensors constant from the second step and frees everything on dispose', () => {
    expectNoLeaks(adamw({ learningRate: 0.01 }));
    expectNoLeaks(adamw({ learningRate: 0.01, amsgrad: true }));
  });
});

describe('adamw: class', () => {
  it('is registered as OptimkitAdamW with the defaults of docs/algorithms/adam.md#adamw', () => {
    const optimizer = adamw();
    expect(AdamW.className).toBe('OptimkitAdamW');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 1e-2,
      amsgrad: false,
      stateDtype: 'float32',
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdamWOptions>({
  name: 'adamw',
  create: (options) => adamw(options),
  optionSets: [{}, { amsgrad: true, weightDecay: 0.1 }, { stateDtype: 'int8' }],
  // Weight decay holds the optimum slightly inside the origin: the loss floors near 5e-6.
  quadratic: { options: { learningRate: 0.1 }, steps: 300, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: 0.02 }, steps: 3000, tolerance: 5e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { beta1: 1.2 }, error: /Invalid beta1: 1.2/ },
    { options: { stateDtype: 'int4' as 'int8' }, error: /Invalid stateDtype: 'int4'/ },
    { options: { beta1: -0.1 }, error: /Invalid beta1: -0.1/ },
    { options: { beta2: 1 }, error: /Invalid beta2: 1/ },
    { options: { beta2: -0.5 }, error: /Invalid beta2: -0.5/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: -1e-8 }, error: /Invalid epsilon: -1e-8/ },
    { options: { epsilon: Number.POSITIVE_INFINITY }, error: /Invalid epsilon: Infinity/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
    {
      options: { amsgrad: 1 as unknown as boolean },
      error: /Option 'amsgrad' of OptimkitAdamW must be a boolean/,
    },
  ],
});
