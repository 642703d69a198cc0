import { adamw } from '@optimkit/adam';
import { sgd } from '@optimkit/sgd';
import { applyGradientValues, expectClose, makeVariables } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Swa, swa } from './index.js';
import {
  adamwReference,
  describeWrapperConformance,
  rankAtMostOne,
  runWrappedGolden,
  sgdReference,
  swaReference,
} from './test-support.js';

describe('swa', () => {
  describe('matches a float64 reference over 40 steps on ranks 0–3', () => {
    it('around sgd with momentum and weight decay, from update 5 every 3, a group with its own learning rate', () => {
      runWrappedGolden({
        seed: 31,
        steps: 40,
        create: () =>
          swa(
            sgd({
              learningRate: 0.05,
              momentum: 0.9,
              weightDecay: 0.01,
              paramGroups: [{ match: rankAtMostOne, learningRate: 0.02 }],
            }),
            { swaStart: 5, swaFrequency: 3 },
          ),
        inner: (i) => sgdReference({ learningRate: i <= 1 ? 0.02 : 0.05, momentum: 0.9, weightDecay: 0.01 }),
        averaging: () => swaReference(5, 3),
        slot: 'swaWeights',
        innerSlots: ['momentumBuffer'],
      });
    });

    it('around adamw with the defaults (every update from the first), a learning rate by hand as SWALR would give', () => {
      // A stand-in for swaLearningRate of @optimkit/schedules: cosine from 0.02 down to 0.005 over 10 steps.
      const lr = (step: number) =>
        step >= 10 ? 0.005 : 0.005 + (0.02 - 0.005) * 0.5 * (1 + Math.cos((Math.PI * step) / 10));
      let step = 0;
      runWrappedGolden({
        seed: 32,
        steps: 40,
        create: () => swa(adamw({ learningRate: lr })),
        inner: () => {
          const inner = (h: number) =>
            adamwReference({
              learningRate: lr(h),
              beta1: 0.9,
              beta2: 0.999,
              epsilon: 1e-8,
              weightDecay: 0.01,
            });
          return (p, g, state, t) => {
            step = t - 1;
            inner(step)(p, g, state, t);
          };
        },
        averaging: () => swaReference(1, 1),
        slot: 'swaWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
      });
      expect(step).toBe(39);
    });

    it('counts each variable’s own updates when some steps give it no gradient', () => {
      runWrappedGolden({
        seed: 33,
        steps: 40,
        create: () => swa(adamw({ learningRate: 0.02 }), { swaStart: 3, swaFrequency: 2 }),
        inner: () =>
          adamwReference({ learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 }),
        averaging: () => swaReference(3, 2),
        slot: 'swaWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
        skip: (index, step) => index === 3 && step % 5 === 1,
      });
    });
  });

  it('first steps by hand: sgd(lr 0.1), p₀ = 1, g = 1, swaStart 2, swaFrequency 2', () => {
    const [p] = makeVariables('swaHand', [[]], [[1]]) as [tf.Variable];
    const optimizer = swa(sgd({ learningRate: 0.1 }), { swaStart: 2, swaFrequency: 2 });
    const average = () => optimizer.getSlots(p.name)!.swaWeights!.dataSync();
    // t = 1: θ = 0.9, before swaStart: the average holds θ₀ = 1 (torch's deep copy).
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(average(), [1], 'after 1');
    // t = 2: θ = 0.8, n = 1: avg = θ = 0.8.
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(average(), [0.8], 'after 2');
    // t = 3: θ = 0.7, not averaged.
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(average(), [0.8], 'after 3');
    // t = 4: θ = 0.6, n = 2: avg = 0.8 + (0.6 − 0.8)/2 = 0.7.
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(average(), [0.7], 'after 4');
    // t = 5, 6: θ = 0.5, 0.4; n = 3 at t = 6: avg = 0.7 + (0.4 − 0.7)/3 = 0.6.
    applyGradientValues(optimizer, [p], [[1]]);
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(average(), [0.6], 'after 6');
    expectClose(p.dataSync(), [0.4], 'θ after 6');
    optimizer.dispose();
    p.dispose();
  });

  describe('cross-equivalences', () => {
    it('the average of every iterate is the running mean of the inner optimizer’s iterates', () => {
      const grads = Array.from({ length: 30 }, (_, t) => [
        Math.fround(Math.sin(t + 1)),
        Math.fround(Math.cos(2 * t)),
      ]);
      const [a, b] = makeVariables(
        'swaMean',
        [[2], [2]],
        [
          [0.5, -1.25],
          [0.5, -1.25],
        ],
      ) as [tf.Variable, tf.Variable];
      const inner = adamw({ learningRate: 0.05 });
      const wrapped = swa(adamw({ learningRate: 0.05 }));
      const sum = [0, 0];
      grads.forEach((g, t) => {
        applyGradientValues(inner, [a], [g]);
        applyGradientValues(wrapped, [b], [g]);
        const values = a.dataSync();
        expect(Array.from(b.dataSync())).toEqual(Array.from(values));
        sum[0]! += values[0]!;
        sum[1]! += values[1]!;
        expectClose(
          wrapped.getSlots(b.name)!.swaWeights!.dataSync(),
          sum.map((s) => s / (t + 1)),
          `step ${t + 1}`,
        );
      });
      inner.dispose();
      wrapped.dispose();
      tf.dispose([a, b]);
    });

    it('the average of a constant sequence (learning rate 0) is that constant, bit for bit', () => {
      const [p] = makeVariables('swaConstant', [[3]], [[0.1, -7.3, 1e-3]]) as [tf.Variable];
      const optimizer = swa(sgd({ learningRate: 0, momentum: 0.9 }), { swaStart: 2, swaFrequency: 3 });
      const initial = Array.from(p.dataSync());
      for (let t = 0; t < 20; t++) applyGradientValues(optimizer, [p], [[1, -2, 3]]);
      expect(Array.from(optimizer.getSlots(p.name)!.swaWeights!.dataSync())).toEqual(initial);
      optimizer.dispose();
      p.dispose();
    });
  });

  it('refuses a schedule for swaStart or swaFrequency, and an inner optimizer that is not fresh', () => {
    expect(() => swa(sgd(), { swaStart: (() => 3) as never })).toThrow(
      /Option 'swaStart' in options of OptimkitSwa must be a number, not a schedule/,
    );
    expect(
      () => new Swa({ inner: 'OptimkitSGD', paramGroups: [{ params: ['x'], swaFrequency: () => 2 }] }),
    ).toThrow(/Option 'swaFrequency' in paramGroups\[0\] of OptimkitSwa must be a number, not a schedule/);
    const [p] = makeVariables('swaUsed', [[]], [[1]]) as [tf.Variable];
    const used = adamw();
    applyGradientValues(used, [p], [[1]]);
    expect(() => swa(used)).toThrow(/swa: the inner optimizer must be fresh/);
    used.dispose();
    p.dispose();
  });
});

describeWrapperConformance(
  'swa',
  Swa,
  [
    {},
    { swaStart: 2, swaFrequency: 2, weightDecay: 0.01, paramGroups: [{ match: rankAtMostOne, swaStart: 3 }] },
    { inner: 'OptimkitAdamW', swaStart: 3, swaFrequency: 1 },
  ],
  [
    { options: { swaStart: 0 }, error: 'Invalid swaStart: 0 (an integer ≥ 1)' },
    { options: { swaStart: 1.5 }, error: 'Invalid swaStart: 1.5 (an integer ≥ 1)' },
    { options: { swaFrequency: 0 }, error: 'Invalid swaFrequency: 0 (an integer ≥ 1)' },
  ],
);
