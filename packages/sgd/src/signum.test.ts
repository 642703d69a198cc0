import { describeOptimizerConformance, expectClose, float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Signum, type SignumOptions, signum } from './index.js';

interface Hyper {
  learningRate: number;
  momentum: number;
  weightDecay: number;
  decoupledWeightDecay: boolean;
}
const DEFAULTS: Hyper = { learningRate: 1e-2, momentum: 0.9, weightDecay: 0, decoupledWeightDecay: false };

/** MXNet's signum_update / Signum (the authors' code), elementwise in float64, momentum stored positive. */
function signumReference(p: Float64Array, g: Float64Array, m: Float64Array, h: Hyper) {
  const wd = h.decoupledWeightDecay ? 0 : h.weightDecay;
  const wdLh = h.decoupledWeightDecay ? h.weightDecay : 0;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]! + wd * p[i]!;
    m[i] = h.momentum === 0 ? gi : h.momentum * m[i]! + (1 - h.momentum) * gi;
    p[i] = (1 - h.learningRate * wdLh) * p[i]! - h.learningRate * Math.sign(m[i]!);
  }
}

const shapes = [[], [4], [3, 5], [2, 3, 4]];

function trajectory(options: SignumOptions, gradients: (step: number) => Float64Array[], count = 40) {
  const random = seededRandom(11);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const start = sizes.map((n) => float32Values(random, n, 2));
  const variables = start.map((values, i) => tf.variable(tf.tensor(Float32Array.from(values), shapes[i])));
  const optimizer = signum(options);
  const after: Float32Array[][] = [];
  for (let step = 0; step < count; step++) {
    const tensors = gradients(step).map((g, i) => tf.tensor(Float32Array.from(g), shapes[i]));
    optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tensors[i]! })));
    tf.dispose(tensors);
    after.push(variables.map((v) => Float32Array.from(v.dataSync())));
  }
  const slots = variables.map((v) => optimizer.getSlots(v.name));
  const buffers = slots.map((s) =>
    s?.momentumBuffer ? Float64Array.from(s.momentumBuffer.dataSync()) : null,
  );
  optimizer.dispose();
  tf.dispose(variables);
  return { start, after, buffers };
}

const gradientsOf = (seed: number) => (step: number) => {
  const random = seededRandom(seed * 1000 + step);
  return shapes.map((s, i) =>
    float32Values(
      random,
      s.reduce((a, b) => a * b, 1),
      0.2 + i,
    ),
  );
};

describe('signum', () => {
  const optionSets: Partial<Hyper>[] = [
    {},
    { learningRate: 0.05, momentum: 0.5, weightDecay: 0.1 },
    { learningRate: 0.02, momentum: 0.8, weightDecay: 0.05, decoupledWeightDecay: true },
    { momentum: 0, weightDecay: 0.3 },
    { momentum: 0, learningRate: 0.1, weightDecay: 0.2, decoupledWeightDecay: true },
  ];
  optionSets.forEach((options, index) => {
    it(`matches a float64 reference of MXNet's Signum over 40 steps on ranks 0–3: ${JSON.stringify(options)}`, () => {
      const h = { ...DEFAULTS, ...options };
      const { start, after, buffers } = trajectory(options, gradientsOf(index));
      const reference = start.map((p) => Float64Array.from(p));
      const moments = start.map((p) => new Float64Array(p.length));
      after.forEach((values, step) => {
        const grads = gradientsOf(index)(step);
        reference.forEach((p, i) => {
          signumReference(p, grads[i]!, moments[i]!, h);
          expectClose(values[i]!, p, `step ${step + 1}, rank ${shapes[i]!.length}`);
        });
      });
      buffers.forEach((b, i) => {
        if (h.momentum === 0) expect(b).toBeNull();
        else expectClose(b!, moments[i]!, `momentum of rank ${shapes[i]!.length}`);
      });
    });
  });

  it('takes the first steps derived by hand', () => {
    // lr 0.1, momentum 0.5, coupled weightDecay 1, p₀ = 1:
    // 1: g = 0.2 → g + 1·p = 1.2; m = 0.5·0 + 0.5·1.2 = 0.6 > 0: p = 1 − 0.1 = 0.9
    // 2: g = −1.3 → −1.3 + 0.9 = −0.4; m = 0.3 − 0.2 = 0.1 > 0: p = 0.9 − 0.1 = 0.8
    // 3: g = −2 → −2 + 0.8 = −1.2; m = 0.05 − 0.6 = −0.55 < 0: p = 0.8 + 0.1 = 0.9
    const p = tf.variable(tf.scalar(1));
    const optimizer = signum({ learningRate: 0.1, momentum: 0.5, weightDecay: 1 });
    const got: number[] = [];
    for (const g of [0.2, -1.3, -2]) {
      const grad = tf.scalar(g);
      optimizer.applyGradients({ [p.name]: grad });
      grad.dispose();
      got.push(p.dataSync()[0]!, optimizer.getSlots(p.name)!.momentumBuffer!.dataSync()[0]!);
    }
    expectClose(got, [0.9, 0.6, 0.8, 0.1, 0.9, -0.55], 'hand steps');
    optimizer.dispose();
    p.dispose();
  });

  it('decoupled: shrinks by 1 − lr·wd before the sign step (by hand)', () => {
    // lr 0.1, wd 0.5, momentum 0.9: p = 2·(1 − 0.05) − 0.1·sign(0.1·g) = 1.9 − 0.1 = 1.8 for g = 3.
    const p = tf.variable(tf.scalar(2));
    const optimizer = signum({ learningRate: 0.1, weightDecay: 0.5, decoupledWeightDecay: true });
    const g = tf.scalar(3);
    optimizer.applyGradients({ [p.name]: g });
    expectClose(p.dataSync(), [1.8], 'decoupled step');
    expectClose(optimizer.getSlots(p.name)!.momentumBuffer!.dataSync(), [0.3], 'momentum');
    tf.dispose([g, p]);
    optimizer.dispose();
  });

  it('with momentum 0 is signSGD, p − lr·sign(g), and keeps no buffer', () => {
    const { start, after, buffers } = trajectory({ momentum: 0, learningRate: 0.25 }, gradientsOf(9), 10);
    const p = start.map((x) => Float64Array.from(x));
    after.forEach((values, step) => {
      gradientsOf(9)(step).forEach((g, i) => {
        for (let k = 0; k < g.length; k++) p[i]![k]! -= 0.25 * Math.sign(g[k]!);
        expectClose(values[i]!, p[i]!, `signSGD step ${step + 1}`);
      });
    });
    expect(buffers.every((b) => b === null)).toBe(true);
  });

  it('is invariant to the scale of the gradients without weight decay (bit for bit)', () => {
    const scaled = (step: number) => gradientsOf(4)(step).map((g) => g.map((x) => x * 64));
    expect(trajectory({ momentum: 0.7 }, scaled).after).toEqual(
      trajectory({ momentum: 0.7 }, gradientsOf(4)).after,
    );
  });

  it('is a tf.Optimizer registered under OptimkitSignum', () => {
    expect(new Signum()).toBeInstanceOf(tf.Optimizer);
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitSignum).toBeDefined();
  });
});

describeOptimizerConformance<SignumOptions>({
  name: 'signum',
  create: (options) => signum(options),
  optionSets: [
    {},
    { momentum: 0.5, weightDecay: 0.01, decoupledWeightDecay: true },
    { paramGroups: [{ match: (v) => v.rank <= 1, momentum: 0, weightDecay: 0.1 }] },
  ],
  // Every element moves by lr per step whatever its gradient: decaying learning rates let it settle.
  quadratic: { options: { learningRate: (step) => 0.1 * 0.98 ** step }, steps: 400, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: (step) => 0.01 * 0.999 ** step }, steps: 3000, tolerance: 5e-2 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { momentum: -0.1 }, error: /Invalid momentum: -0.1/ },
    { options: { weightDecay: -1 }, error: /Invalid weightDecay: -1/ },
  ],
});
