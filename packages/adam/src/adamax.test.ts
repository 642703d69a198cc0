import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Adamax, type AdamaxOptions, adamax } from './adamax.js';
import {
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runAdamGolden,
  stateOf,
  trace,
} from './golden-inputs.js';

/** torch.optim.Adamax (docs/algorithms/adam.md#adamax: epsilon inside the max) in float64. */
function reference(o: {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const u = stateOf(s, 'expInf', p.length);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + o.weightDecay * p[i]!;
      m[i] = m[i]! + (1 - o.beta1) * (gi - m[i]!);
      u[i] = Math.max(o.beta2 * u[i]!, Math.abs(gi) + o.eps);
      p[i] = p[i]! - (o.lr / (1 - o.beta1 ** t)) * (m[i]! / u[i]!);
    }
  };
}

const base = { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

describe('adamax: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases = [
    { options: {}, ref: base },
    { options: { learningRate: 0.05, weightDecay: 0.1 }, ref: { ...base, lr: 0.05, weightDecay: 0.1 } },
    // A large epsilon inside the max, and a fast β₂ so the max often falls back to |g| + ε.
    {
      options: { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-2 },
      ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.9, eps: 1e-2 },
    },
    {
      options: { learningRate: 0.03, beta1: 0, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 },
      ref: { ...base, lr: 0.03, beta1: 0, beta2: 0.99, eps: 1e-6, weightDecay: 0.05 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const result = runAdamGolden(adamax(options), reference(ref), {
        steps: 40,
        seed: 31 + index,
        slotNames: ['expAvg', 'expInf'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });
});

describe('adamax: first two steps by hand', () => {
  it('lr 0.1, β = (0.9, 0.999), ε = 1e-8; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: m = 0.1·g = [0.2, 0.05], u = max(0.999·0, |g| + ε) = [2 + ε, 0.5 + ε], 1 − β₁ = 0.1:
    // p₁ = p₀ − (0.1/0.1)·m/u = [1 − 0.2/(2 + ε), −2 − 0.05/(0.5 + ε)] ≈ [0.9, −2.1].
    const u1 = [2 + eps, 0.5 + eps];
    const p1 = [1 - 0.2 / u1[0]!, -2 - 0.05 / u1[1]!];
    // Step 2: m = 0.9·m + 0.1·g₂ = [0.08, 0.095]; u = max(0.999·u₁, |g₂| + ε)
    // = [max(1.998, 1 + ε), max(0.4995, 0.5 + ε)] = [1.998, 0.5 + ε]; 1 − β₁² = 0.19:
    // p₂ = p₁ − (0.1/0.19)·m/u = [0.9 − 0.5263158·0.08/1.998, −2.1 − 0.5263158·0.095/0.5] = [0.8789263, −2.2].
    const m2 = [0.9 * 0.2 + 0.1 * -1, 0.9 * 0.05 + 0.1 * 0.5];
    const u2 = [Math.max(0.999 * u1[0]!, 1 + eps), Math.max(0.999 * u1[1]!, 0.5 + eps)];
    const p2 = p1.map((p, i) => p - (0.1 / 0.19) * (m2[i]! / u2[i]!));
    const [s1, s2] = trace(
      adamax({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(s1!, p1, 'step 1');
    expectClose(s2!, p2, 'step 2');
    expect(s2![0]).toBeCloseTo(0.8789263, 6);
    expect(s2![1]).toBeCloseTo(-2.2, 6);
  });
});

describe('adamax beside tf.train.adamax', () => {
  const minimizeTwice = async (optimizer: tf.Optimizer) => {
    const x = tf.variable(tf.tensor1d([2, 4]));
    const f = () => tf.sum(tf.square(x)) as tf.Scalar;
    const out: number[][] = [];
    for (let i = 0; i < 2; i++) {
      optimizer.minimize(f, true)?.dispose();
      out.push(Array.from(await x.data()));
    }
    optimizer.dispose();
    x.dispose();
    return out;
  };

  it("tfjs's own two-step example: equal first step, then tf.train's lr decay shows", async () => {
    // adamax_optimizer_test.ts: tf.train.adamax(0.1, 0.8, 0.9, undefined, decay 0.1) on x = [2, 4],
    // f = Σx², g = 2x. Step 1 for both: m = 0.2·[4, 8] = [0.8, 1.6], u = [4, 8] (+ε), 1 − β₁ = 0.2,
    // x₁ = x₀ − (0.1/0.2)·m/u = [1.9, 3.9].
    const theirs = await minimizeTwice(tf.train.adamax(0.1, 0.8, 0.9, undefined, 0.1));
    const ours = await minimizeTwice(adamax({ learningRate: 0.1, beta1: 0.8, beta2: 0.9 }));
    expectClose(theirs[0]!, [1.9, 3.9], 'tf.train step 1');
    expectClose(ours[0]!, [1.9, 3.9], 'ours step 1');
    // Step 2: g = [3.8, 7.8], m = 0.8·[0.8, 1.6] + 0.2·g = [1.4, 2.84], u = max(0.9·[4, 8], |g|) = [3.8, 7.8],
    // 1 − β₁² = 0.36. Ours: x₂ = x₁ − (0.1/0.36)·m/(u + ε inside) = [1.7976608, 3.7988604].
    // tf.train: lr/(1 + 0.1·1) = 0.1/1.1 and u + 1e-7 after the max: [1.8069644, 3.8080549]
    // (its own test asserts the looser [1.80697, 3.8086]).
    const m = [0.8 * 0.8 + 0.2 * 3.8, 0.8 * 1.6 + 0.2 * 7.8];
    const ourStep = [
      1.9 - (0.1 / 0.36) * (m[0]! / (3.8 + 1e-8)),
      3.9 - (0.1 / 0.36) * (m[1]! / (7.8 + 1e-8)),
    ];
    const tfStep = [
      1.9 - (0.1 / 1.1 / 0.36) * (m[0]! / (3.8 + 1e-7)),
      3.9 - (0.1 / 1.1 / 0.36) * (m[1]! / (7.8 + 1e-7)),
    ];
    expectClose(ours[1]!, ourStep, 'ours step 2');
    expectClose(theirs[1]!, tfStep, 'tf.train step 2');
    // The whole difference is tf.train's learning-rate decay: our step is 1.1× theirs.
    for (let i = 0; i < 2; i++) {
      expect((ours[0]![i]! - ours[1]![i]!) / (theirs[0]![i]! - theirs[1]![i]!)).toBeCloseTo(1.1, 5);
    }
  });

  it('without the decay and with the same epsilon they agree while |g| ≫ ε', async () => {
    const theirs = await minimizeTwice(tf.train.adamax(0.1, 0.8, 0.9, 1e-8, 0));
    const ours = await minimizeTwice(adamax({ learningRate: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 1e-8 }));
    for (let i = 0; i < 2; i++) expectClose(ours[i]!, theirs[i]!, `step ${i + 1}`);
  });

  it('epsilon inside the max (here) and after it (tf.train) part once gradients are near ε', () => {
    // lr 0.1, β = (0.9, 0.9), ε = 1e-8 for both, no decay; g₁ = 1e-7, g₂ = 0.
    const options = { learningRate: 0.1, beta1: 0.9, beta2: 0.9, epsilon: 1e-8 };
    const gradients = [[1e-7], [0]];
    const ours = trace(adamax(options), [1], gradients);
    const theirs = trace(tf.train.adamax(0.1, 0.9, 0.9, 1e-8, 0), [1], gradients);
    // Step 1, both: m = 0.1·1e-7 = 1e-8, m/(1 − 0.9) = 1e-7; ours u = 1e-7 + ε = 1.1e-7, tf.train divides
    // by u + ε = 1.1e-7 too: p₁ = 1 − 0.1·1e-7/1.1e-7 = 0.9090909.
    const p1 = 1 - (0.1 * 1e-7) / 1.1e-7;
    expectClose(ours[0]!, [p1], 'ours step 1');
    expectClose(theirs[0]!, [p1], 'tf.train step 1');
    // Step 2: m = 0.9·1e-8 = 9e-9, 1 − 0.9² = 0.19. Ours u = max(0.9·1.1e-7, 0 + ε) = 9.9e-8;
    // tf.train u = max(0.9·1e-7, 0) = 9e-8 and divides by u + ε = 1e-7: 1% apart.
    const ourP2 = p1 - (0.1 / 0.19) * (9e-9 / 9.9e-8); // 0.9090909 − 0.0478469 = 0.8612440
    const tfP2 = p1 - (0.1 / 0.19) * (9e-9 / 1e-7); // 0.9090909 − 0.0473684 = 0.8617225
    expectClose(ours[1]!, [ourP2], 'ours step 2');
    expectClose(theirs[1]!, [tfP2], 'tf.train step 2');
    expect(Math.abs(ours[1]![0]! - theirs[1]![0]!)).toBeGreaterThan(4e-4);
  });

  it("tf.train's default epsilon (1e-7, after the max) halves the first step for g = 1e-7", () => {
    const ours = trace(adamax({ learningRate: 0.1 }), [1], [[1e-7]]);
    const theirs = trace(tf.train.adamax(0.1, 0.9, 0.999), [1], [[1e-7]]);
    expectClose(ours[0]!, [1 - (0.1 * 1e-7) / (1e-7 + 1e-8)], 'ours'); // 0.9090909
    expectClose(theirs[0]!, [1 - (0.1 * 1e-7) / (1e-7 + 1e-7)], 'tf.train'); // 0.95
  });
});

describe('adamax: memory', () => {
  it('keeps numTensors constant from the second step and frees everything on dispose', () => {
    expectNoLeaks(adamax({ learningRate: 0.01, weightDecay: 0.1 }));
  });
});

describe('adamax: class', () => {
  it('is registered as OptimkitAdamax with the defaults of docs/algorithms/adam.md#adamax', () => {
    const optimizer = adamax();
    expect(Adamax.className).toBe('OptimkitAdamax');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 2e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdamaxOptions>({
  name: 'adamax',
  create: (options) => adamax(options),
  optionSets: [{}, { weightDecay: 0.1 }],
  quadratic: { options: { learningRate: 0.1 }, steps: 300, tolerance: 1e-6 },
  rosenbrock: { options: { learningRate: 0.05 }, steps: 5000, tolerance: 1e-6 },
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
  ],
});
