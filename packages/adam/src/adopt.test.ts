import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Adopt, type AdoptOptions, adopt } from './adopt.js';
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

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decouple: boolean;
  /** The reference's `clip_lambda`, or null. */
  clipLambda: ((step: number) => number) | null;
}

/** iShohei220/adopt's `_single_tensor_adopt` in float64; `t − 1` is the reference's `step`. */
function reference(o: Hyper): ReferenceStep {
  return (p, g, s, t) => {
    const m = stateOf(s, 'expAvg', p.length);
    const v = stateOf(s, 'expAvgSq', p.length);
    const step = t - 1;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      if (o.weightDecay !== 0 && !o.decouple) gi += o.weightDecay * p[i]!;
      if (step === 0) {
        v[i] = v[i]! + gi * gi;
        continue;
      }
      if (o.weightDecay !== 0 && o.decouple) p[i] = p[i]! - o.lr * o.weightDecay * p[i]!;
      let normed = gi / Math.max(Math.sqrt(v[i]!), o.eps);
      if (o.clipLambda) {
        const clip = o.clipLambda(step);
        normed = Math.min(Math.max(normed, -clip), clip);
      }
      m[i] = m[i]! + (1 - o.beta1) * (normed - m[i]!);
      p[i] = p[i]! - o.lr * m[i]!;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
    }
  };
}

const base: Hyper = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.9999,
  eps: 1e-6,
  weightDecay: 0,
  decouple: false,
  clipLambda: (step) => step ** 0.25,
};

describe('adopt: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases: { options: AdoptOptions; ref: Hyper }[] = [
    { options: {}, ref: base },
    { options: { learningRate: 0.02, weightDecay: 0.1 }, ref: { ...base, lr: 0.02, weightDecay: 0.1 } },
    {
      options: { learningRate: 0.02, weightDecay: 0.1, decoupledWeightDecay: true, beta2: 0.99 },
      ref: { ...base, lr: 0.02, weightDecay: 0.1, decouple: true, beta2: 0.99 },
    },
    {
      options: { learningRate: 0.01, clip: false, beta1: 0.5, epsilon: 1e-3 },
      ref: { ...base, lr: 0.01, clipLambda: null, beta1: 0.5, eps: 1e-3 },
    },
    {
      options: { learningRate: 0.01, clipExponent: 0.5, beta2: 0.9 },
      ref: { ...base, lr: 0.01, clipLambda: (step) => Math.sqrt(step), beta2: 0.9 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const result = runAdamGolden(adopt(options), reference(ref), {
        steps: 40,
        seed: 111 + index,
        slotNames: ['expAvg', 'expAvgSq'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });

  it('the clipping is active in the default golden run (the bound binds on early steps)', () => {
    // The harness's gradients jump from scale 2 to 0.05 and back to 0.5 with spikes of 3: after the
    // small phase √v is small, so |g/√v| exceeds (t − 1)^¼ and the clipped and unclipped runs differ.
    const clipped = runAdamGolden(adopt({ learningRate: 0.01 }), reference({ ...base, lr: 0.01 }), {
      steps: 30,
      seed: 3,
    });
    const unclipped = runAdamGolden(
      adopt({ learningRate: 0.01, clip: false }),
      reference({ ...base, lr: 0.01, clipLambda: null }),
      {
        steps: 30,
        seed: 3,
      },
    );
    expect(clipped.worst).toBeLessThanOrEqual(1);
    expect(unclipped.worst).toBeLessThanOrEqual(1);
    const a = trace(adopt({ learningRate: 0.01 }), [0], [[1], [100], [1]]);
    const b = trace(adopt({ learningRate: 0.01, clip: false }), [0], [[1], [100], [1]]);
    expect(bitsOf(a)).not.toEqual(bitsOf(b));
  });
});

describe('adopt: golden values with a param group (40 steps, ranks 0–3)', () => {
  it('rank ≤ 1 variables take the group’s learning rate and no weight decay, the others the top level’s', () => {
    const result = runGoldenWithGroup(adopt, (o) => reference({ ...base, ...o }), ['expAvg', 'expAvgSq']);
    expect(result.worst).toBeLessThanOrEqual(1);
  });
});

describe('adopt: steps by hand', () => {
  it('lr 0.1, defaults; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 4], g₃ = [1, 1]', () => {
    // Step 1 (reference step 0): v = g₁² = [4, 0.25]; m and p stay: p₁ = [1, −2].
    // Step 2 (step 1, clip = 1^¼ = 1): ĝ = g₂/max(√v, 1e-6) = [−1/2, 4/0.5] = [−0.5, 8] → clamp → [−0.5, 1];
    //   m = 0.1·ĝ = [−0.05, 0.1]; p₂ = p₁ − 0.1·m = [1.005, −2.01];
    //   v = 0.9999·v + 0.0001·g₂² = [3.9997, 0.2515975].
    const v2 = [0.9999 * 4 + 0.0001 * 1, 0.9999 * 0.25 + 0.0001 * 16];
    const p2 = [1 + 0.1 * 0.05, -2 - 0.1 * 0.1];
    // Step 3 (step 2, clip = 2^¼ = 1.1892071): ĝ = [1/√3.9997, 1/√0.2515975] = [0.5000188, 1.9936...]
    //   → clamp → [0.5000188, 1.1892071]; m = 0.9·m + 0.1·ĝ; p₃ = p₂ − 0.1·m.
    const clip3 = 2 ** 0.25;
    const g3 = [Math.min(1 / Math.sqrt(v2[0]!), clip3), Math.min(1 / Math.sqrt(v2[1]!), clip3)];
    const m3 = [0.9 * -0.05 + 0.1 * g3[0]!, 0.9 * 0.1 + 0.1 * g3[1]!];
    const p3 = p2.map((p, i) => p - 0.1 * m3[i]!);
    const [a1, a2, a3] = trace(
      adopt({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 4],
        [1, 1],
      ],
    );
    expect(a1).toEqual([1, -2]);
    expectClose(a2!, p2, 'step 2');
    expectClose(a3!, p3, 'step 3');
    expect(a2![0]).toBeCloseTo(1.005, 6);
    expect(a2![1]).toBeCloseTo(-2.01, 6);
    expect(g3[1]).toBeCloseTo(clip3, 12);
  });

  it('the first step only initialises v, with the coupled decay in it, and no decoupled decay', () => {
    // Coupled: g ← g + 0.5·p = 2 + 0.5·1 = 2.5, v = 6.25; p stays. Decoupled: p stays, v = 4.
    const read = (options: AdoptOptions) => {
      const optimizer = adopt(options);
      const variable = tf.variable(tf.tensor1d([1]), true, `adoptFirst${Object.keys(options).length}`);
      const grad = tf.tensor1d([2]);
      optimizer.applyGradients({ [variable.name]: grad });
      const out = [variable.dataSync()[0], optimizer.getSlots(variable.name)!.expAvgSq!.dataSync()[0]];
      const m = optimizer.getSlots(variable.name)!.expAvg!.dataSync()[0];
      grad.dispose();
      optimizer.dispose();
      variable.dispose();
      return [...out, m];
    };
    expect(read({ learningRate: 0.1, weightDecay: 0.5 })).toEqual([1, 6.25, 0]);
    expect(read({ learningRate: 0.1, weightDecay: 0.5, decoupledWeightDecay: true })).toEqual([1, 4, 0]);
  });
});

describe('adopt: cross-equivalences', () => {
  it('with β₁ = 0 and no clipping, each step is −lr·g_t/max(√v_{t−1}, ε) (RMSprop on the previous v)', () => {
    const gradients = [[2], [-1], [3], [0.5]];
    const values = trace(adopt({ learningRate: 0.1, beta1: 0, beta2: 0.5, clip: false }), [1], gradients);
    let v = 4;
    let p = 1;
    const expected = [[1]];
    for (let t = 1; t < gradients.length; t++) {
      const g = gradients[t]![0]!;
      p -= (0.1 * g) / Math.sqrt(v);
      v = 0.5 * v + 0.5 * g * g;
      expected.push([p]);
    }
    values.forEach((row, i) => {
      expectClose(row, expected[i]!, `step ${i + 1}`);
    });
  });
});

describe('adopt: memory', () => {
  it('keeps numTensors constant from the second step (after the initialising first) and frees everything', () => {
    expectNoLeaks(adopt({ learningRate: 0.01 }));
    expectNoLeaks(adopt({ learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true, clip: false }));
  });
});

describe('adopt: class', () => {
  it('is registered as OptimkitADOPT with the reference’s defaults', () => {
    const optimizer = adopt();
    expect(Adopt.className).toBe('OptimkitADOPT');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.9999,
      epsilon: 1e-6,
      weightDecay: 0,
      decoupledWeightDecay: false,
      clip: true,
      clipExponent: 0.25,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdoptOptions>({
  name: 'adopt',
  create: (options) => adopt(options),
  optionSets: [{}, { weightDecay: 0.1, decoupledWeightDecay: true }, { weightDecay: 0.1, clip: false }],
  quadratic: { options: { learningRate: 0.05 }, steps: 800, tolerance: 1e-3 },
  // With β₂ = 0.9999 the second moment remembers the large early gradients for ~10⁴ steps and
  // Rosenbrock's valley is walked too slowly (loss 3.2 after 10⁴ steps at lr 0.003); β₂ = 0.999 gets there.
  rosenbrock: { options: { learningRate: 0.02, beta2: 0.999 }, steps: 10000, tolerance: 1e-6 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta2: 1.5 }, error: /Invalid beta2: 1.5/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { weightDecay: -1 }, error: /Invalid weightDecay: -1/ },
    { options: { clipExponent: -0.25 }, error: /Invalid clipExponent: -0.25/ },
    { options: { clip: 0 as unknown as boolean }, error: /Option 'clip' of OptimkitADOPT must be a boolean/ },
  ],
});
