import {
  describeOptimizerConformance,
  expectClose,
  type FixtureCase,
  float32Values,
  replayFixture,
  seededRandom,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import fixtures from './fixtures/asgd.json' with { type: 'json' };
import { ASGD, type ASGDOptions, asgd, sgd } from './index.js';

interface Hyper {
  learningRate: number;
  lambd: number;
  alpha: number;
  t0: number;
  weightDecay: number;
}
const DEFAULTS: Hyper = { learningRate: 1e-2, lambd: 1e-4, alpha: 0.75, t0: 1e6, weightDecay: 0 };

/** torch.optim.ASGD's `_single_tensor_asgd` in float64, with eta and mu kept as state, as torch does. */
function asgdReference(n: number) {
  const state = { step: 0, eta: Number.NaN, mu: 1, ax: new Float64Array(n) };
  return {
    state,
    step(p: Float64Array, g: Float64Array, h: Hyper) {
      if (state.step === 0) state.eta = h.learningRate;
      state.step += 1;
      for (let i = 0; i < n; i++) {
        const gi = g[i]! + h.weightDecay * p[i]!;
        p[i] = p[i]! * (1 - h.lambd * state.eta) - state.eta * gi;
        state.ax[i] = state.mu !== 1 ? state.ax[i]! + (p[i]! - state.ax[i]!) * state.mu : p[i]!;
      }
      state.eta = h.learningRate / (1 + h.lambd * h.learningRate * state.step) ** h.alpha;
      state.mu = 1 / Math.max(1, state.step - h.t0);
    },
  };
}

const shapes = [[], [4], [3, 5], [2, 3, 4]];

describe('asgd', () => {
  describe(`matches real torch.optim.ASGD (torch ${fixtures.torch}, float64) over ${fixtures.steps} steps on ranks 0–3`, () => {
    // Regenerate with `/usr/bin/python3 tooling/torch-fixtures/generate.py` from the repository root.
    for (const fixture of fixtures.cases as FixtureCase[]) {
      it(fixture.title, () => {
        expect(
          replayFixture(fixture, (options) => asgd(options as ASGDOptions), { ax: 'ax' }),
        ).toBeLessThanOrEqual(1);
      });
      it(`${fixture.title}: torch's stored eta and mu are the closed forms at the next step`, () => {
        const steps = fixture.grads.length;
        fixture.shapes.forEach((shape, i) => {
          const h = { ...DEFAULTS, ...fixture.options, ...(shape.length <= 1 ? fixture.smallGroup : {}) };
          const t = steps + 1;
          const eta = h.learningRate / (1 + h.lambd * h.learningRate * (t - 1)) ** h.alpha;
          const mu = 1 / Math.max(1, t - 1 - h.t0);
          expect(fixture.state[i]!.eta![0]).toBeCloseTo(eta, 14);
          expect(fixture.state[i]!.mu![0]).toBeCloseTo(mu, 14);
        });
      });
    }
  });

  const optionSets: Partial<Hyper>[] = [
    {},
    { learningRate: 0.1, lambd: 0.02, alpha: 0.5, t0: 3, weightDecay: 0.05 },
    { learningRate: 0.05, lambd: 0.1, alpha: 1, t0: -10 },
  ];
  for (const options of optionSets) {
    it(`matches an independent float64 reference over 50 steps on ranks 0–3: ${JSON.stringify(options)}`, () => {
      const h = { ...DEFAULTS, ...options };
      const random = seededRandom(7);
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
      const reference = sizes.map((n) => float32Values(random, n, 2));
      const variables = reference.map((values, i) =>
        tf.variable(tf.tensor(Float32Array.from(values), shapes[i])),
      );
      const states = sizes.map((n) => asgdReference(n));
      const optimizer = asgd(options);
      for (let step = 0; step < 50; step++) {
        const grads = sizes.map((n) => float32Values(random, n, 1));
        const tensors = grads.map((g, i) => tf.tensor(Float32Array.from(g), shapes[i]));
        optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: tensors[i]! })));
        tf.dispose(tensors);
        grads.forEach((g, i) => {
          states[i]!.step(reference[i]!, g, h);
        });
        variables.forEach((v, i) => {
          expectClose(v.dataSync(), reference[i]!, `step ${step + 1}, rank ${shapes[i]!.length}`);
          expectClose(
            optimizer.getSlots(v.name)!.ax!.dataSync(),
            states[i]!.state.ax,
            `ax, step ${step + 1}`,
          );
        });
      }
      optimizer.dispose();
      tf.dispose(variables);
    });
  }

  it('takes the first steps derived by hand', () => {
    // lr 0.1, lambd 0.5, alpha 1, t0 0, g = 1 every step, p₀ = 1:
    // 1: η = 0.1, p = 1·(1 − 0.05) − 0.1 = 0.85; μ = 1: ax = 0.85
    // 2: η = 0.1/(1 + 0.5·0.1·1) = 0.0952381, p = 0.85·(1 − 0.047619) − 0.0952381 = 0.7142857;
    //    μ = 1/max(1, 1 − 0) = 1: ax = 0.7142857
    // 3: η = 0.1/1.1 = 0.0909091, p = 0.7142857·0.9545455 − 0.0909091 = 0.5909091;
    //    μ = 1/max(1, 2) = 0.5: ax = 0.7142857 + 0.5·(0.5909091 − 0.7142857) = 0.6525974
    const p = tf.variable(tf.scalar(1));
    const optimizer = asgd({ learningRate: 0.1, lambd: 0.5, alpha: 1, t0: 0 });
    const got: number[] = [];
    for (let step = 0; step < 3; step++) {
      const g = tf.scalar(1);
      optimizer.applyGradients({ [p.name]: g });
      g.dispose();
      got.push(p.dataSync()[0]!, optimizer.getSlots(p.name)!.ax!.dataSync()[0]!);
    }
    expectClose(got, [0.85, 0.85, 0.7142857, 0.7142857, 0.5909091, 0.6525974], 'hand steps');
    optimizer.dispose();
    p.dispose();
  });

  it('with lambd 0 is SGD at a constant learning rate, bit for bit (weight decay included)', () => {
    const random = seededRandom(3);
    const start = float32Values(random, 6, 1);
    const run = (optimizer: tf.Optimizer) => {
      const x = tf.variable(tf.tensor(Float32Array.from(start), [2, 3]));
      for (let step = 0; step < 20; step++) {
        const g = tf.tensor(Float32Array.from(float32Values(seededRandom(step), 6, 1)), [2, 3]);
        optimizer.applyGradients({ [x.name]: g });
        g.dispose();
      }
      const values = Array.from(x.dataSync());
      optimizer.dispose();
      x.dispose();
      return values;
    };
    expect(run(asgd({ learningRate: 0.05, lambd: 0, weightDecay: 0.1 }))).toEqual(
      run(sgd({ learningRate: 0.05, weightDecay: 0.1 })),
    );
  });

  it('with t0 0 and lambd 0 keeps ax the mean of the iterates from the second step on', () => {
    // μ = 1 on steps 1 and 2 (ax = p), then μ_t = 1/(t − 1): ax_t = ax_{t−1} + (p_t − ax_{t−1})/(t − 1),
    // the mean of p_2 … p_t.
    const x = tf.variable(tf.tensor1d([0]));
    const optimizer = asgd({ learningRate: 1, lambd: 0, t0: 0 });
    const iterates: number[] = [];
    const averages: number[] = [];
    for (let t = 1; t <= 6; t++) {
      const g = tf.tensor1d([-t]);
      optimizer.applyGradients({ [x.name]: g });
      g.dispose();
      iterates.push(x.dataSync()[0]!);
      averages.push(optimizer.getSlots(x.name)!.ax!.dataSync()[0]!);
    }
    // p_t = Σ_{k≤t} k: 1, 3, 6, 10, 15, 21.
    expect(iterates).toEqual([1, 3, 6, 10, 15, 21]);
    // ax: 1, 3, then 3 + (6 − 3)/2 = 4.5, 4.5 + (10 − 4.5)/3 = 6.3333, 6.3333 + (15 − 6.3333)/4 = 8.5,
    // 8.5 + (21 − 8.5)/5 = 11.
    expectClose(averages, [1, 3, 4.5, 6.333333, 8.5, 11], 'averages');
    optimizer.dispose();
    x.dispose();
  });

  it('is a tf.Optimizer registered under OptimkitASGD', () => {
    expect(new ASGD()).toBeInstanceOf(tf.Optimizer);
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitASGD).toBeDefined();
  });
});

describeOptimizerConformance<ASGDOptions>({
  name: 'asgd',
  create: (options) => asgd(options),
  optionSets: [
    {},
    { learningRate: 0.05, lambd: 0.01, t0: 2, weightDecay: 0.01 },
    { paramGroups: [{ match: (v) => v.rank >= 2, t0: 0, alpha: 1 }] },
  ],
  // lambd shrinks the parameters even under a zero gradient (as in PyTorch), so the options the
  // suite's zero-gradient check starts from turn it off; Rosenbrock runs with the default.
  quadratic: { options: { learningRate: 0.1, lambd: 0 }, steps: 300, tolerance: 1e-8 },
  rosenbrock: { options: { learningRate: 1e-3 }, steps: 3000, tolerance: 1e-1 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { lambd: -1e-4 }, error: /Invalid lambd: -0.0001/ },
    { options: { alpha: -0.75 }, error: /Invalid alpha: -0.75/ },
    { options: { t0: Number.NaN }, error: /Invalid t0: NaN/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});
