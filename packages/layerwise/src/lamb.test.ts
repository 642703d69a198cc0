import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  applyStep,
  countDownloads,
  expectClose,
  gradientsAt,
  initialValues,
  isRankAtMostOne,
  makeVariables,
  norm,
  runGoldenSteps,
  STEPS,
  shapes,
} from './golden-inputs.js';
import { LAMB, type LAMBOptions, lamb } from './index.js';

// ------------------------------------------------------------------------------------------------
// Independent float64 reference, written from docs/algorithms/layerwise.md#lamb (paper reference TF Addons =
// Optax: ratio ‖p‖/‖u‖ on every tensor, 1 if either norm is 0, no clipping).

interface LambHyper {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  trustRatio: boolean;
}

const lambDefaults: LambHyper = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-6,
  weightDecay: 0,
  trustRatio: true,
};

interface Moments {
  m: Float64Array;
  v: Float64Array;
  t: number;
}

function lambReferenceStep(p: Float64Array, g: Float64Array, s: Moments, h: LambHyper): void {
  const n = p.length;
  s.t += 1;
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s.m[i] = h.beta1 * s.m[i]! + (1 - h.beta1) * g[i]!;
    s.v[i] = h.beta2 * s.v[i]! + (1 - h.beta2) * g[i]! * g[i]!;
    const mHat = s.m[i]! / (1 - h.beta1 ** s.t);
    const vHat = s.v[i]! / (1 - h.beta2 ** s.t);
    u[i] = mHat / (Math.sqrt(vHat) + h.epsilon) + h.weightDecay * p[i]!;
  }
  let ratio = 1;
  if (h.trustRatio) {
    const pn = norm(p);
    const un = norm(u);
    ratio = pn > 0 && un > 0 ? pn / un : 1;
  }
  for (let i = 0; i < n; i++) p[i] = p[i]! - h.learningRate * ratio * u[i]!;
}

/** The AdamW-style update p − lr·(m̂/(√v̂+ε) + wd·p), written separately for the cross-check. */
function adamWStyleStep(p: Float64Array, g: Float64Array, s: Moments, h: LambHyper): void {
  s.t += 1;
  const bc1 = 1 - h.beta1 ** s.t;
  const bc2 = 1 - h.beta2 ** s.t;
  p.forEach((x, i) => {
    s.m[i] = h.beta1 * s.m[i]! + (1 - h.beta1) * g[i]!;
    s.v[i] = h.beta2 * s.v[i]! + (1 - h.beta2) * g[i]! ** 2;
    p[i] = x - h.learningRate * (s.m[i]! / bc1 / (Math.sqrt(s.v[i]! / bc2) + h.epsilon) + h.weightDecay * x);
  });
}

const freshMoments = (n: number): Moments => ({ m: new Float64Array(n), v: new Float64Array(n), t: 0 });

// ------------------------------------------------------------------------------------------------

interface Case {
  title: string;
  options: LAMBOptions;
  hyper: (index: number, step: number) => LambHyper;
}

const cases: Case[] = [
  { title: 'defaults', options: {}, hyper: () => lambDefaults },
  {
    title: 'weight decay, betas, epsilon, and a trustRatio:false group without decay',
    options: {
      learningRate: 0.02,
      beta1: 0.8,
      beta2: 0.95,
      epsilon: 1e-4,
      weightDecay: 0.1,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.01 }],
    },
    hyper: (index) => {
      const top = {
        learningRate: 0.02,
        beta1: 0.8,
        beta2: 0.95,
        epsilon: 1e-4,
        weightDecay: 0.1,
        trustRatio: true,
      };
      return shapes[index]!.length <= 1
        ? { ...top, weightDecay: 0, trustRatio: false, learningRate: 0.01 }
        : top;
    },
  },
  {
    title: 'weight decay with the ratio everywhere and a scheduled learning rate',
    options: { learningRate: (step) => 0.05 * 0.9 ** step, weightDecay: 0.3 },
    hyper: (_index, step) => ({ ...lambDefaults, learningRate: 0.05 * 0.9 ** step, weightDecay: 0.3 }),
  },
  {
    title: 'trustRatio false everywhere, with weight decay',
    options: { learningRate: 0.01, weightDecay: 0.05, trustRatio: false },
    hyper: () => ({ ...lambDefaults, learningRate: 0.01, weightDecay: 0.05, trustRatio: false }),
  },
];

describe('lamb', () => {
  describe(`matches a float64 reference over ${STEPS} steps on tensors of rank 0–3`, () => {
    cases.forEach((c, caseIndex) => {
      it(c.title, () => {
        runGoldenSteps(
          'lambGolden',
          21 + caseIndex,
          lamb(c.options),
          {
            init: (p) => freshMoments(p.length),
            step: (p, g, moments, i, step) => lambReferenceStep(p, g, moments, c.hyper(i, step)),
          },
          (slots, moments, name) => {
            expectClose(slots.m!.dataSync(), moments.m, `m of ${name}`);
            expectClose(slots.v!.dataSync(), moments.v, `v of ${name}`);
          },
        );
      });
    });
  });

  it('is a tf.Optimizer registered as OptimkitLAMB', () => {
    const optimizer = lamb();
    expect(optimizer).toBeInstanceOf(LAMB);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitLAMB');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitLAMB?.[0]).toBe(LAMB);
    optimizer.dispose();
  });

  it('first steps by hand: bias correction, trust ratio, weight decay, zero norm', () => {
    const [w, z] = makeVariables('lambHand', [[2], []], [Float64Array.of(3, 4), Float64Array.of(0)]) as [
      tf.Variable,
      tf.Variable,
    ];
    const optimizer = lamb({ learningRate: 0.01, epsilon: 1 });
    // Step 1, w = [3, 4], g = [1.5, 4]:
    //   m = 0.1·g = [0.15, 0.4], v = 0.001·g² = [0.00225, 0.016]
    //   m̂ = m / (1 − 0.9) = [1.5, 4], v̂ = v / (1 − 0.999) = [2.25, 16]
    //   u = m̂ / (√v̂ + 1) = [1.5/2.5, 4/5] = [0.6, 0.8]  (‖u‖ = 1, ‖w‖ = 5 ⇒ ratio 5)
    //   w = [3, 4] − 0.01·5·[0.6, 0.8] = [2.97, 3.96]
    // z = 0, g = 2: m̂ = 2, v̂ = 4, u = 2/3; ‖z‖ = 0 ⇒ ratio 1; z = −0.01·2/3 = −0.00666…
    applyStep(optimizer, [w, z], [Float64Array.of(1.5, 4), Float64Array.of(2)]);
    expectClose(w.dataSync(), [2.97, 3.96], 'w after step 1');
    expectClose(z.dataSync(), [-0.02 / 3], 'z after step 1');
    expectClose(optimizer.getSlots(w.name)!.m!.dataSync(), [0.15, 0.4], 'm 1');
    expectClose(optimizer.getSlots(w.name)!.v!.dataSync(), [0.00225, 0.016], 'v 1');
    // Step 2, same g = [1.5, 4]:
    //   m = 0.9·[0.15, 0.4] + 0.1·[1.5, 4] = [0.285, 0.76]; m̂ = m / (1 − 0.81) = [1.5, 4]
    //   v = 0.999·v + 0.001·g² = 1.999·[0.00225, 0.016] = [0.00449775, 0.031984]
    //   v̂ = v / (1 − 0.998001) = v / 0.001999 = [2.25, 16]; u = [0.6, 0.8] again
    //   ‖w‖ = 0.99·5 = 4.95 ⇒ w = [2.97, 3.96] − 0.01·4.95·[0.6, 0.8] = [2.9403, 3.9204]
    // z = −0.02/3, g = −1: m = 0.9·0.2 + 0.1·(−1) = 0.08, m̂ = 0.08/0.19 = 0.42105263…
    //   v = 0.999·0.004 + 0.001·1 = 0.004996, v̂ = 0.004996/0.001999 = 2.49924962…, √v̂ = 1.58090152…
    //   u = 0.42105263 / 2.58090152 = 0.16314246…; ratio = (0.02/3) / 0.16314246 = 0.04086405…
    //   z = −0.00666667 − 0.01·0.04086405·0.16314246 = −0.00666667 − 0.00006667 = −0.00673333…
    //   (with the ratio, z moves by lr·|z| exactly: z·(1 + 0.01) = −0.0067333…)
    applyStep(optimizer, [w, z], [Float64Array.of(1.5, 4), Float64Array.of(-1)]);
    expectClose(w.dataSync(), [2.9403, 3.9204], 'w after step 2');
    expectClose(optimizer.getSlots(w.name)!.v!.dataSync(), [0.00449775, 0.031984], 'v 2');
    expectClose(z.dataSync(), [(-0.02 / 3) * 1.01], 'z after step 2');
    optimizer.dispose();

    // trustRatio false, weight decay 0.5, from w = [3, 4] with g = [1.5, 4]:
    //   u = [0.6, 0.8] + 0.5·[3, 4] = [2.1, 2.8]; w = [3, 4] − 0.01·[2.1, 2.8] = [2.979, 3.972]
    // and with the ratio: ‖u‖ = 3.5, ratio = 5/3.5 ⇒ w = [3, 4] − 0.01·(5/3.5)·[2.1, 2.8] = [2.97, 3.96]
    for (const [trustRatio, expected] of [
      [false, [2.979, 3.972]],
      [true, [2.97, 3.96]],
    ] as const) {
      w.assign(tf.tensor1d([3, 4]));
      const decayed = lamb({ learningRate: 0.01, epsilon: 1, weightDecay: 0.5, trustRatio });
      applyStep(decayed, [w], [Float64Array.of(1.5, 4)]);
      expectClose(w.dataSync(), expected, `weight decay 0.5, trustRatio ${trustRatio}`);
      decayed.dispose();
    }
    tf.dispose([w, z]);
  });

  it('with trustRatio false is the AdamW-style update p − lr·(m̂/(√v̂+ε) + wd·p)', () => {
    for (const weightDecay of [0, 0.02, 0.2]) {
      const h: LambHyper = {
        ...lambDefaults,
        learningRate: 0.01,
        beta1: 0.85,
        weightDecay,
        trustRatio: false,
      };
      const reference = initialValues(7);
      const moments = reference.map((p) => freshMoments(p.length));
      const variables = makeVariables('lambAdamW', shapes, reference);
      const optimizer = lamb({ learningRate: 0.01, beta1: 0.85, weightDecay, trustRatio: false });
      for (let step = 0; step < 25; step++) {
        const grads = gradientsAt(7, step);
        applyStep(optimizer, variables, grads);
        reference.forEach((p, i) => {
          adamWStyleStep(p, grads[i]!, moments[i]!, h);
        });
      }
      variables.forEach((v, i) => {
        expectClose(v.dataSync(), reference[i]!, `weightDecay ${weightDecay}: ${v.name}`);
      });
      optimizer.dispose();
      tf.dispose(variables);
    }
  });

  it('moves every adapted tensor by exactly learningRate·‖p‖ per step', () => {
    const values = initialValues(3).slice(1, 4);
    const variables = makeVariables('lambNormStep', shapes.slice(1, 4), values);
    const optimizer = lamb({ learningRate: 0.03, weightDecay: 0.01 });
    for (let step = 0; step < 5; step++) {
      const before = variables.map((v) => Float64Array.from(v.dataSync()));
      applyStep(optimizer, variables, gradientsAt(3, step).slice(1, 4));
      variables.forEach((v, i) => {
        const after = v.dataSync();
        const moved = norm(before[i]!.map((x, k) => x - after[k]!));
        expectClose([moved], [0.03 * norm(before[i]!)], `step ${step + 1}, ${v.name}`);
      });
    }
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('keeps the trust ratio a tensor: nothing is downloaded during a step', () => {
    const [w, b] = makeVariables('lambNoSync', [[3], []], [Float64Array.of(1, 2, 3), Float64Array.of(0)]) as [
      tf.Variable,
      tf.Variable,
    ];
    const optimizer = lamb({ weightDecay: 0.1 });
    const grads = { [w.name]: tf.tensor1d([0.1, -0.2, 0.3]), [b.name]: tf.scalar(0.5) };
    const reads = countDownloads(() => {
      optimizer.applyGradients(grads);
      optimizer.applyGradients(grads);
    });
    expect(reads).toBe(0);
    expect(countDownloads(() => w.dataSync())).toBe(1);
    tf.dispose([...Object.values(grads), w!, b]);
    optimizer.dispose();
  });

  it('keeps 8 bytes of state per parameter (two moments)', () => {
    const [weight, bias] = makeVariables(
      'lambMemory',
      [[1024, 1024], [1024]],
      [new Float64Array(1024 * 1024).fill(0.01), new Float64Array(1024)],
    );
    const optimizer = lamb({
      weightDecay: 0.01,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false }],
    });
    const grads = { [weight!.name]: tf.onesLike(weight!), [bias!.name]: tf.onesLike(bias!) };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    expect(optimizer.stateBytes() / (1024 * 1024 + 1024)).toBe(8);
    optimizer.dispose();
    tf.dispose([weight!, bias!]);
  });
});

const linearDecay = (peak: number, steps: number) => (step: number) => peak * (1 - step / steps);

// Measured on the cpu backend (final loss; largest loss over the last 20% of the steps):
// quadratic, learningRate 0.01, 1000 steps, the ratio on both tensors: 3.2e-5; 3.7e-4. Every step
// moves a tensor by lr·‖p‖ however small its gradient, so v oscillates around 1 with an amplitude
// of about lr·‖v‖ (learningRate 0.05 over 300 steps ends at 1.5e-3 with peaks of 1.3e-2).
// Rosenbrock, learningRate 0.05 → 0 linearly over 3000 steps: 7.3e-7; 2.8e-6, with the usual
// grouping (rank ≤ 1, here the scalars x and y, without the ratio). Under a per-scalar ratio every
// update is x·(1 ± lr), so x can never cross 0 from −1.2 to 1: with the ratio on x and y, LAMB
// (learningRate 0.01) ends at loss 1 with x, y ≈ 0.
describeOptimizerConformance<LAMBOptions>({
  name: 'lamb',
  create: (options) => lamb(options),
  optionSets: [
    {},
    { weightDecay: 0.01, paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false }] },
    // timm/apex's built-in global-norm clipping at 1.0, through core's gradient transform
    { learningRate: 0.005, weightDecay: 0.01, clipGradNorm: 1 },
    { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1, trustRatio: false },
  ],
  quadratic: { options: { learningRate: 0.01 }, steps: 1000, tolerance: 1e-3 },
  rosenbrock: {
    options: {
      learningRate: linearDecay(0.05, 3000),
      paramGroups: [{ match: isRankAtMostOne, trustRatio: false }],
    },
    steps: 3000,
    tolerance: 1e-4,
  },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1.2 }, error: /Invalid beta1: 1.2/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta1: -0.1 }, error: /Invalid beta1: -0.1/ },
    { options: { beta2: 1 }, error: /Invalid beta2: 1/ },
    { options: { beta2: Number.NaN }, error: /Invalid beta2: NaN/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: -1e-6 }, error: /Invalid epsilon: -0.000001/ },
    { options: { weightDecay: -0.01 }, error: /Invalid weightDecay: -0.01/ },
    { options: { paramGroups: [{ match: isRankAtMostOne, beta2: 1.5 }] }, error: /Invalid beta2: 1.5/ },
    {
      options: { trustRatio: 0 as unknown as boolean },
      error: /Option 'trustRatio' of OptimkitLAMB must be a boolean/,
    },
  ],
});
