import { describe, expect, it } from 'vitest';
import { cosineDecay } from './cosine-decay.js';
import { scheduleFromConfig } from './from-config.js';
import { join } from './join.js';
import { linear } from './polynomial.js';
import { reduceOnPlateau } from './reduce-on-plateau.js';
import { swaLearningRate } from './swa-learning-rate.js';
import { expectClose } from './test-helpers.js';

describe('swaLearningRate', () => {
  it('anneals from a constant to swaLearningRate on a cosine over annealSteps, then holds (by hand)', () => {
    const s = swaLearningRate({ before: 0.1, swaLearningRate: 0.02, annealSteps: 4 });
    // α(k) = (1 − cos(πk/4)) / 2: 0, (1 − √½)/2, ½, (1 + √½)/2, 1
    const alpha = [0, (1 - Math.SQRT1_2) / 2, 0.5, (1 + Math.SQRT1_2) / 2, 1];
    alpha.forEach((a, k) => {
      expectClose(s(k), 0.02 * a + 0.1 * (1 - a));
    });
    expect(s(4)).toBe(0.02);
    expect(s(1e9)).toBe(0.02);
    expectClose(s(2), 0.06);
  });

  it('runs the schedule before until swaStart, then anneals linearly from its value there', () => {
    const decay = cosineDecay({ initValue: 0.1, decaySteps: 20 });
    const s = swaLearningRate({
      before: decay,
      swaStart: 10,
      swaLearningRate: 0.01,
      annealSteps: 5,
      anneal: 'linear',
    });
    for (let t = 0; t <= 10; t++) expect(s(t)).toBe(decay(t));
    const start = decay(10); // 0.05
    expectClose(start, 0.05);
    for (let k = 0; k <= 5; k++) expectClose(s(10 + k), start + (0.01 - start) * (k / 5));
    expect(s(15)).toBe(0.01);
    expect(s(30)).toBe(0.01);
  });

  it('jumps at swaStart with annealSteps 0; defaults to swaStart 0, 10 cosine steps', () => {
    const jump = swaLearningRate({ before: 0.1, swaStart: 3, swaLearningRate: 0.05, annealSteps: 0 });
    expect([0, 1, 2, 3, 4].map(jump)).toEqual([0.1, 0.1, 0.1, 0.05, 0.05]);
    const s = swaLearningRate({ before: 0.1, swaLearningRate: 0.05 });
    expect(s.scheduleConfig).toEqual({
      before: 0.1,
      swaStart: 0,
      swaLearningRate: 0.05,
      annealSteps: 10,
      anneal: 'cos',
    });
    expect(s(0)).toBe(0.1);
    expectClose(s(5), 0.075);
    expect(s(10)).toBe(0.05);
  });

  it('saves a schedule before it by name and config and is rebuilt from them, a join included', () => {
    const warmupCosine = join(
      [
        linear({ initValue: 0, endValue: 0.1, transitionSteps: 3 }),
        cosineDecay({ initValue: 0.1, decaySteps: 20 }),
      ],
      [3],
    );
    const s = swaLearningRate({ before: warmupCosine, swaStart: 12, swaLearningRate: 0.02, annealSteps: 6 });
    expect(s.scheduleConfig.before).toEqual({
      scheduleName: 'join',
      scheduleConfig: warmupCosine.scheduleConfig,
    });
    const rebuilt = scheduleFromConfig(
      JSON.parse(JSON.stringify({ scheduleName: s.scheduleName, scheduleConfig: s.scheduleConfig })),
    );
    for (let t = 0; t < 30; t++) expect(rebuilt(t)).toBe(s(t));
  });

  it('a plain function before works but cannot be rebuilt; a stateful one is refused', () => {
    const s = swaLearningRate({
      before: (t: number) => 0.1 / (1 + t),
      swaStart: 4,
      swaLearningRate: 0.01,
      annealSteps: 2,
    });
    expectClose(s(3), 0.025);
    expectClose(s(4), 0.02);
    expect(s.scheduleConfig.before).toEqual({ scheduleName: 'custom', scheduleConfig: null });
    expect(() =>
      scheduleFromConfig({ scheduleName: s.scheduleName, scheduleConfig: s.scheduleConfig }),
    ).toThrow(/swaLearningRate: before was a plain function, which cannot be saved; make the schedule again/);
    const plateau = reduceOnPlateau({ initValue: 0.1 });
    expect(() => swaLearningRate({ before: plateau.schedule, swaLearningRate: 0.01 })).toThrow(
      /swaLearningRate: before must not be stateful \(reduceOnPlateau\)/,
    );
  });

  it('rejects invalid arguments, naming the option', () => {
    const ok = { before: 0.1, swaLearningRate: 0.05 };
    expect(() => swaLearningRate({ swaLearningRate: 0.05 } as never)).toThrow(
      /missing required option 'before'/,
    );
    expect(() => swaLearningRate({ before: 0.1 } as never)).toThrow(
      /missing required option 'swaLearningRate'/,
    );
    expect(() => swaLearningRate({ ...ok, swaLearningRate: -1 })).toThrow(
      /swaLearningRate: invalid swaLearningRate: -1/,
    );
    expect(() => swaLearningRate({ ...ok, before: -0.1 })).toThrow(/invalid before: -0.1/);
    expect(() => swaLearningRate({ ...ok, before: 'cosine' as never })).toThrow(
      /before must be a number, got "cosine"/,
    );
    expect(() => swaLearningRate({ ...ok, annealSteps: -1 })).toThrow(/invalid annealSteps: -1/);
    expect(() => swaLearningRate({ ...ok, annealSteps: 2.5 })).toThrow(/invalid annealSteps: 2.5/);
    expect(() => swaLearningRate({ ...ok, swaStart: -3 })).toThrow(/invalid swaStart: -3/);
    expect(() => swaLearningRate({ ...ok, anneal: 'cosine' as never })).toThrow(
      /invalid anneal: "cosine" \(must be one of 'cos', 'linear'\)/,
    );
    expect(() => swaLearningRate({ ...ok, swa_lr: 0.1 } as never)).toThrow(/unknown option 'swa_lr'/);
    expect(() => swaLearningRate({ ...ok, before: () => Number.NaN })).toThrow(
      /swaLearningRate: before\(0\) is NaN, not the finite value in effect at swaStart/,
    );
  });
});
