import { sgd } from '@optimkit/sgd';
import { describeOptimizerConformance, expectClose, float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ScheduleFreeSgd, type ScheduleFreeSgdOptions, scheduleFreeSgd } from './index.js';
import {
  applyStep,
  GOLDEN_SHAPES,
  type GoldenCase,
  makeVariables,
  type ReferenceHyper,
  runGoldenCase,
  sizeOf,
} from './test-support.js';

const referenceDefaults: ReferenceHyper = {
  kind: 'sgd',
  learningRate: 1,
  beta: 0.9,
  beta2: 0,
  epsilon: 0,
  weightDecay: 0,
  warmupSteps: 0,
  r: 0,
  weightLrPower: 2,
  innerMomentum: 0,
};

const shapes = GOLDEN_SHAPES;
const SEED = 61;
const STEPS = 40;

type Case = GoldenCase<ScheduleFreeSgdOptions>;

const cases: Case[] = [
  { title: 'the reference defaults (lr 1, momentum 0.9)', options: {}, hyper: () => referenceDefaults },
  {
    title: 'warmup, weight decay, polynomial weighting and momentum 0.5',
    options: {
      learningRate: 0.1,
      warmupSteps: 10,
      weightDecay: 0.05,
      r: 2,
      weightLrPower: 0.5,
      momentum: 0.5,
    },
    hyper: () => ({
      ...referenceDefaults,
      learningRate: 0.1,
      warmupSteps: 10,
      weightDecay: 0.05,
      r: 2,
      weightLrPower: 0.5,
      beta: 0.5,
    }),
  },
  {
    title: 'a scheduled learning rate and momentum 0.3 (lerp weights on both sides of ½)',
    options: { learningRate: (s) => 0.05 * (1 + Math.sin(s / 3)), momentum: 0.3, weightLrPower: 0 },
    hyper: (completed) => ({
      ...referenceDefaults,
      learningRate: 0.05 * (1 + Math.sin(completed / 3)),
      beta: 0.3,
      weightLrPower: 0,
    }),
  },
];

const create = (options: ScheduleFreeSgdOptions) => scheduleFreeSgd(options);

describe('scheduleFreeSgd', () => {
  describe(`matches a float64 reference over ${STEPS} steps on ranks 0–3 (y, z, v, and x after eval())`, () => {
    cases.forEach((c, index) => {
      it(c.title, () => {
        runGoldenCase(create, c, SEED + index, STEPS);
      });
    });
  });

  it('derives the first steps by hand', () => {
    // y₀ = z₀ = 2, lr 0.5, momentum 0.9, r 0, weightLrPower 2: weight = 0.25 every step.
    // Step 1, g = 1: W = 0.25, c = 1; y₁ = lerp(2, 2, 1) + 0.5·(0.9·0 − 1)·1 = 1.5; z₁ = 2 − 0.5 = 1.5
    // Step 2, g = −2: W = 0.5, c = ½; y₂ = lerp(1.5, 1.5, ½) + 0.5·(0.9·½ − 1)·(−2) = 1.5 + 0.55 = 2.05
    //   z₂ = 1.5 + 1 = 2.5;  x₂ = (y₂ − 0.1·z₂)/0.9 = (2.05 − 0.25)/0.9 = 2 = (z₁ + z₂)/2
    // Step 3, g = 4: W = 0.75, c = ⅓; lerp(2.05, 2.5, ⅓) = 2.2; y₃ = 2.2 + 0.5·(0.9·⅔ − 1)·4 = 2.2 − 0.8 = 1.4
    //   z₃ = 2.5 − 2 = 0.5;  x₃ = (1.4 − 0.05)/0.9 = 1.5 = (1.5 + 2.5 + 0.5)/3
    const [p] = makeVariables([[1]], [Float64Array.of(2)]);
    const optimizer = scheduleFreeSgd({ learningRate: 0.5 });
    applyStep(optimizer, [p!], [Float64Array.of(1)]);
    expectClose(p!.dataSync(), [1.5], 'y₁');
    applyStep(optimizer, [p!], [Float64Array.of(-2)]);
    expectClose(p!.dataSync(), [2.05], 'y₂');
    applyStep(optimizer, [p!], [Float64Array.of(4)]);
    expectClose(p!.dataSync(), [1.4], 'y₃');
    expectClose(optimizer.getSlots(p!.name)!.z!.dataSync(), [0.5], 'z₃');
    optimizer.eval();
    expectClose(p!.dataSync(), [1.5], 'x₃');
    optimizer.train();
    expectClose(p!.dataSync(), [1.4], 'y₃ again');
    optimizer.dispose();
    p!.dispose();
  });

  it('z is plain SGD, and x after eval() is the running average of the z iterates (r 0, no warmup)', () => {
    const random = seededRandom(17);
    const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
    const free = makeVariables(shapes, initial);
    const plain = makeVariables(shapes, initial);
    const sf = scheduleFreeSgd({ learningRate: 0.1, momentum: 0.8 });
    const descent = sgd({ learningRate: 0.1 });
    const sums = initial.map((p) => new Float64Array(p.length));
    const T = 25;
    for (let t = 0; t < T; t++) {
      const grads = shapes.map((s) => float32Values(random, sizeOf(s)));
      applyStep(sf, free, grads);
      applyStep(descent, plain, grads);
      plain.forEach((v, i) => {
        const z = sf.getSlots(free[i]!.name)!.z!.dataSync();
        expectClose(z, v.dataSync(), `step ${t + 1}: z ≡ SGD`);
        v.dataSync().forEach((value, j) => {
          sums[i]![j] = sums[i]![j]! + value;
        });
      });
    }
    sf.eval();
    free.forEach((v, i) => {
      expectClose(
        v.dataSync(),
        sums[i]!.map((s) => s / T),
        `x of [${shapes[i]}]`,
      );
    });
    sf.dispose();
    descent.dispose();
    tf.dispose([...free, ...plain]);
  });

  it('is registered as OptimkitScheduleFreeSGD and refuses a step in eval mode', () => {
    const optimizer = scheduleFreeSgd();
    expect(optimizer).toBeInstanceOf(ScheduleFreeSgd);
    expect(optimizer.getClassName()).toBe('OptimkitScheduleFreeSGD');
    const [p] = makeVariables([[2]], [Float64Array.of(1, 1)]);
    applyStep(optimizer, [p!], [Float64Array.of(1, 1)]);
    optimizer.eval();
    expect(() => applyStep(optimizer, [p!], [Float64Array.of(1, 1)])).toThrow(/eval mode/);
    optimizer.dispose();
    p!.dispose();
  });

  describeOptimizerConformance<ScheduleFreeSgdOptions>({
    name: 'scheduleFreeSgd',
    create: (options) => scheduleFreeSgd(options),
    optionSets: [{}, { learningRate: 0.1, weightDecay: 0.01, warmupSteps: 3, r: 1 }],
    quadratic: { options: { learningRate: 0.5 }, steps: 300, tolerance: 1e-3 },
    rosenbrock: { options: { learningRate: 2e-3, warmupSteps: 20 }, steps: 3000, tolerance: 5e-2 },
    errorCases: [
      { options: { learningRate: -1 }, error: 'Invalid learning rate: -1' },
      { options: { momentum: 0 }, error: 'Momentum must be between 0 and 1 exclusive: 0' },
      { options: { momentum: 1 }, error: 'Momentum must be between 0 and 1 exclusive: 1' },
      { options: { weightDecay: -1 }, error: 'Invalid weightDecay: -1' },
      { options: { warmupSteps: 0.5 }, error: /Invalid warmupSteps: 0.5/ },
      { options: { r: Number.NaN }, error: 'Invalid r: NaN' },
    ],
  });
});
