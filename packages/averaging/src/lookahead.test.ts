import { adamw } from '@optimkit/adam';
import { sgd } from '@optimkit/sgd';
import { applyGradientValues, expectClose, makeVariables } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Lookahead, lookahead } from './index.js';
import {
  adamwReference,
  describeWrapperConformance,
  lookaheadReference,
  rankAtMostOne,
  runWrappedGolden,
  sgdReference,
} from './test-support.js';

describe('lookahead', () => {
  describe('matches a float64 reference over 40 steps on ranks 0–3', () => {
    it('around sgd with momentum and weight decay, k = 3, α = 0.5, a group with its own learning rate', () => {
      runWrappedGolden({
        seed: 11,
        steps: 40,
        create: () =>
          lookahead(
            sgd({
              learningRate: 0.05,
              momentum: 0.9,
              weightDecay: 0.01,
              paramGroups: [{ match: rankAtMostOne, learningRate: 0.02 }],
            }),
            { syncPeriod: 3 },
          ),
        inner: (i) => sgdReference({ learningRate: i <= 1 ? 0.02 : 0.05, momentum: 0.9, weightDecay: 0.01 }),
        averaging: () => lookaheadReference(3, 0.5),
        slot: 'slowWeights',
        innerSlots: ['momentumBuffer'],
      });
    });

    it('around adamw with the defaults (k = 5, α = 0.5)', () => {
      runWrappedGolden({
        seed: 12,
        steps: 40,
        create: () => lookahead(adamw({ learningRate: 0.01, weightDecay: 0.1 })),
        inner: () =>
          adamwReference({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 }),
        averaging: () => lookaheadReference(5, 0.5),
        slot: 'slowWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
      });
    });

    it('counts each variable’s own updates when some steps give it no gradient', () => {
      runWrappedGolden({
        seed: 13,
        steps: 40,
        create: () => lookahead(adamw({ learningRate: 0.02 }), { syncPeriod: 4, slowStepSize: 0.8 }),
        inner: () =>
          adamwReference({ learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 }),
        averaging: () => lookaheadReference(4, 0.8),
        slot: 'slowWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
        skip: (index, step) => index === 2 && step % 3 === 1,
      });
    });
  });

  it('first steps by hand: sgd(lr 0.1, momentum 0.9), k = 2, α = 0.5, p₀ = 1', () => {
    const [p] = makeVariables('lookaheadHand', [[]], [[1]]) as [tf.Variable];
    const optimizer = lookahead(sgd({ learningRate: 0.1, momentum: 0.9 }), { syncPeriod: 2 });
    // t = 1: buf = 1, θ = 1 − 0.1·1 = 0.9; no sync, φ = θ₀ = 1.
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(p.dataSync(), [0.9], 'θ after step 1');
    expectClose(optimizer.getSlots(p.name)!.slowWeights!.dataSync(), [1], 'φ after step 1');
    // t = 2: buf = 0.9·1 + 0.5 = 1.4, θ = 0.9 − 0.14 = 0.76; sync: φ = 1 + 0.5·(0.76 − 1) = 0.88 = θ.
    applyGradientValues(optimizer, [p], [[0.5]]);
    expectClose(p.dataSync(), [0.88], 'θ after step 2');
    expectClose(optimizer.getSlots(p.name)!.slowWeights!.dataSync(), [0.88], 'φ after step 2');
    // t = 3: buf = 0.9·1.4 + 1 = 2.26, θ = 0.88 − 0.226 = 0.654; φ stays 0.88.
    applyGradientValues(optimizer, [p], [[1]]);
    expectClose(p.dataSync(), [0.654], 'θ after step 3');
    expectClose(optimizer.getSlots(p.name)!.momentumBuffer!.dataSync(), [2.26], 'buffer after step 3');
    optimizer.dispose();
    p.dispose();
  });

  describe('cross-equivalences', () => {
    const grads = Array.from({ length: 30 }, (_, t) => [
      Math.fround(Math.sin(t + 1)),
      Math.fround(Math.cos(2 * t)),
    ]);
    const run = (
      optimizer: tf.Optimizer,
      each?: (t: number, values: Float32Array) => void,
    ): Float32Array[] => {
      const [p] = makeVariables('lookaheadEq', [[2]], [[0.5, -1.25]]) as [tf.Variable];
      const trace: Float32Array[] = [];
      grads.forEach((g, t) => {
        applyGradientValues(optimizer, [p], [g]);
        trace.push(p.dataSync() as Float32Array);
        each?.(t + 1, trace.at(-1)!);
      });
      optimizer.dispose();
      p.dispose();
      return trace;
    };

    it('slowStepSize 1 is the inner optimizer', () => {
      const inner = run(adamw({ learningRate: 0.05 }));
      const wrapped = run(lookahead(adamw({ learningRate: 0.05 }), { syncPeriod: 3, slowStepSize: 1 }));
      wrapped.forEach((w, t) => {
        expectClose(w, inner[t]!, `step ${t + 1}`);
      });
    });

    it('syncPeriod 1 with α around plain sgd(lr) is sgd(α·lr)', () => {
      const plain = run(sgd({ learningRate: 0.04 }));
      const wrapped = run(lookahead(sgd({ learningRate: 0.1 }), { syncPeriod: 1, slowStepSize: 0.4 }));
      wrapped.forEach((w, t) => {
        expectClose(w, plain[t]!, `step ${t + 1}`);
      });
    });

    it('slowStepSize 0 brings the weights back to the initial ones, bit for bit, every k steps', () => {
      let synced = 0;
      run(lookahead(adamw({ learningRate: 0.05 }), { syncPeriod: 4, slowStepSize: 0 }), (t, values) => {
        if (t % 4 !== 0) {
          expect(Array.from(values)).not.toEqual([0.5, -1.25]);
          return;
        }
        expect(Array.from(values)).toEqual([0.5, -1.25]);
        synced += 1;
      });
      expect(synced).toBe(7);
    });
  });

  describe('refuses bad input, changing nothing', () => {
    it('an inner optimizer that is not optimkit’s, or not fresh', () => {
      expect(() => lookahead(tf.train.sgd(0.1) as never)).toThrow(
        /lookahead: the inner optimizer must be an optimkit optimizer/,
      );
      const [p] = makeVariables('lookaheadUsed', [[2]], [[1, 2]]) as [tf.Variable];
      const used = sgd({ learningRate: 0.1 });
      applyGradientValues(used, [p], [[1, 1]]);
      expect(() => lookahead(used)).toThrow(
        /must be fresh, but it has taken 1 steps and holds state for 1 variables/,
      );
      expect(used.iterations).toBe(1);
      expect(used.variableSteps().get(p.name)).toBe(1);
      used.dispose();
      p.dispose();
    });

    it('a wrapper as the inner optimizer, options the inner gives, a schedule for syncPeriod', () => {
      expect(() => lookahead(lookahead(sgd()))).toThrow(/lookahead cannot wrap OptimkitLookahead/);
      expect(() => lookahead(sgd(), { inner: 'OptimkitAdam' } as never)).toThrow(
        /Option 'inner' of lookahead comes from the inner optimizer/,
      );
      expect(() => lookahead(sgd(), { syncPeriod: (() => 3) as never })).toThrow(
        /Option 'syncPeriod' in options of OptimkitLookahead must be a number, not a schedule/,
      );
      expect(() => new Lookahead({ inner: 'OptimkitNothing' })).toThrow(
        /the inner optimizer 'OptimkitNothing' is not registered/,
      );
    });
  });

  it('is a tf.Optimizer registered as OptimkitLookahead whose config names the inner optimizer', () => {
    const optimizer = lookahead(sgd({ learningRate: 0.1, momentum: 0.5 }), { syncPeriod: 7 });
    expect(optimizer).toBeInstanceOf(Lookahead);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitLookahead');
    expect(tf.serialization.SerializationMap.getMap().classNameMap.OptimkitLookahead?.[0]).toBe(Lookahead);
    expect(optimizer.getConfig()).toMatchObject({
      inner: 'OptimkitSGD',
      learningRate: 0.1,
      momentum: 0.5,
      syncPeriod: 7,
      slowStepSize: 0.5,
    });
    optimizer.dispose();
  });
});

describeWrapperConformance(
  'lookahead',
  Lookahead,
  [
    {},
    {
      syncPeriod: 2,
      slowStepSize: 0.3,
      weightDecay: 0.01,
      paramGroups: [{ match: rankAtMostOne, learningRate: 0.01 }],
    },
    { inner: 'OptimkitAdamW', syncPeriod: 3, slowStepSize: 0.7 },
  ],
  [
    { options: { syncPeriod: 0 }, error: 'Invalid syncPeriod: 0 (an integer ≥ 1)' },
    { options: { syncPeriod: 2.5 }, error: 'Invalid syncPeriod: 2.5 (an integer ≥ 1)' },
    { options: { slowStepSize: 1.5 }, error: 'Invalid slowStepSize: 1.5' },
    { options: { slowStepSize: -0.1 }, error: 'Invalid slowStepSize: -0.1' },
    { options: { inner: 42 }, error: "Option 'inner' of OptimkitLookahead must be the className" },
  ],
);
