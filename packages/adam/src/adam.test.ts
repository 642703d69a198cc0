import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Adam, type AdamOptions, adam } from './adam.js';
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

/** torch.optim.Adam (docs/algorithms/adam.md#adam) in float64, elementwise. */
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
      const gi = g[i]! + o.weightDecay * p[i]!;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      let second = v[i]!;
      if (vMax) {
        vMax[i] = Math.max(vMax[i]!, v[i]!);
        second = vMax[i]!;
      }
      p[i] = p[i]! - (o.lr / bc1) * (m[i]! / (Math.sqrt(second) / Math.sqrt(bc2) + o.eps));
    }
  };
}

const base = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false };

describe('adam: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases = [
    { options: {}, ref: base },
    { options: { learningRate: 0.05, amsgrad: true }, ref: { ...base, lr: 0.05, amsgrad: true } },
    {
      options: { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.1 },
      ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.1 },
    },
    {
      options: { learningRate: 0.03, beta1: 0, beta2: 0.9, amsgrad: true, weightDecay: 0.05 },
      ref: { ...base, lr: 0.03, beta1: 0, beta2: 0.9, amsgrad: true, weightDecay: 0.05 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const slotNames = ref.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
      // Whether the running max ever parted from v (the gradients shrink after step 8), so that
      // the AMSGrad cases really exercise the max.
      let parted = false;
      const step = reference(ref);
      const watched: ReferenceStep = (p, g, s, t) => {
        step(p, g, s, t);
        parted ||= s.maxExpAvgSq?.some((x, i) => x > s.expAvgSq![i]! * 1.001) ?? false;
      };
      const result = runAdamGolden(adam(options), watched, { steps: 40, seed: 11 + index, slotNames });
      expect(result.worst).toBeLessThanOrEqual(1);
      expect(parted).toBe(ref.amsgrad);
    });
  });
});

describe('adam: first two steps by hand', () => {
  it('lr 0.1, β = (0.9, 0.999), ε = 1e-8; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.5]', () => {
    const eps = 1e-8;
    // Step 1: m = 0.1·g = [0.2, 0.05], v = 0.001·g² = [0.004, 0.00025]; m̂ = m/0.1 = g, v̂ = v/0.001 = g²,
    // so p₁ = p₀ − 0.1·g/(|g| + ε) = [1 − 0.2/(2 + 1e-8), −2 − 0.05/(0.5 + 1e-8)] ≈ [0.9, −2.1].
    const p1 = [1 - (0.1 * 2) / (2 + eps), -2 - (0.1 * 0.5) / (0.5 + eps)];
    // Step 2: m = 0.9·m + 0.1·g₂ = [0.9·0.2 − 0.1, 0.9·0.05 + 0.05] = [0.08, 0.095],
    // v = 0.999·v + 0.001·g₂² = [0.999·0.004 + 0.001, 0.999·0.00025 + 0.00025] = [0.004996, 0.00049975],
    // 1 − β₁² = 0.19, 1 − β₂² = 0.001999; m̂ = [0.4210526, 0.5], v̂ = [2.4992496, 0.25].
    const m2 = [0.9 * 0.2 + 0.1 * -1, 0.9 * 0.05 + 0.1 * 0.5];
    const v2 = [0.999 * 0.004 + 0.001 * 1, 0.999 * 0.00025 + 0.001 * 0.25];
    const p2 = p1.map((p, i) => p - (0.1 * (m2[i]! / 0.19)) / (Math.sqrt(v2[i]! / 0.001999) + eps));
    // p₂ ≈ [0.9 − 0.1·0.4210526/1.5809015, −2.1 − 0.1·0.5/0.5] = [0.8733663, −2.2]
    const [s1, s2] = trace(
      adam({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.5],
      ],
    );
    expectClose(s1!, p1, 'step 1');
    expectClose(s2!, p2, 'step 2');
    expect(s1![0]).toBeCloseTo(0.9, 6);
    expect(s2![0]).toBeCloseTo(0.8733663, 6);
    expect(s2![1]).toBeCloseTo(-2.2, 6);
  });

  it('AMSGrad keeps the larger raw v: β₂ = 0.9, p₀ = [1], g₁ = [2], g₂ = [−0.01]', () => {
    // Step 1 as above with β₂ = 0.9: v₁ = 0.1·4 = 0.4, v̂ = 4, p₁ = 1 − 0.1·2/(2 + ε) ≈ 0.9.
    const p1 = 1 - (0.1 * 2) / (2 + 1e-8);
    // Step 2: m = 0.9·0.2 + 0.1·(−0.01) = 0.179, v₂ = 0.9·0.4 + 0.1·0.0001 = 0.36001 < 0.4,
    // max(v) = 0.4; 1 − 0.9² = 0.19 for both corrections.
    const m2 = 0.9 * 0.2 + 0.1 * -0.01;
    const withMax = p1 - (0.1 * (m2 / 0.19)) / (Math.sqrt(0.4 / 0.19) + 1e-8); // 0.9 − 0.0649301 = 0.8350699
    const without = p1 - (0.1 * (m2 / 0.19)) / (Math.sqrt(0.36001 / 0.19) + 1e-8); // 0.9 − 0.0684414 = 0.8315586
    const options = { learningRate: 0.1, beta2: 0.9 };
    const ams = trace(adam({ ...options, amsgrad: true }), [1], [[2], [-0.01]]);
    const plain = trace(adam(options), [1], [[2], [-0.01]]);
    expectClose(ams[0]!, [p1], 'amsgrad step 1');
    expectClose(ams[1]!, [withMax], 'amsgrad step 2');
    expectClose(plain[1]!, [without], 'adam step 2');
    expect(ams[1]![0]).toBeCloseTo(0.8350699, 6);
    expect(plain[1]![0]).toBeCloseTo(0.8315586, 6);
  });

  it('coupled weight decay goes through the moments: wd 0.5, p₀ = [2], g₁ = [1]', () => {
    // g ← g + 0.5·2 = 2; m̂ = 2, v̂ = 4; p₁ = 2 − 0.1·2/(2 + ε) ≈ 1.9 (the decay is normalised away).
    const [s1] = trace(adam({ learningRate: 0.1, weightDecay: 0.5 }), [2], [[1]]);
    expectClose(s1!, [2 - (0.1 * 2) / (2 + 1e-8)], 'step 1');
  });
});

describe('adam: cross-equivalences', () => {
  it('with amsgrad, when v never decreases, is bit-identical to adam', () => {
    // |g| grows every step, so v_t = β₂v + (1 − β₂)g² > v_{t−1} and max(v̄, v) = v.
    const grads = Array.from({ length: 30 }, (_, t) => [
      (1 + 0.1 * t) * (t % 2 ? -1 : 1),
      2 + 0.3 * t,
      -(0.5 + t),
    ]);
    const options = { learningRate: 0.05, weightDecay: 0.01 };
    const plain = trace(adam(options), [1, -1, 0.5], grads);
    const ams = trace(adam({ ...options, amsgrad: true }), [1, -1, 0.5], grads);
    expect(bitsOf(ams)).toEqual(bitsOf(plain));
    // and when v does decrease, AMSGrad differs.
    const shrinking = grads.map((g, t) => g.map((x) => x / (1 + t) ** 2));
    const a = trace(adam({ ...options, amsgrad: true }), [1, -1, 0.5], shrinking);
    const b = trace(adam(options), [1, -1, 0.5], shrinking);
    expect(bitsOf(a)).not.toEqual(bitsOf(b));
  });
});

describe('adam beside tf.train.adam', () => {
  it("tfjs's own two-step example agrees when the epsilons agree", async () => {
    // adam_optimizer_test.ts: tf.train.adam(0.1, 0.8, 0.9) on x = [2, 4], f = Σx²:
    // after one step [1.9, 3.9], after two [1.8000001, 3.8002] (tf's epsilon is the backend's 1e-7).
    const run = async (optimizer: tf.Optimizer) => {
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
    const theirs = await run(tf.train.adam(0.1, 0.8, 0.9));
    const ours = await run(adam({ learningRate: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 1e-7 }));
    for (const result of [theirs, ours]) {
      expectClose(result[0]!, [1.9, 3.9], 'step 1');
      expectClose(result[1]!, [1.8000001, 3.8002], 'step 2');
    }
    // Same formula, float32 rounding apart (tf keeps β^t as float32 running products).
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) expect(Math.abs(ours[i]![j]! - theirs[i]![j]!)).toBeLessThan(1e-6);
    }
  });

  it('the default epsilons differ (1e-8 here, 1e-7 in tf.train) and that shows for tiny gradients', () => {
    const g = [[1e-7, 1e-7]];
    const ours = trace(adam({ learningRate: 0.1 }), [1, 1], g)[0]!;
    const matched = trace(adam({ learningRate: 0.1, epsilon: 1e-7 }), [1, 1], g)[0]!;
    const theirs = trace(tf.train.adam(0.1), [1, 1], g)[0]!;
    // Step 1: p − 0.1·g/(|g| + ε): ours 1 − 0.1·1e-7/1.1e-7 = 0.90909, tf.train 1 − 0.1·1e-7/2e-7 = 0.95.
    expectClose(ours, [1 - (0.1 * 1e-7) / (1e-7 + 1e-8), 1 - (0.1 * 1e-7) / (1e-7 + 1e-8)], 'ours');
    expectClose(theirs, [0.95, 0.95], 'tf.train');
    expectClose(matched, theirs, 'ours with epsilon 1e-7');
  });
});

describe('adam: resuming through getWeights/setWeights, beside tf.train.adam', () => {
  // tf.train.adam multiplies its float32 β-powers each step but rebuilds them with pow(β, iter + 1)
  // in setWeights; on this run (cpu backend, tfjs 4.22) that changes the last bits of 3 of the 8
  // parameters after a restore at step 5. optimkit recomputes 1 − βᵗ from the step count each time.
  const random = mulberry32(3);
  const grads = Array.from({ length: 40 }, () => Array.from({ length: 8 }, () => random() * 2 - 1));
  const run = async (make: () => tf.Optimizer, restoreAt: number | null) => {
    const x = tf.variable(tf.tensor1d([1, 2, 3, 4, -1, -2, -3, -4]));
    let optimizer = make();
    for (let i = 0; i < grads.length; i++) {
      if (i === restoreAt) {
        const next = make();
        await next.setWeights(await optimizer.getWeights());
        optimizer.dispose();
        optimizer = next;
      }
      const g = tf.tensor1d(grads[i]!);
      optimizer.applyGradients({ [x.name]: g });
      g.dispose();
    }
    optimizer.dispose();
    const bits = bitsOf([Array.from(x.dataSync())])[0]!;
    x.dispose();
    return bits;
  };

  it('optimkit resumes bit-identically; tf.train.adam does not', async () => {
    const ours = () => adam({ learningRate: 0.01, epsilon: 1e-7 });
    expect(await run(ours, 5)).toEqual(await run(ours, null));
    const theirs = () => tf.train.adam(0.01);
    const straight = await run(theirs, null);
    const resumed = await run(theirs, 5);
    expect(resumed.filter((b, i) => b !== straight[i]).length).toBeGreaterThan(0);
  });
});

describe('adam: memory', () => {
  it('keeps numTensors constant from the second step and frees everything on dispose', () => {
    expectNoLeaks(adam({ learningRate: 0.01 }));
    expectNoLeaks(adam({ learningRate: 0.01, amsgrad: true, weightDecay: 0.1 }));
  });
});

describe('adam: class', () => {
  it('is registered as OptimkitAdam with the defaults of docs/algorithms/adam.md#adam', () => {
    const optimizer = adam();
    expect(Adam.className).toBe('OptimkitAdam');
    expect(optimizer.getClassName()).toBe('OptimkitAdam');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      stateDtype: 'float32',
    });
    optimizer.dispose();
  });

  it('refuses a scheduled beta1 that leaves [0, 1)', () => {
    expect(() => adam({ beta1: () => 1.5 })).toThrow(/Invalid beta1: 1.5/);
  });
});

describeOptimizerConformance<AdamOptions>({
  name: 'adam',
  create: (options) => adam(options),
  optionSets: [{}, { amsgrad: true, weightDecay: 0.1 }, { stateDtype: 'int8', amsgrad: true }],
  quadratic: { options: { learningRate: 0.1 }, steps: 300, tolerance: 1e-6 },
  rosenbrock: { options: { learningRate: 0.02 }, steps: 3000, tolerance: 1e-5 },
  errorCases: [
    { options: { stateDtype: 'int4' as 'int8' }, error: /Invalid stateDtype: 'int4'/ },
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
      options: { amsgrad: 1 as unknown as boolean },
      error: /Option 'amsgrad' of OptimkitAdam must be a boolean/,
    },
  ],
});
