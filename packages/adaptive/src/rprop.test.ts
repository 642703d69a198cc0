import { describeOptimizerConformance, type FixtureCase, replayFixture } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import fixtures from './fixtures/rprop.json' with { type: 'json' };
import { checkMemory, expectClose, type ReferenceStep, runAdaptiveGolden, steps } from './golden-inputs.js';
import { Rprop, type RpropOptions, rprop } from './rprop.js';

interface RpropHyper {
  learningRate: number;
  etaMinus: number;
  etaPlus: number;
  stepSizeMin: number;
  stepSizeMax: number;
}
const DEFAULTS: RpropHyper = {
  learningRate: 1e-2,
  etaMinus: 0.5,
  etaPlus: 1.2,
  stepSizeMin: 1e-6,
  stepSizeMax: 50,
};

/** torch.optim.Rprop's `_single_tensor_rprop`, elementwise in float64. */
function rpropReference(h: RpropHyper): ReferenceStep {
  let prev: Float64Array | null = null;
  let stepSize: Float64Array | null = null;
  return (p, g) => {
    prev ??= new Float64Array(p.length);
    stepSize ??= new Float64Array(p.length).fill(h.learningRate);
    for (let k = 0; k < p.length; k++) {
      const agreement = g[k]! * prev[k]!;
      const factor = agreement > 0 ? h.etaPlus : agreement < 0 ? h.etaMinus : 1;
      stepSize[k] = Math.min(Math.max(stepSize[k]! * factor, h.stepSizeMin), h.stepSizeMax);
      const gk = agreement < 0 ? 0 : g[k]!;
      p[k]! -= Math.sign(gk) * stepSize[k]!;
      prev[k] = gk;
    }
  };
}

describe('rprop', () => {
  describe(`matches real torch.optim.Rprop (torch ${fixtures.torch}, float64) over ${fixtures.steps} steps on ranks 0–3`, () => {
    // Regenerate with `/usr/bin/python3 tooling/torch-fixtures/generate.py` from the repository root.
    for (const fixture of fixtures.cases as FixtureCase[]) {
      it(fixture.title, () => {
        const worst = replayFixture(fixture, (options) => rprop(options as RpropOptions), {
          prev: 'prev',
          stepSize: 'step_size',
        });
        expect(worst).toBeLessThanOrEqual(1);
      });
    }
  });

  describe('matches an independent float64 reference over 60 steps on ranks 0–3', () => {
    const cases: [string, Partial<RpropHyper>][] = [
      ['defaults', {}],
      ['tight step-size bounds', { learningRate: 0.1, stepSizeMin: 0.02, stepSizeMax: 0.3 }],
      ['slow growth and sharp shrinking', { learningRate: 0.003, etaMinus: 0.1, etaPlus: 1.05 }],
    ];
    cases.forEach(([title, options], index) => {
      it(title, async () => {
        const h = { ...DEFAULTS, ...options };
        await runAdaptiveGolden({
          create: () => rprop(options),
          reference: () => rpropReference(h),
          steps: 60,
          seed: 300 + index,
          // A missing gradient leaves the variable and its state (prev, step sizes) as they are.
          skip: (i, step) => i === 2 && step % 9 === 4,
        });
      });
    });
  });

  it('takes the first steps derived by hand', async () => {
    // η₀ = lr = 0.01, prev₀ = 0.
    // 1: g = 0.5,  g·prev = 0 → f = 1:     η = 0.01,  p = 1 − 0.01 = 0.99,       prev = 0.5
    // 2: g = 0.3,  g·prev > 0 → f = 1.2:   η = 0.012, p = 0.99 − 0.012 = 0.978,  prev = 0.3
    // 3: g = −0.2, g·prev < 0 → f = 0.5:   η = 0.006, g := 0, p = 0.978,         prev = 0
    // 4: g = −0.4, g·prev = 0 → f = 1:     η = 0.006, p = 0.978 + 0.006 = 0.984, prev = −0.4
    // 5: g = 0,    g·prev = 0 → f = 1:     η = 0.006, sign(0) = 0: p = 0.984
    // 6: g = −1,   g·prev = 0 (prev = 0):  η = 0.006, p = 0.984 + 0.006 = 0.99
    const got = await steps(rprop(), [1], [[0.5], [0.3], [-0.2], [-0.4], [0], [-1]]);
    expectClose(
      got.map(([x]) => x!),
      [0.99, 0.978, 0.978, 0.984, 0.984, 0.99],
    );
  });

  it('clamps the step size to [stepSizeMin, stepSizeMax], the first one included', async () => {
    // η = clamp(0.5, 0, 0.2) = 0.2 at once; then 0.2·1.2 = 0.24 → 0.2; a flip halves it: 0.1.
    const optimizer = rprop({ learningRate: 0.5, stepSizeMin: 0.15, stepSizeMax: 0.2 });
    const got = await steps(optimizer, [0], [[1], [1], [-1], [-1]]);
    // p: −0.2, −0.4, −0.4 (flip: no step, η = max(0.1, 0.15) = 0.15), then −0.4 + 0.15 = −0.25.
    expectClose(
      got.map(([x]) => x!),
      [-0.2, -0.4, -0.4, -0.25],
    );
  });

  it('with constant-sign gradients moves by lr·Σ etaPlus^k (a geometric series), whatever their size', async () => {
    const start = [1, -1];
    const gradients = Array.from({ length: 12 }, (_, t) => [1e-3 * (t + 1), -50 / (t + 1)]);
    const got = await steps(rprop({ learningRate: 0.01, etaPlus: 1.5 }), start, gradients);
    got.forEach((values, t) => {
      const travelled = (0.01 * (1.5 ** (t + 1) - 1)) / 0.5;
      expectClose(values, [1 - travelled, -1 + travelled]);
    });
  });

  it('with stepSizeMin = stepSizeMax = c is sign descent p − c·sign(g) while no sign flips', async () => {
    const gradients = [
      [0.2, -3, 0],
      [1e-4, -0.1, 0],
      [7, -1e-3, 0],
    ];
    const got = await steps(
      rprop({ learningRate: 1, stepSizeMin: 0.05, stepSizeMax: 0.05 }),
      [0, 0, 2],
      gradients,
    );
    expectClose(got.flat(), [-0.05, 0.05, 2, -0.1, 0.1, 2, -0.15, 0.15, 2]);
  });

  it('keeps its state in two float32 slots per variable (prev, stepSize) with no leak', () => {
    // 2 variables × 2 slots, all created on the first step.
    expect(checkMemory(() => rprop())).toBe(4);
  });

  it('is a tf.Optimizer registered under OptimkitRprop', () => {
    expect(new Rprop()).toBeInstanceOf(tf.Optimizer);
    expect(Rprop.className).toBe('OptimkitRprop');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitRprop).toBeDefined();
  });
});

describeOptimizerConformance<RpropOptions>({
  name: 'rprop',
  create: (options) => rprop(options),
  optionSets: [
    {},
    { learningRate: 0.05, etaMinus: 0.3, etaPlus: 1.5, stepSizeMin: 0.001, stepSizeMax: 1 },
    { paramGroups: [{ match: (v) => v.rank >= 2, learningRate: 0.1, stepSizeMax: 0.5 }] },
  ],
  // Measured on Rosenbrock: 7.1e-6 after 3000 steps.
  quadratic: { options: { learningRate: 0.01 }, steps: 200, tolerance: 1e-8 },
  rosenbrock: { options: { learningRate: 1e-3 }, steps: 3000, tolerance: 1e-5 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { etaMinus: 1 }, error: /Invalid eta values: 1, 1.2/ },
    { options: { etaMinus: 0 }, error: /Invalid eta values: 0, 1.2/ },
    { options: { etaPlus: 1 }, error: /Invalid eta values: 0.5, 1/ },
    { options: { etaPlus: Number.POSITIVE_INFINITY }, error: /Invalid eta values: 0.5, Infinity/ },
    { options: { stepSizeMin: -1e-6 }, error: /Invalid stepSizeMin: -0.000001/ },
    { options: { stepSizeMin: 1, stepSizeMax: 0.5 }, error: /Invalid step sizes: 1, 0.5/ },
    { options: { stepSizeMax: Number.NaN }, error: /Invalid stepSizeMax: NaN/ },
  ],
});
