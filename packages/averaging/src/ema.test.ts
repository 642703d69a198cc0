import { adamw } from '@optimkit/adam';
import { sgd } from '@optimkit/sgd';
import { applyGradientValues, expectClose, makeVariables } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Ema, ema } from './index.js';
import {
  adamwReference,
  describeWrapperConformance,
  emaReference,
  rankAtMostOne,
  runWrappedGolden,
  sgdReference,
} from './test-support.js';

/** timm ModelEmaV3.get_decay with the step of the t-th update (docs/algorithms/averaging.md#ema). */
const timmDecay = (decay: number, gamma: number, power: number, minDecay: number) => (t: number) => {
  const step = Math.max(0, t - 1);
  if (step <= 0) return 0;
  return Math.max(Math.min(1 - (1 + step / gamma) ** -power, decay), minDecay);
};

describe('ema', () => {
  describe('matches a float64 reference over 40 steps on ranks 0–3', () => {
    it('around sgd with momentum and weight decay, decay 0.9, a group (ranks 0–1) with decay 0.5', () => {
      runWrappedGolden({
        seed: 21,
        steps: 40,
        create: () =>
          new Ema({
            inner: 'OptimkitSGD',
            learningRate: 0.05,
            momentum: 0.9,
            weightDecay: 0.01,
            decay: 0.9,
            paramGroups: [{ match: rankAtMostOne, decay: 0.5, learningRate: 0.1 }],
          }),
        inner: (i) => sgdReference({ learningRate: i <= 1 ? 0.1 : 0.05, momentum: 0.9, weightDecay: 0.01 }),
        averaging: (i) => emaReference(() => (i <= 1 ? 0.5 : 0.9)),
        slot: 'emaWeights',
        innerSlots: ['momentumBuffer'],
      });
    });

    it('around adamw with timm’s warmup (decay 0.99, γ 2, power 3/4, minDecay 0.1)', () => {
      runWrappedGolden({
        seed: 23,
        steps: 40,
        create: () =>
          ema(adamw({ learningRate: 0.01 }), {
            decay: 0.99,
            warmup: true,
            warmupGamma: 2,
            warmupPower: 0.75,
            minDecay: 0.1,
          }),
        inner: () =>
          adamwReference({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 }),
        averaging: () => emaReference(timmDecay(0.99, 2, 0.75, 0.1)),
        slot: 'emaWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
      });
    });

    it('counts each variable’s own updates when some steps give it no gradient (warmup)', () => {
      runWrappedGolden({
        seed: 24,
        steps: 40,
        create: () => ema(adamw({ learningRate: 0.02 }), { decay: 0.95, warmup: true }),
        inner: () =>
          adamwReference({ learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 }),
        averaging: () => emaReference(timmDecay(0.95, 1, 2 / 3, 0)),
        slot: 'emaWeights',
        innerSlots: ['expAvg', 'expAvgSq'],
        skip: (index, step) => index === 1 && step % 4 === 2,
      });
    });
  });

  it('first steps by hand: sgd(lr 0.1), p₀ = 1, decay 0.5, without and with warmup', () => {
    const [p, q] = makeVariables('emaHand', [[], []], [[1], [1]]) as [tf.Variable, tf.Variable];
    const plain = ema(sgd({ learningRate: 0.1 }), { decay: 0.5 });
    const warm = ema(sgd({ learningRate: 0.1 }), { decay: 0.5, warmup: true });
    // t = 1, g = 1: θ = 0.9; plain: avg = 0.5·1 + 0.5·0.9 = 0.95; warmup: d = 0, avg = 0.9.
    applyGradientValues(plain, [p], [[1]]);
    applyGradientValues(warm, [q], [[1]]);
    expectClose(p.dataSync(), [0.9], 'θ after step 1');
    expectClose(plain.getSlots(p.name)!.emaWeights!.dataSync(), [0.95], 'avg after step 1');
    expectClose(warm.getSlots(q.name)!.emaWeights!.dataSync(), [0.9], 'warm avg after step 1');
    // t = 2, g = 2: θ = 0.7; plain: avg = 0.5·0.95 + 0.5·0.7 = 0.825;
    // warmup: d = 1 − 2^(−2/3) = 0.370039…, avg = 0.370039·0.9 + 0.629961·0.7 = 0.774008.
    applyGradientValues(plain, [p], [[2]]);
    applyGradientValues(warm, [q], [[2]]);
    expectClose(plain.getSlots(p.name)!.emaWeights!.dataSync(), [0.825], 'avg after step 2');
    const d = 1 - 2 ** (-2 / 3);
    expect(d).toBeCloseTo(0.370039, 6);
    expectClose(
      warm.getSlots(q.name)!.emaWeights!.dataSync(),
      [d * 0.9 + (1 - d) * 0.7],
      'warm avg after step 2',
    );
    expect(d * 0.9 + (1 - d) * 0.7).toBeCloseTo(0.774008, 6);
    plain.dispose();
    warm.dispose();
    tf.dispose([p, q]);
  });

  describe('cross-equivalences', () => {
    const grads = Array.from({ length: 25 }, (_, t) => [
      Math.fround(Math.sin(t + 1)),
      Math.fround(Math.cos(3 * t)),
    ]);
    const run = (
      optimizer: tf.Optimizer & { getSlots(n: string): Readonly<Record<string, tf.Tensor>> | undefined },
    ) => {
      const [p] = makeVariables('emaEq', [[2]], [[0.5, -1.25]]) as [tf.Variable];
      const trace: { param: Float32Array; average?: Float32Array }[] = [];
      for (const g of grads) {
        applyGradientValues(optimizer, [p], [g]);
        trace.push({
          param: p.dataSync() as Float32Array,
          average: optimizer.getSlots(p.name)?.emaWeights?.dataSync() as Float32Array | undefined,
        });
      }
      optimizer.dispose();
      p.dispose();
      return trace;
    };

    it('the weights are the inner optimizer’s, bit for bit; with decay 0 the average is them too', () => {
      const inner = run(adamw({ learningRate: 0.05 }));
      const wrapped = run(ema(adamw({ learningRate: 0.05 }), { decay: 0 }));
      wrapped.forEach((w, t) => {
        expect(Array.from(w.param)).toEqual(Array.from(inner[t]!.param));
        expectClose(w.average!, inner[t]!.param, `average after step ${t + 1}`);
      });
    });
  });

  it('refuses an inner optimizer that is not optimkit’s or is a wrapper, and a bad decay, clearly', () => {
    expect(() => ema({} as never)).toThrow(/ema: the inner optimizer must be an optimkit optimizer/);
    expect(() => ema(ema(sgd()))).toThrow(/ema cannot wrap OptimkitEma/);
    expect(() => ema(sgd(), { decay: 1 })).toThrow('Invalid decay: 1');
  });
});

describeWrapperConformance(
  'ema',
  Ema,
  [
    {},
    { decay: 0.5, weightDecay: 0.01, paramGroups: [{ match: rankAtMostOne, decay: 0.2 }] },
    { inner: 'OptimkitAdamW', decay: 0.99, warmup: true, warmupGamma: 2, warmupPower: 0.75, minDecay: 0.05 },
  ],
  [
    { options: { decay: 1 }, error: 'Invalid decay: 1' },
    { options: { decay: -0.1 }, error: 'Invalid decay: -0.1' },
    { options: { warmupGamma: 0 }, error: 'Invalid warmupGamma: 0' },
    { options: { warmupPower: -1 }, error: 'Invalid warmupPower: -1' },
    { options: { decay: 0.9, minDecay: 0.95 }, error: 'Invalid minDecay: 0.95 (above decay 0.9)' },
    { options: { warmup: 'yes' }, error: "Option 'warmup' of OptimkitEma must be a boolean" },
    { options: { momentum: 1.5 }, error: 'Invalid momentum: 1.5' },
  ],
);
