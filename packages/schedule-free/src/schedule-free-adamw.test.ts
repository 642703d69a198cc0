import { adam } from '@optimkit/adam';
import { loadOptimizer } from '@optimkit/core';
import { describeOptimizerConformance, expectClose, float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ScheduleFreeAdamW, type ScheduleFreeAdamWOptions, scheduleFreeAdamW } from './index.js';
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
  kind: 'adamw',
  learningRate: 0.0025,
  beta: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 0,
  warmupSteps: 0,
  r: 0,
  weightLrPower: 2,
  innerMomentum: 0,
};

const shapes = GOLDEN_SHAPES;
const SEED = 41;
const STEPS = 40;

type Case = GoldenCase<ScheduleFreeAdamWOptions>;

// A learning rate that rises and falls: lr_max, the running maximum, is what the weights use.
const upAndDown = (s: number) => (s < 10 ? 0.01 * (s + 1) : 0.1 / (1 + 0.2 * (s - 9)));

const cases: Case[] = [
  { title: 'the reference defaults', options: {}, hyper: () => referenceDefaults },
  {
    title: 'warmup, polynomial weighting, weight-lr power 1, weight decay and beta1 0.8',
    options: {
      learningRate: 0.05,
      warmupSteps: 7,
      r: 1,
      weightLrPower: 1,
      weightDecay: 0.1,
      beta1: 0.8,
      beta2: 0.99,
    },
    hyper: () => ({
      ...referenceDefaults,
      learningRate: 0.05,
      warmupSteps: 7,
      r: 1,
      weightLrPower: 1,
      weightDecay: 0.1,
      beta: 0.8,
      beta2: 0.99,
    }),
  },
  {
    title: 'inner momentum, a rising and falling learning rate (lr_max), a short memory',
    options: { learningRate: upAndDown, innerMomentum: 0.9, beta2: 0.5, epsilon: 1e-3, r: 0.5 },
    hyper: (completed) => ({
      ...referenceDefaults,
      learningRate: upAndDown(completed),
      innerMomentum: 0.9,
      beta2: 0.5,
      epsilon: 1e-3,
      r: 0.5,
    }),
  },
];

const create = (options: ScheduleFreeAdamWOptions) => scheduleFreeAdamW(options);

describe('scheduleFreeAdamW', () => {
  describe(`matches a float64 reference over ${STEPS} steps on ranks 0–3 (y, z, v, and x after eval())`, () => {
    cases.forEach((c, index) => {
      it(c.title, () => {
        runGoldenCase(create, c, SEED + index, STEPS);
      });
    });
  });

  it('derives the first two steps by hand', () => {
    // One element, y₀ = 1, defaults (lr 0.0025, β1 0.9, β2 0.999, ε 1e-8, weightLrPower 2, r 0).
    // Step 1 (k = 0), g = 2: v = 0.001·4 = 0.004; √(v/(1 − 0.999)) = √4 = 2; d = 2/(2 + 1e-8) ≈ 1
    //   weight = 1·0.0025² = 6.25e-6 = W, c = 1: y ← lerp(1, z = 1, 1) + 0.0025·(0.9·0 − 1)·d
    //   y₁ = 1 − 0.0025·d₁ = z₁
    // Step 2 (k = 1), g = −1: v = 0.999·0.004 + 0.001·1 = 0.004996; bc₂ = 1 − 0.999² = 0.001999
    //   d₂ = −1/(√(0.004996/0.001999) + 1e-8);  W = 2·6.25e-6, c = 1/2
    //   y₂ = y₁ + ½(z₁ − y₁) + 0.0025·(0.9·½ − 1)·d₂ = y₁ − 0.001375·d₂;  z₂ = z₁ − 0.0025·d₂
    const [p] = makeVariables([[]], [Float64Array.of(1)]);
    const optimizer = scheduleFreeAdamW();
    applyStep(optimizer, [p!], [Float64Array.of(2)]);
    const d1 = 2 / (2 + 1e-8);
    const y1 = 1 - 0.0025 * d1;
    expectClose(p!.dataSync(), [y1], 'y₁');
    applyStep(optimizer, [p!], [Float64Array.of(-1)]);
    const d2 = -1 / (Math.sqrt(0.004996 / 0.001999) + 1e-8);
    expectClose(p!.dataSync(), [y1 - 0.001375 * d2], 'y₂');
    expectClose(optimizer.getSlots(p!.name)!.z!.dataSync(), [y1 - 0.0025 * d2], 'z₂');
    expectClose(optimizer.getSlots(p!.name)!.weightSum!.dataSync(), [2 * 0.0025 ** 2], 'W');
    // x = (y − 0.1·z)/0.9 = the average of z₁ and z₂ (c = 1, then ½).
    optimizer.eval();
    expectClose(p!.dataSync(), [(y1 + y1 - 0.0025 * d2) / 2], 'x₂ = (z₁ + z₂)/2');
    optimizer.dispose();
    p!.dispose();
  });

  it('with beta1 = 0 is y = z: Adam without momentum (beta1 0), bias-corrected, step for step', () => {
    // With β = 0, y ← lerp(y, z, c) − lr·d and z ← z − lr·d keep y = z from the first step, so y
    // follows z ← z − lr·g/(√(v/bc₂) + ε): Adam's step with β1 = 0 (m = g, bc₁ = 1).
    const random = seededRandom(5);
    const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
    const free = makeVariables(shapes, initial);
    const plain = makeVariables(shapes, initial);
    const a = scheduleFreeAdamW({ beta1: 0, learningRate: 0.01 });
    const b = adam({ beta1: 0, learningRate: 0.01 });
    for (let t = 0; t < 30; t++) {
      const grads = shapes.map((s) => float32Values(random, sizeOf(s)));
      applyStep(a, free, grads);
      applyStep(b, plain, grads);
      free.forEach((v, i) => {
        expectClose(v.dataSync(), plain[i]!.dataSync(), `step ${t + 1}, [${shapes[i]}]`);
      });
    }
    expect(() => a.eval()).toThrow(/needs an interpolation \(beta1 or momentum\) above 0/);
    a.dispose();
    b.dispose();
    tf.dispose([...free, ...plain]);
  });

  it('starts in train mode, refuses a step in eval mode (changing nothing), and train()/eval() are idempotent', () => {
    const [p] = makeVariables([[3]], [Float64Array.of(1, 2, 3)]);
    const optimizer = scheduleFreeAdamW({ learningRate: 0.1 });
    expect(optimizer.training).toBe(true);
    optimizer.eval(); // no state yet: nothing moves
    expect(Array.from(p!.dataSync())).toEqual([1, 2, 3]);
    optimizer.train();
    applyStep(optimizer, [p!], [Float64Array.of(1, -1, 0.5)]);
    applyStep(optimizer, [p!], [Float64Array.of(-1, -1, 0.5)]);
    optimizer.eval();
    const x = Array.from(p!.dataSync());
    optimizer.eval();
    expect(Array.from(p!.dataSync())).toEqual(x);
    expect(optimizer.training).toBe(false);
    expect(() => applyStep(optimizer, [p!], [Float64Array.of(1, 1, 1)])).toThrow(
      'OptimkitScheduleFreeAdamW is in eval mode (the variables hold the average x): call train() before stepping',
    );
    expect(Array.from(p!.dataSync())).toEqual(x);
    expect(optimizer.iterations).toBe(2);
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      optimizer.train();
      applyStep(optimizer, [p!], [Float64Array.of(0.1, 0.2, 0.3)]);
      optimizer.eval();
    }
    expect(tf.memory().numTensors).toBe(baseline);
    optimizer.dispose();
    p!.dispose();
  });

  it('saves the mode with the state: a state saved in eval mode loads in eval mode, and train() resumes', async () => {
    const random = seededRandom(9);
    const initial = shapes.map((s) => float32Values(random, sizeOf(s)));
    const grads = Array.from({ length: 6 }, () => shapes.map((s) => float32Values(random, sizeOf(s))));
    const run = makeVariables(shapes, initial);
    const straight = scheduleFreeAdamW({ learningRate: 0.05 });
    for (const g of grads) applyStep(straight, run, g);

    const saved = makeVariables(shapes, initial);
    const first = scheduleFreeAdamW({ learningRate: 0.05 });
    for (const g of grads.slice(0, 3)) applyStep(first, saved, g);
    first.eval();
    const bytes = await first.saveState();
    const layersWeights = await first.getWeights();
    const restored = (await loadOptimizer(bytes)) as ScheduleFreeAdamW;
    expect(restored).toBeInstanceOf(ScheduleFreeAdamW);
    expect(restored.training).toBe(false);
    expect(() => applyStep(restored, saved, grads[3]!)).toThrow(/eval mode/);
    restored.train();
    for (const g of grads.slice(3)) applyStep(restored, saved, g);
    saved.forEach((v, i) => {
      expectClose(v.dataSync(), run[i]!.dataSync(), `resumed [${shapes[i]}]`);
    });
    // Through tfjs-layers' weights too.
    const viaLayers = scheduleFreeAdamW({ learningRate: 0.05 });
    await viaLayers.setWeights(layersWeights);
    expect(viaLayers.training).toBe(false);
    for (const o of [straight, first, restored, viaLayers]) o.dispose();
    tf.dispose([...run, ...saved]);
  });

  it('is a tf.Optimizer registered as OptimkitScheduleFreeAdamW, with train() and eval()', () => {
    const optimizer = scheduleFreeAdamW();
    expect(optimizer).toBeInstanceOf(ScheduleFreeAdamW);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitScheduleFreeAdamW');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitScheduleFreeAdamW?.[0]).toBe(
      ScheduleFreeAdamW,
    );
    expect(typeof optimizer.train).toBe('function');
    optimizer.dispose();
  });

  describeOptimizerConformance<ScheduleFreeAdamWOptions>({
    name: 'scheduleFreeAdamW',
    create: (options) => scheduleFreeAdamW(options),
    optionSets: [{}, { innerMomentum: 0.9, weightDecay: 0.01, warmupSteps: 3, r: 1 }],
    quadratic: { options: { learningRate: 0.2, beta1: 0.9 }, steps: 500, tolerance: 1e-3 },
    rosenbrock: { options: { learningRate: 0.02, warmupSteps: 50 }, steps: 3000, tolerance: 1e-2 },
    errorCases: [
      { options: { learningRate: -1 }, error: 'Invalid learning rate: -1' },
      { options: { beta1: 1 }, error: 'Invalid beta1: 1' },
      { options: { beta2: -0.1 }, error: 'Invalid beta2: -0.1' },
      { options: { epsilon: -1 }, error: 'Invalid epsilon: -1' },
      { options: { weightDecay: -1 }, error: 'Invalid weightDecay: -1' },
      { options: { warmupSteps: 2.5 }, error: /Invalid warmupSteps: 2.5/ },
      { options: { warmupSteps: -1 }, error: /Invalid warmupSteps: -1/ },
      { options: { r: -1 }, error: 'Invalid r: -1' },
      { options: { weightLrPower: -2 }, error: 'Invalid weightLrPower: -2' },
      { options: { innerMomentum: 1 }, error: 'Invalid innerMomentum: 1' },
    ],
  });
});
