import {
  describeOptimizerConformance,
  expectClose,
  float32Values,
  runGolden,
  seededRandom,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type SGDOptions, sgd } from './index.js';

/** PyTorch's SGD in float64, written from torch/optim/sgd.py `_single_tensor_sgd`. */
function referenceSgd(p: Float64Array, g: Float64Array, state: { buf?: Float64Array }, o: Required<Numeric>) {
  const d = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) d[i] = g[i]! + o.weightDecay * p[i]!;
  if (o.momentum !== 0) {
    if (!state.buf) state.buf = Float64Array.from(d);
    else
      for (let i = 0; i < d.length; i++)
        state.buf[i] = o.momentum * state.buf[i]! + (1 - o.dampening) * d[i]!;
    for (let i = 0; i < d.length; i++) d[i] = o.nesterov ? d[i]! + o.momentum * state.buf[i]! : state.buf[i]!;
  }
  for (let i = 0; i < p.length; i++) p[i] = p[i]! - o.learningRate * d[i]!;
}

interface Numeric {
  learningRate?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

const shapes = [[], [4], [3, 5], [2, 3, 4]];

describe('sgd golden values', () => {
  const optionSets: Numeric[] = [
    { learningRate: 0.1 },
    { learningRate: 0.05, momentum: 0.9 },
    { learningRate: 0.03, momentum: 0.8, dampening: 0.5, weightDecay: 0.01 },
    { learningRate: 0.02, momentum: 0.95, nesterov: true, weightDecay: 0.05 },
    { momentum: 0.5, dampening: 1 },
  ];
  for (const options of optionSets) {
    it(`matches a float64 PyTorch reference over 30 steps on ranks 0–3: ${JSON.stringify(options)}`, () => {
      const o = {
        learningRate: 1e-3,
        momentum: 0,
        dampening: 0,
        nesterov: false,
        weightDecay: 0,
        ...options,
      };
      const random = seededRandom(42);
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
      const states = shapes.map(() => ({}) as { buf?: Float64Array });
      const { worst } = runGolden({
        name: 'sgdGolden',
        shapes,
        initial: sizes.map((n) => Float64Array.from({ length: n }, () => Math.fround(random() * 4 - 2))),
        gradients: () => sizes.map((n) => float32Values(random, n)),
        create: () => sgd(options as SGDOptions),
        reference: (p, g, { index }) => referenceSgd(p, g, states[index]!, o),
        steps: 30,
      });
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});

describe('sgd first steps by hand', () => {
  const twoSteps = (options: SGDOptions) => {
    const p = tf.variable(tf.scalar(1));
    const optimizer = sgd(options);
    const values: number[] = [];
    for (const g of [0.5, -0.25]) {
      const grad = tf.scalar(g);
      optimizer.applyGradients([{ name: p.name, tensor: grad }]);
      grad.dispose();
      values.push(p.dataSync()[0]!);
    }
    optimizer.dispose();
    p.dispose();
    return values;
  };

  it('momentum with dampening and weight decay: the buffer starts at the first gradient, undamped', () => {
    // step 1: g = 0.5 + 0.1·1 = 0.6; buf = 0.6; p = 1 − 0.1·0.6 = 0.94
    // step 2: g = −0.25 + 0.1·0.94 = −0.156; buf = 0.9·0.6 + 0.5·(−0.156) = 0.462; p = 0.94 − 0.1·0.462 = 0.8938
    const [p1, p2] = twoSteps({ learningRate: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1 });
    expectClose([p1!, p2!], [0.94, 0.8938], 'p');
  });

  it('Nesterov with weight decay', () => {
    // step 1: g = 0.6; buf = 0.6; g' = 0.6 + 0.9·0.6 = 1.14; p = 1 − 0.1·1.14 = 0.886
    // step 2: g = −0.25 + 0.1·0.886 = −0.1614; buf = 0.9·0.6 − 0.1614 = 0.3786;
    //         g' = −0.1614 + 0.9·0.3786 = 0.17934; p = 0.886 − 0.1·0.17934 = 0.868066
    const [p1, p2] = twoSteps({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 });
    expectClose([p1!, p2!], [0.886, 0.868066], 'p');
  });

  it('plain SGD keeps no state', () => {
    // p = 1 − 0.1·0.5 = 0.95, then 0.95 + 0.1·0.25 = 0.975
    const [p1, p2] = twoSteps({ learningRate: 0.1 });
    expectClose([p1!, p2!], [0.95, 0.975], 'p');
    const optimizer = sgd({ learningRate: 0.1 });
    const v = tf.variable(tf.ones([1000]));
    const g = tf.onesLike(v);
    optimizer.applyGradients({ [v.name]: g });
    expect(optimizer.stateBytes()).toBe(0);
    optimizer.dispose();
    tf.dispose([v, g]);
  });
});

describe('sgd against tf.train', () => {
  it('equals tf.train.momentum (and tf.train.sgd) when dampening is 0', () => {
    for (const [ours, theirs] of [
      [sgd({ learningRate: 0.1, momentum: 0.9 }), tf.train.momentum(0.1, 0.9)],
      [sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), tf.train.momentum(0.1, 0.9, true)],
      [sgd({ learningRate: 0.1 }), tf.train.sgd(0.1)],
    ] as const) {
      // tfjs's momentum_optimizer_test: x = [1, 2], loss = Σx², two steps.
      const a = tf.variable(tf.tensor1d([1, 2]));
      const b = tf.variable(tf.tensor1d([1, 2]));
      for (let i = 0; i < 2; i++) {
        ours.minimize(() => tf.sum(tf.square(a)));
        theirs.minimize(() => tf.sum(tf.square(b)));
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      }
      ours.dispose();
      theirs.dispose();
      tf.dispose([a, b]);
    }
  });
});

describe('sgd validation', () => {
  it('names the option and value (PyTorch messages)', () => {
    expect(() => sgd({ learningRate: -1 })).toThrow(new RangeError('Invalid learning rate: -1'));
    expect(() => sgd({ momentum: -0.1 })).toThrow('Invalid momentum: -0.1');
    expect(() => sgd({ nesterov: true })).toThrow(/Nesterov momentum requires a momentum and zero dampening/);
  });
});

describeOptimizerConformance<SGDOptions>({
  name: 'sgd',
  create: (options) => sgd(options),
  optionSets: [
    { learningRate: 0.1 },
    { learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
    {
      learningRate: 0.05,
      momentum: 0.9,
      nesterov: true,
      paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0, momentum: 0.5 }],
    },
  ],
  quadratic: { options: { learningRate: 0.1, momentum: 0.9 }, steps: 200, tolerance: 1e-6 },
  rosenbrock: { options: { learningRate: 1e-3, momentum: 0.9 }, steps: 3000, tolerance: 1e-4 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { momentum: -0.5 }, error: /Invalid momentum: -0.5/ },
    { options: { dampening: 1.5 }, error: /Invalid dampening: 1.5/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
    { options: { nesterov: true }, error: /Nesterov momentum requires a momentum and zero dampening/ },
    { options: { nesterov: true, momentum: 0.9, dampening: 0.1 }, error: /Nesterov momentum requires/ },
  ],
});
