import {
  describeOptimizerConformance,
  float32Values,
  runGolden,
  seededRandom,
  traceSteps,
} from '@optimkit/testing';
import { describe, expect, it } from 'vitest';
import { type QHMOptions, qhm } from './index.js';

const shapes = [[], [5], [3, 4], [2, 3, 2]];
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** qhoptim's QHM in float64, written from the paper's update. */
function reference(o: { learningRate: number; beta: number; nu: number; weightDecay: number }) {
  return (p: Float64Array, grad: Float64Array, { state }: { state: Record<string, Float64Array> }) => {
    state.buffer ??= new Float64Array(p.length);
    const b = state.buffer;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i]! + o.weightDecay * p[i]!;
      b[i] = o.beta * b[i]! + (1 - o.beta) * g;
      p[i] = p[i]! - o.learningRate * o.nu * b[i]! - o.learningRate * (1 - o.nu) * g;
    }
  };
}

describe('qhm', () => {
  const cases = [
    { learningRate: 0.05, beta: 0.9, nu: 0.7, weightDecay: 0 },
    { learningRate: 0.02, beta: 0.999, nu: 1, weightDecay: 0.1 },
    { learningRate: 0.1, beta: 0.5, nu: 0, weightDecay: 0.01 },
  ];
  for (const [index, options] of cases.entries()) {
    it(`matches a float64 reference over 40 steps on ranks 0–3: ${JSON.stringify(options)}`, () => {
      const random = seededRandom(100 + index);
      const { worst } = runGolden({
        shapes,
        initial: shapes.map((s) => float32Values(random, size(s), 2)),
        gradients: () => shapes.map((s) => float32Values(random, size(s))),
        create: () => qhm(options),
        reference: reference(options),
        steps: 40,
        slots: (_index, state) => ({ momentumBuffer: state.buffer! }),
        exactSlots: true,
      });
      expect(worst).toBeLessThanOrEqual(1);
    });
  }

  it('takes hand-derived steps', () => {
    // lr 0.1, β 0.5, ν 0.5; p₀ = 1, g₁ = 2: b₁ = 0.5·2 = 1, p₁ = 1 − 0.05·1 − 0.05·2 = 0.85.
    // g₂ = −1: b₂ = 0.5·1 + 0.5·(−1) = 0, p₂ = 0.85 − 0 − 0.05·(−1) = 0.9.
    const [p1, p2] = traceSteps(qhm({ learningRate: 0.1, beta: 0.5, nu: 0.5 }), [1], [[2], [-1]]);
    expect(p1![0]).toBeCloseTo(0.85, 6);
    expect(p2![0]).toBeCloseTo(0.9, 6);
  });
});

describeOptimizerConformance<QHMOptions>({
  name: 'qhm',
  create: (options) => qhm(options),
  optionSets: [
    {},
    {
      learningRate: 0.01,
      nu: 0.5,
      weightDecay: 0.1,
      paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }],
    },
  ],
  quadratic: { options: { learningRate: 0.1, beta: 0.9 }, steps: 300, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: 1e-3, beta: 0.9 }, steps: 5000, tolerance: 1e-2 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta: 1 }, error: /Invalid beta: 1/ },
    { options: { nu: 1.5 }, error: /Invalid nu: 1.5/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});
