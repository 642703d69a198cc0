import type { OptimizerOptions } from '@optimkit/core';
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
import { LARS, type LARSDefaults, type LARSOptions, lars } from './index.js';

// ------------------------------------------------------------------------------------------------
// Independent float64 reference, written from docs/algorithms/layerwise.md#lars (paper/timm trust ratio on every
// tensor, then exactly PyTorch's SGD momentum) and §1 (PyTorch SGD).

interface LarsHyper {
  learningRate: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  trustCoefficient: number;
  epsilon: number;
  trustRatio: boolean;
}

const larsDefaults = {
  momentum: 0.9,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
  trustCoefficient: 1e-3,
  epsilon: 1e-8,
  trustRatio: true,
};

/** One LARS step on one tensor in float64; returns the new buffer (or null without momentum). */
function larsReferenceStep(p: Float64Array, g: Float64Array, buf: Float64Array | null, h: LarsHyper) {
  const n = p.length;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = g[i]! + h.weightDecay * p[i]!;
  if (h.trustRatio) {
    const w = norm(p);
    const gn = norm(g);
    const tr = w > 0 && gn > 0 ? (h.trustCoefficient * w) / (gn + h.weightDecay * w + h.epsilon) : 1;
    for (let i = 0; i < n; i++) d[i] = d[i]! * tr;
  }
  let next = buf;
  if (h.momentum !== 0) {
    if (buf === null) next = Float64Array.from(d);
    else {
      next = new Float64Array(n);
      for (let i = 0; i < n; i++) next[i] = h.momentum * buf[i]! + (1 - h.dampening) * d[i]!;
    }
    for (let i = 0; i < n; i++) d[i] = h.nesterov ? d[i]! + h.momentum * next[i]! : next[i]!;
  }
  for (let i = 0; i < n; i++) p[i] = p[i]! - h.learningRate * d[i]!;
  return next;
}

/** PyTorch's SGD with coupled weight decay (§1), written separately for the cross-check. */
function torchSgdStep(p: Float64Array, g: Float64Array, buf: Float64Array | null, h: LarsHyper) {
  const d = Array.from(g, (x, i) => x + h.weightDecay * p[i]!);
  let b = buf;
  if (h.momentum !== 0) {
    b = Float64Array.from(buf === null ? d : d.map((x, i) => h.momentum * buf[i]! + (1 - h.dampening) * x));
    for (let i = 0; i < d.length; i++) d[i] = h.nesterov ? d[i]! + h.momentum * b[i]! : b[i]!;
  }
  d.forEach((x, i) => {
    p[i] = p[i]! - h.learningRate * x;
  });
  return b;
}

// ------------------------------------------------------------------------------------------------

interface Case {
  title: string;
  options: LARSOptions;
  /** The reference's hyperparameters of variable `index` at `step` completed steps. */
  hyper: (index: number, step: number) => LarsHyper;
}

const cases: Case[] = [
  {
    title: 'defaults (momentum 0.9, trust coefficient 1e-3) with learning rate 5',
    options: { learningRate: 5 },
    hyper: () => ({ ...larsDefaults, learningRate: 5 }),
  },
  {
    title: 'momentum, dampening, weight decay, trust coefficient, epsilon, and a trustRatio:false group',
    options: {
      learningRate: 2,
      momentum: 0.8,
      dampening: 0.3,
      weightDecay: 0.05,
      trustCoefficient: 0.02,
      epsilon: 1e-3,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.05 }],
    },
    hyper: (index) => {
      const top = {
        ...larsDefaults,
        learningRate: 2,
        momentum: 0.8,
        dampening: 0.3,
        weightDecay: 0.05,
        trustCoefficient: 0.02,
        epsilon: 1e-3,
      };
      return shapes[index]!.length <= 1
        ? { ...top, weightDecay: 0, trustRatio: false, learningRate: 0.05 }
        : top;
    },
  },
  {
    title: 'Nesterov with weight decay and a scheduled learning rate',
    options: {
      learningRate: (step) => 3 / (1 + 0.1 * step),
      nesterov: true,
      weightDecay: 0.01,
      trustCoefficient: 0.01,
    },
    hyper: (_index, step) => ({
      ...larsDefaults,
      learningRate: 3 / (1 + 0.1 * step),
      nesterov: true,
      weightDecay: 0.01,
      trustCoefficient: 0.01,
    }),
  },
  {
    title: 'no momentum (no slot) with weight decay',
    options: { learningRate: 1, momentum: 0, weightDecay: 0.1, trustCoefficient: 0.05 },
    hyper: () => ({
      ...larsDefaults,
      learningRate: 1,
      momentum: 0,
      weightDecay: 0.1,
      trustCoefficient: 0.05,
    }),
  },
];

describe('lars', () => {
  describe(`matches a float64 reference over ${STEPS} steps on tensors of rank 0–3`, () => {
    cases.forEach((c, caseIndex) => {
      it(c.title, () => {
        runGoldenSteps(
          'larsGolden',
          11 + caseIndex,
          lars(c.options),
          {
            init: () => ({ buffer: null as Float64Array | null }),
            step: (p, g, state, i, step) => {
              state.buffer = larsReferenceStep(p, g, state.buffer, c.hyper(i, step));
            },
          },
          (slots, { buffer }, name) => {
            if (buffer === null) expect(Object.keys(slots)).toEqual([]);
            else expectClose(slots.momentumBuffer!.dataSync(), buffer, `buffer of ${name}`);
          },
        );
      });
    });
  });

  it('is a tf.Optimizer registered as OptimkitLARS', () => {
    const optimizer = lars({ learningRate: 1 });
    expect(optimizer).toBeInstanceOf(LARS);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitLARS');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitLARS?.[0]).toBe(LARS);
    optimizer.dispose();
  });

  it('first steps by hand: trust ratio, weight decay, momentum, and the zero-norm cases', () => {
    const [w, z] = makeVariables('larsHand', [[2], []], [Float64Array.of(3, 4), Float64Array.of(0)]) as [
      tf.Variable,
      tf.Variable,
    ];
    const optimizer = lars({ learningRate: 0.1, weightDecay: 0.1, trustCoefficient: 0.01, epsilon: 0.5 });
    // Step 1, w = [3, 4] (‖w‖ = 5), g = [0.6, 0.8] (‖g‖ = 1):
    //   ratio = 0.01·5 / (1 + 0.1·5 + 0.5) = 0.05 / 2 = 0.025
    //   g' = 0.025·(g + 0.1·w) = 0.025·[0.9, 1.2] = [0.0225, 0.03]; buffer = g' (first step)
    //   w = [3, 4] − 0.1·[0.0225, 0.03] = [2.99775, 3.997]
    // z = 0 (‖z‖ = 0 ⇒ ratio 1), g = 2: g' = 2 + 0.1·0 = 2; z = 0 − 0.1·2 = −0.2
    applyStep(optimizer, [w, z], [Float64Array.of(0.6, 0.8), Float64Array.of(2)]);
    expectClose(w.dataSync(), [2.99775, 3.997], 'w after step 1');
    expectClose(z.dataSync(), [-0.2], 'z after step 1');
    expectClose(optimizer.getSlots(w.name)!.momentumBuffer!.dataSync(), [0.0225, 0.03], 'buffer 1');
    // Step 2, g = [0, 0] (‖g‖ = 0 ⇒ ratio 1): g' = 0.1·w = [0.299775, 0.3997]
    //   buffer = 0.9·[0.0225, 0.03] + 1·[0.299775, 0.3997] = [0.320025, 0.4267]
    //   w = [2.99775, 3.997] − 0.1·[0.320025, 0.4267] = [2.9657475, 3.95433]
    // z = −0.2, g = −1: ratio = 0.01·0.2 / (1 + 0.1·0.2 + 0.5) = 0.002 / 1.52
    //   g' = (−1 + 0.1·(−0.2))·0.002/1.52 = −1.02·0.002/1.52 = −0.00134210526…
    //   buffer = 0.9·2 + (−0.00134210526) = 1.79865789474; z = −0.2 − 0.179865789474 = −0.379865789474
    applyStep(optimizer, [w, z], [Float64Array.of(0, 0), Float64Array.of(-1)]);
    expectClose(w.dataSync(), [2.9657475, 3.95433], 'w after step 2');
    expectClose(optimizer.getSlots(w.name)!.momentumBuffer!.dataSync(), [0.320025, 0.4267], 'buffer 2');
    expectClose(z.dataSync(), [-0.379865789474], 'z after step 2');
    optimizer.dispose();
    tf.dispose([w, z]);
  });

  it('with trustRatio false is PyTorch SGD with coupled weight decay (momentum, dampening, Nesterov)', () => {
    const settings = [
      { momentum: 0.9, dampening: 0.2, nesterov: false, weightDecay: 0.03 },
      { momentum: 0.7, dampening: 0, nesterov: true, weightDecay: 0.1 },
      { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.05 },
    ];
    for (const s of settings) {
      const h: LarsHyper = { ...larsDefaults, ...s, learningRate: 0.05, trustRatio: false };
      const reference = initialValues(5);
      const variables = makeVariables('larsSgd', shapes, reference);
      const buffers: (Float64Array | null)[] = shapes.map(() => null);
      const optimizer = lars({ learningRate: 0.05, ...s, trustRatio: false });
      for (let step = 0; step < 25; step++) {
        const grads = gradientsAt(5, step);
        applyStep(optimizer, variables, grads);
        reference.forEach((p, i) => {
          buffers[i] = torchSgdStep(p, grads[i]!, buffers[i]!, h);
        });
      }
      variables.forEach((v, i) => {
        expectClose(v.dataSync(), reference[i]!, `${JSON.stringify(s)}: ${v.name}`);
      });
      optimizer.dispose();
      tf.dispose(variables);
    }
  });

  it('keeps 4 bytes of state per parameter (one momentum buffer)', () => {
    const [weight, bias] = makeVariables(
      'larsMemory',
      [[1024, 1024], [1024]],
      [new Float64Array(1024 * 1024).fill(0.01), new Float64Array(1024)],
    );
    const optimizer = lars({
      learningRate: 1,
      weightDecay: 1e-4,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false }],
    });
    const grads = { [weight!.name]: tf.onesLike(weight!), [bias!.name]: tf.onesLike(bias!) };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    expect(optimizer.stateBytes() / (1024 * 1024 + 1024)).toBe(4);
    optimizer.dispose();
    tf.dispose([weight!, bias!]);
  });

  it('requires a learning rate', () => {
    // @ts-expect-error: the type requires a learning rate too
    expect(() => lars({})).toThrow(RangeError);
    expect(() => lars({} as LARSOptions)).toThrow(
      /Invalid learning rate: null \(lars requires a learningRate/,
    );
    expect(() => new LARS()).toThrow(/lars requires a learningRate/);
    expect(() => lars({ learningRate: 1, paramGroups: [{ params: ['x'], learningRate: null }] })).toThrow(
      /lars requires a learningRate/,
    );
  });

  it('keeps the trust ratio a tensor: nothing is downloaded during a step', () => {
    const [w, b] = makeVariables('larsNoSync', [[3], []], [Float64Array.of(1, 2, 3), Float64Array.of(0)]) as [
      tf.Variable,
      tf.Variable,
    ];
    const optimizer = lars({ learningRate: 1, weightDecay: 0.1 });
    const grads = { [w.name]: tf.tensor1d([0.1, -0.2, 0.3]), [b.name]: tf.scalar(0.5) };
    const reads = countDownloads(() => {
      optimizer.applyGradients(grads);
      optimizer.applyGradients(grads);
    });
    expect(reads).toBe(0);
    // The counter does see a download:
    expect(countDownloads(() => w.dataSync())).toBe(1);
    tf.dispose([...Object.values(grads), w!, b]);
    optimizer.dispose();
  });
});

const linearDecay = (peak: number, steps: number) => (step: number) => peak * (1 - step / steps);

// Measured on the cpu backend (final loss; largest loss over the last 20% of the steps):
// quadratic, learningRate 2, 400 steps: 4.9e-7; 7.2e-6 (the trust ratio makes each step
// lr·trustCoefficient·‖p‖ long whatever the gradient, so v keeps a small limit cycle around 1).
// Rosenbrock, learningRate 10 → 0 linearly over 3000 steps: 1.0e-7 (peaks 8 and 12 give 2.7e-6 and
// 2.2e-5, peaks 20–60 up to 3.5e-3). x and y are scalars, so the ratio makes each update
// multiplicative (tc·|x|·sign(g)); momentum carries x across 0. Without a decaying learning rate a
// scalar near 0 is stuck there (learningRate 1 constant ends at x = y = 0, loss 1).
// The options are typed loosely here so that the error cases can omit the learning rate.
describeOptimizerConformance<OptimizerOptions<LARSDefaults>>({
  name: 'lars',
  create: (options) => lars((options ?? {}) as LARSOptions),
  optionSets: [
    { learningRate: 2 },
    {
      learningRate: 1,
      nesterov: true,
      weightDecay: 0.01,
      trustCoefficient: 0.02,
      paramGroups: [{ match: isRankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.1 }],
    },
    { learningRate: 0.5, momentum: 0.8, dampening: 0.5, epsilon: 1e-4 },
    { learningRate: 0.5, momentum: 0, weightDecay: 0.1 },
  ],
  quadratic: { options: { learningRate: 2 }, steps: 400, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: linearDecay(10, 3000) }, steps: 3000, tolerance: 1e-3 },
  errorCases: [
    { options: {}, error: /Invalid learning rate: null \(lars requires a learningRate/ },
    { options: { learningRate: null }, error: /lars requires a learningRate/ },
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { learningRate: 1, momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { learningRate: 1, momentum: -0.1 }, error: /Invalid momentum: -0.1/ },
    { options: { learningRate: 1, dampening: 1.5 }, error: /Invalid dampening: 1.5/ },
    { options: { learningRate: 1, weightDecay: -1e-4 }, error: /Invalid weightDecay: -0.0001/ },
    { options: { learningRate: 1, trustCoefficient: 0 }, error: /Invalid trustCoefficient: 0/ },
    { options: { learningRate: 1, trustCoefficient: -1e-3 }, error: /Invalid trustCoefficient: -0.001/ },
    { options: { learningRate: 1, epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { learningRate: 1, epsilon: -1e-8 }, error: /Invalid epsilon: -1e-8/ },
    {
      options: { learningRate: 1, momentum: 0, nesterov: true },
      error: /Nesterov momentum requires a momentum/,
    },
    { options: { learningRate: 1, dampening: 0.1, nesterov: true }, error: /zero dampening/ },
    {
      options: { learningRate: 1, paramGroups: [{ match: isRankAtMostOne, momentum: 2 }] },
      error: /Invalid momentum: 2/,
    },
    {
      options: { learningRate: 1, trustRatio: 1 as unknown as boolean },
      error: /Option 'trustRatio' of OptimkitLARS must be a boolean/,
    },
  ],
});
