import { adam, adamw } from '@optimkit/adam';
import { type Defaults, defineOptimizer, loadOptimizer, type OptimkitOptimizer } from '@optimkit/core';
import { sgd } from '@optimkit/sgd';
import {
  applyGradientValues,
  expectClose,
  float32Values,
  makeVariables,
  seededRandom,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type AveragingOptimizer, ema, lookahead, swa } from './index.js';
import { SHAPES } from './test-support.js';

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

const kinds: { name: string; slot: string; create: () => AveragingOptimizer }[] = [
  {
    name: 'lookahead',
    slot: 'slowWeights',
    create: () => lookahead(adam({ learningRate: 0.05 }), { syncPeriod: 3 }),
  },
  {
    name: 'ema',
    slot: 'emaWeights',
    create: () => ema(sgd({ learningRate: 0.05, momentum: 0.9 }), { decay: 0.8 }),
  },
  { name: 'swa', slot: 'swaWeights', create: () => swa(adamw({ learningRate: 0.05 }), { swaStart: 2 }) },
];

function gradients(seed: number, steps: number): Float64Array[][] {
  const random = seededRandom(seed);
  return Array.from({ length: steps }, () => SHAPES.map((s) => float32Values(random, sizeOf(s), 1)));
}

describe.each(kinds)('$name: useAverage() / useTraining()', ({ name, slot, create }) => {
  it('exchanges the weights and the copy, refuses steps meanwhile, changes nothing else and makes no tensor', async () => {
    const random = seededRandom(5);
    const variables = makeVariables(
      `${name}Swap`,
      SHAPES,
      SHAPES.map((s) => float32Values(random, sizeOf(s), 1)),
    );
    const grads = gradients(6, 12);
    const optimizer = create();
    for (let t = 0; t < 7; t++) applyGradientValues(optimizer, variables, grads[t]!);
    const training = variables.map(bits);
    const copies = variables.map((v) => bits(optimizer.getSlots(v.name)![slot]!));
    expect(copies).not.toEqual(training);
    const tensors = tf.memory().numTensors;

    expect(optimizer.usingAverage).toBe(false);
    optimizer.useAverage();
    expect(optimizer.usingAverage).toBe(true);
    expect(variables.map(bits)).toEqual(copies);
    expect(variables.map((v) => bits(optimizer.getSlots(v.name)![slot]!))).toEqual(training);
    expect(tf.memory().numTensors).toBe(tensors);
    optimizer.useAverage(); // a no-op
    expect(variables.map(bits)).toEqual(copies);

    const state = await optimizer.saveState();
    expect(() => applyGradientValues(optimizer, variables, grads[7]!)).toThrow(
      new RegExp(
        `the variables hold the ${slot} \\(useAverage\\(\\)\\); call useTraining\\(\\) before stepping`,
      ),
    );
    expect(optimizer.iterations).toBe(7);
    expect(variables.map(bits)).toEqual(copies);
    expect(await optimizer.saveState()).toEqual(state);

    optimizer.useTraining();
    expect(optimizer.usingAverage).toBe(false);
    expect(variables.map(bits)).toEqual(training);
    expect(variables.map((v) => bits(optimizer.getSlots(v.name)![slot]!))).toEqual(copies);
    optimizer.useTraining(); // a no-op
    expect(variables.map(bits)).toEqual(training);
    for (let t = 7; t < 12; t++) applyGradientValues(optimizer, variables, grads[t]!);
    expect(tf.memory().numTensors).toBe(tensors);
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('the averaged mode travels with saveState / loadOptimizer and getWeights / setWeights', async () => {
    const random = seededRandom(8);
    const initial = SHAPES.map((s) => float32Values(random, sizeOf(s), 1));
    const grads = gradients(9, 12);
    const straight = makeVariables(`${name}Straight`, SHAPES, initial);
    const reference = create();
    for (let t = 0; t < 12; t++) applyGradientValues(reference, straight, grads[t]!);
    const expected = straight.map(bits);
    reference.dispose();
    tf.dispose(straight);

    const variables = makeVariables(`${name}Saved`, SHAPES, initial);
    const first = create();
    for (let t = 0; t < 6; t++) applyGradientValues(first, variables, grads[t]!);
    first.useAverage();
    const averaged = variables.map((v) => tf.clone(v));
    const bytes = await first.saveState();
    const weights = await first.getWeights();
    const second = create();
    await second.setWeights(weights);
    first.dispose();

    const loaded = (await loadOptimizer(bytes)) as AveragingOptimizer;
    expect(loaded.getClassName()).toBe(second.getClassName());
    expect(loaded.usingAverage).toBe(true);
    expect(() => applyGradientValues(loaded, variables, grads[6]!)).toThrow(
      /call useTraining\(\) before stepping/,
    );
    loaded.useTraining();
    for (let t = 6; t < 12; t++) applyGradientValues(loaded, variables, grads[t]!);
    expect(variables.map(bits)).toEqual(expected);
    loaded.dispose();

    variables.forEach((v, i) => {
      v.assign(averaged[i]!);
    });
    expect(second.usingAverage).toBe(true);
    second.useTraining(variables);
    for (let t = 6; t < 12; t++) applyGradientValues(second, variables, grads[t]!);
    expect(variables.map(bits)).toEqual(expected);
    second.dispose();
    tf.dispose([...variables, ...averaged]);
  });
});

describe('restored state whose variables are gone', () => {
  it('refuses to swap, naming the variable, and changes nothing', async () => {
    const variables = makeVariables(
      'swapGone',
      SHAPES,
      SHAPES.map((s) => new Float64Array(sizeOf(s)).fill(0.25)),
    );
    const first = ema(sgd({ learningRate: 0.1 }), { decay: 0.5 });
    for (const g of gradients(3, 2)) applyGradientValues(first, variables, g);
    first.useAverage();
    const weights = await first.getWeights();
    const second = ema(sgd({ learningRate: 0.1 }), { decay: 0.5 });
    await second.setWeights(weights);
    first.dispose();
    tf.dispose(variables);
    expect(second.usingAverage).toBe(true);
    expect(() => second.useTraining()).toThrow(/no variable named 'swapGone\d+\/v0' is registered/);
    expect(second.usingAverage).toBe(true);
    expect(second.iterations).toBe(2);
    second.dispose();
  });
});

describe('an update-based inner optimizer gets the same wrapping in tfjs ops', () => {
  const PlainSgd = defineOptimizer({
    className: 'AveragingTestPlainSGD',
    packageName: 'averaging-tests',
    packageVersion: '0.0.0',
    defaults: { learningRate: 0.1 },
    update: ({ param, grad, h }) => ({ param: tf.sub(param, tf.mul(grad, h.learningRate)) }),
  });
  type Wrap = <D extends Defaults>(inner: OptimkitOptimizer<D>) => AveragingOptimizer;
  const cases: [string, Wrap, string][] = [
    ['lookahead', (inner) => lookahead(inner, { syncPeriod: 2, slowStepSize: 0.3 }), 'slowWeights'],
    ['ema', (inner) => ema(inner, { decay: 0.7, warmup: true }), 'emaWeights'],
    ['swa', (inner) => swa(inner, { swaStart: 3, swaFrequency: 2 }), 'swaWeights'],
  ];
  it.each(cases)('%s equals its rule-based twin around sgd', (_name, wrap, slot) => {
    const grads = gradients(4, 15);
    const a = makeVariables(
      'updateBased',
      SHAPES,
      SHAPES.map((s) => new Float64Array(sizeOf(s)).fill(0.5)),
    );
    const b = makeVariables(
      'ruleBased',
      SHAPES,
      SHAPES.map((s) => new Float64Array(sizeOf(s)).fill(0.5)),
    );
    const baseline = tf.memory().numTensors;
    const byUpdate = wrap(new PlainSgd({ learningRate: 0.1 }));
    const byRule = wrap(sgd({ learningRate: 0.1 }));
    expect(byUpdate.definition.update).toBeTypeOf('function');
    expect(byRule.definition.rule).toBeTypeOf('function');
    for (const g of grads) {
      applyGradientValues(byUpdate, a, g);
      applyGradientValues(byRule, b, g);
      a.forEach((v, i) => {
        expectClose(v.dataSync(), b[i]!.dataSync(), `variable ${i}`);
        expectClose(
          byUpdate.getSlots(v.name)![slot]!.dataSync(),
          byRule.getSlots(b[i]!.name)![slot]!.dataSync(),
          slot,
        );
      });
    }
    byUpdate.useAverage();
    byUpdate.useTraining();
    const after = tf.memory().numTensors;
    for (const g of grads) applyGradientValues(byUpdate, a, g);
    expect(tf.memory().numTensors).toBe(after);
    byUpdate.dispose();
    byRule.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose([...a, ...b]);
  });
});
