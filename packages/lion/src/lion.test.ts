import {
  applyGradientValues as applyStep,
  describeOptimizerConformance,
  expectClose,
  makeVariables,
  seededRandom as mulberry32,
  float32Values as randomValues,
  runGolden,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Lion, type LionOptions, lion } from './index.js';

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// ------------------------------------------------------------------------------------------------
// Independent float64 reference, written from docs/algorithms/lion.md#lion (google/automl lion_pytorch.py).

interface LionHyper {
  learningRate: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

const lionDefaults: LionHyper = { learningRate: 1e-4, beta1: 0.9, beta2: 0.99, weightDecay: 0 };

function lionReferenceStep(p: Float64Array, g: Float64Array, m: Float64Array, h: LionHyper): void {
  for (let i = 0; i < p.length; i++) {
    p[i] = p[i]! * (1 - h.learningRate * h.weightDecay);
    const c = h.beta1 * m[i]! + (1 - h.beta1) * g[i]!;
    p[i] = p[i]! - h.learningRate * Math.sign(c);
    m[i] = h.beta2 * m[i]! + (1 - h.beta2) * g[i]!;
  }
}

// ------------------------------------------------------------------------------------------------

const shapes = [[], [5], [3, 4], [2, 3, 2]] as const;
const gradScales = [0.3, 2, 0.05, 1];
const STEPS = 30;
/**
 * sign(c) is discontinuous at c = 0: a float32 c within rounding error of 0 could take the other
 * sign than the float64 reference and move that element by 2·lr. The gradients are therefore
 * chosen so that |c| ≥ MIN_C · (the variable's gradient scale) at every step: each element is
 * drawn with |g| ≥ 0.05·scale, and redrawn while the reference's c = β1·m + (1−β1)·g (m depends
 * on the gradients only, not on the parameters) is smaller than that. The float32 error of c is
 * about 1e-7 of its terms, four orders of magnitude below the margin.
 */
const MIN_C = 1e-3;

/** Gradients for `steps` steps of one variable, and the smallest |c|/scale the reference sees. */
function safeGradients(
  seed: number,
  size: number,
  scale: number,
  beta1: number,
  beta2: number,
  steps: number,
): { grads: Float64Array[]; minC: number } {
  const random = mulberry32(seed);
  const m = new Float64Array(size);
  const grads: Float64Array[] = [];
  let minC = Number.POSITIVE_INFINITY;
  for (let t = 0; t < steps; t++) {
    const g = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      let c = 0;
      for (let attempt = 0; attempt < 100; attempt++) {
        const magnitude = 0.05 + 0.95 * random();
        g[i] = Math.fround((random() < 0.5 ? -1 : 1) * magnitude * scale);
        c = beta1 * m[i]! + (1 - beta1) * g[i]!;
        if (Math.abs(c) >= MIN_C * scale) break;
      }
      minC = Math.min(minC, Math.abs(c) / scale);
      m[i] = beta2 * m[i]! + (1 - beta2) * g[i]!;
    }
    grads.push(g);
  }
  return { grads, minC };
}

function initialValues(seed: number): Float64Array[] {
  const random = mulberry32(seed);
  return shapes.map((s) => randomValues(random, sizeOf(s), 1));
}

const isRankAtMostOne = (v: tf.Variable) => v.shape.length <= 1;

interface Case {
  title: string;
  options: LionOptions;
  hyper: (index: number, step: number) => LionHyper;
}

const cases: Case[] = [
  { title: 'defaults', options: {}, hyper: () => lionDefaults },
  {
    title: 'betas, weight decay, and a group without decay',
    options: {
      learningRate: 0.01,
      beta1: 0.95,
      beta2: 0.98,
      weightDecay: 0.5,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, learningRate: 0.003 }],
    },
    hyper: (index) => {
      const top = { learningRate: 0.01, beta1: 0.95, beta2: 0.98, weightDecay: 0.5 };
      return shapes[index]!.length <= 1 ? { ...top, weightDecay: 0, learningRate: 0.003 } : top;
    },
  },
  {
    title: 'strong weight decay, a short memory and a scheduled learning rate',
    options: { learningRate: (step) => 0.02 * 0.95 ** step, beta1: 0.5, beta2: 0.6, weightDecay: 2 },
    hyper: (_index, step) => ({ learningRate: 0.02 * 0.95 ** step, beta1: 0.5, beta2: 0.6, weightDecay: 2 }),
  },
];

describe('lion', () => {
  describe(`matches a float64 reference over ${STEPS} steps on tensors of rank 0–3`, () => {
    cases.forEach((c, caseIndex) => {
      it(c.title, () => {
        const seed = 31 + caseIndex;
        const reference = initialValues(seed);
        const streams = shapes.map((s, i) => {
          const h = c.hyper(i, 0);
          return safeGradients(seed * 100 + i, sizeOf(s), gradScales[i]!, h.beta1, h.beta2, STEPS);
        });
        for (const { minC } of streams) expect(minC).toBeGreaterThanOrEqual(MIN_C);
        const { worst } = runGolden({
          name: 'lionGolden',
          shapes,
          initial: reference,
          gradients: (step) => streams.map((s) => s.grads[step]!),
          create: () => lion(c.options),
          reference: (p, g, { index, step, state }) => {
            state.m ??= new Float64Array(p.length);
            lionReferenceStep(p, g, state.m, c.hyper(index, step));
          },
          steps: STEPS,
          slots: (_index, state) => ({ m: state.m! }),
        });
        expect(worst).toBeLessThanOrEqual(1);
      });
    });
  });

  it('is a tf.Optimizer registered as OptimkitLion', () => {
    const optimizer = lion();
    expect(optimizer).toBeInstanceOf(Lion);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitLion');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitLion?.[0]).toBe(Lion);
    optimizer.dispose();
  });

  it('first steps by hand: decoupled decay, sign of the interpolation, sign(0) = 0, momentum', () => {
    const [w] = makeVariables('lionHand', [[3]], [Float64Array.of(1, -1, 0.5)]);
    const optimizer = lion({ learningRate: 0.1, weightDecay: 0.5 });
    // Step 1, w = [1, −1, 0.5], g = [0.5, −2, 0], m = 0:
    //   w·(1 − 0.1·0.5) = 0.95·w = [0.95, −0.95, 0.475]
    //   c = 0.9·0 + 0.1·g = [0.05, −0.2, 0] ⇒ sign(c) = [1, −1, 0]
    //   w = [0.95 − 0.1, −0.95 + 0.1, 0.475 − 0] = [0.85, −0.85, 0.475]
    //   m = 0.99·0 + 0.01·g = [0.005, −0.02, 0]
    applyStep(optimizer, [w!], [Float64Array.of(0.5, -2, 0)]);
    expectClose(w!.dataSync(), [0.85, -0.85, 0.475], 'w after step 1');
    expectClose(optimizer.getSlots(w!.name)!.m!.dataSync(), [0.005, -0.02, 0], 'm after step 1');
    // Step 2, g = [−0.1, 1, 3]:
    //   0.95·w = [0.8075, −0.8075, 0.45125]
    //   c = 0.9·[0.005, −0.02, 0] + 0.1·[−0.1, 1, 3] = [0.0045 − 0.01, −0.018 + 0.1, 0.3]
    //     = [−0.0055, 0.082, 0.3] ⇒ sign(c) = [−1, 1, 1] (the first element flips against m)
    //   w = [0.8075 + 0.1, −0.8075 − 0.1, 0.45125 − 0.1] = [0.9075, −0.9075, 0.35125]
    //   m = 0.99·[0.005, −0.02, 0] + 0.01·[−0.1, 1, 3] = [0.00395, −0.0098, 0.03]
    applyStep(optimizer, [w!], [Float64Array.of(-0.1, 1, 3)]);
    expectClose(w!.dataSync(), [0.9075, -0.9075, 0.35125], 'w after step 2');
    expectClose(optimizer.getSlots(w!.name)!.m!.dataSync(), [0.00395, -0.0098, 0.03], 'm after step 2');
    optimizer.dispose();
    w!.dispose();
  });

  it('with beta1 0 and no weight decay is sign descent p − lr·sign(g)', () => {
    const reference = initialValues(9);
    const variables = makeVariables('lionSign', shapes, reference);
    const optimizer = lion({ learningRate: 0.01, beta1: 0, beta2: 0.9 });
    const random = mulberry32(99);
    for (let step = 0; step < 25; step++) {
      // Gradients of any size, some exactly 0: sign descent leaves those elements in place.
      const grads = shapes.map((s) =>
        Float64Array.from({ length: sizeOf(s) }, () => (random() < 0.1 ? 0 : Math.fround(random() * 2 - 1))),
      );
      applyStep(optimizer, variables, grads);
      reference.forEach((p, i) => {
        p.forEach((x, k) => {
          p[k] = x - 0.01 * Math.sign(grads[i]![k]!);
        });
      });
    }
    variables.forEach((v, i) => {
      expectClose(v.dataSync(), reference[i]!, v.name);
    });
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('keeps 4 bytes of state per parameter (one momentum)', () => {
    const [weight, bias] = makeVariables(
      'lionMemory',
      [[1024, 1024], [1024]],
      [new Float64Array(1024 * 1024).fill(0.01), new Float64Array(1024)],
    );
    const optimizer = lion({ weightDecay: 1, paramGroups: [{ match: isRankAtMostOne, weightDecay: 0 }] });
    const grads = { [weight!.name]: tf.onesLike(weight!), [bias!.name]: tf.onesLike(bias!) };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    expect(optimizer.stateBytes() / (1024 * 1024 + 1024)).toBe(4);
    optimizer.dispose();
    tf.dispose([weight!, bias!]);
  });
});

const linearDecay = (peak: number, steps: number) => (step: number) => peak * (1 - step / steps);

// Measured on the cpu backend (final loss; largest loss over the last 20% of the steps):
// quadratic, learningRate 0.005 and beta2 0.9, 1000 steps: 3.5e-4; 1.3e-3. Every element moves by
// exactly lr per step, so Lion ends in a limit cycle a few lr wide around the minimum; with the
// default beta2 0.99 (long memory) the cycle is much wider (learningRate 0.01: 3.4e-2; 0.4).
// Rosenbrock, learningRate 3e-3 → 0 linearly over 3000 steps: 4.0e-6; 3.2e-4 (a constant 1e-3
// ends at 5.3e-4 with peaks of 9.3e-2).
describeOptimizerConformance<LionOptions>({
  name: 'lion',
  create: (options) => lion(options),
  optionSets: [
    {},
    { learningRate: 0.01, weightDecay: 0.5, paramGroups: [{ match: isRankAtMostOne, weightDecay: 0 }] },
    { learningRate: 3e-3, beta1: 0.95, beta2: 0.98, weightDecay: 1 },
    { stateDtype: 'int8', weightDecay: 0.1 },
  ],
  quadratic: { options: { learningRate: 0.005, beta2: 0.9 }, steps: 1000, tolerance: 2e-3 },
  rosenbrock: { options: { learningRate: linearDecay(3e-3, 3000) }, steps: 3000, tolerance: 1e-4 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { stateDtype: 'int4' as 'int8' }, error: /Invalid stateDtype: 'int4'/ },
    { options: { beta1: -0.5 }, error: /Invalid beta1: -0.5/ },
    { options: { beta2: 1.5 }, error: /Invalid beta2: 1.5/ },
    { options: { beta2: Number.NaN }, error: /Invalid beta2: NaN/ },
    { options: { weightDecay: -1 }, error: /Invalid weightDecay: -1/ },
    { options: { paramGroups: [{ match: isRankAtMostOne, beta1: 2 }] }, error: /Invalid beta1: 2/ },
  ],
});
