import { describe, expect, it } from 'vitest';
import { exponential } from './exponential.js';
import { expectClose } from './test-helpers.js';

// Optax exponential_decay, written out independently.
function optaxExponential(
  init: number,
  steps: number,
  rate: number,
  begin: number,
  staircase: boolean,
  end: number | undefined,
  t: number,
): number {
  const d = t - begin;
  let p = d / steps;
  if (staircase) p = Math.floor(p);
  let v = d <= 0 ? init : init * rate ** p;
  if (end !== undefined) v = rate < 1 ? Math.max(v, end) : Math.min(v, end);
  return v;
}

describe('exponential', () => {
  const steps = [0, 1, 2, 3, 5, 6, 7, 9, 10, 11, 14, 1000];

  it('decays continuously after transitionBegin', () => {
    const s = exponential({ initValue: 1, transitionSteps: 4, decayRate: 0.5, transitionBegin: 2 });
    for (const t of steps) expectClose(s(t), optaxExponential(1, 4, 0.5, 2, false, undefined, t));
    expect(s(0)).toBe(1);
    expect(s(2)).toBe(1);
    expectClose(s(3), 0.5 ** 0.25);
    expectClose(s(6), 0.5);
    expectClose(s(10), 0.25);
  });

  it('decays in whole periods with staircase', () => {
    const s = exponential({
      initValue: 1,
      transitionSteps: 4,
      decayRate: 0.5,
      transitionBegin: 2,
      staircase: true,
    });
    for (const t of steps) expectClose(s(t), optaxExponential(1, 4, 0.5, 2, true, undefined, t));
    expect(s(5)).toBe(1);
    expect(s(6)).toBe(0.5);
    expect(s(9)).toBe(0.5);
    expect(s(10)).toBe(0.25);
  });

  it('stops at endValue (a floor when decaying, a ceiling when growing)', () => {
    const floor = exponential({
      initValue: 1,
      transitionSteps: 4,
      decayRate: 0.5,
      transitionBegin: 2,
      endValue: 0.3,
    });
    for (const t of steps) expectClose(floor(t), optaxExponential(1, 4, 0.5, 2, false, 0.3, t));
    expectClose(floor(6), 0.5);
    expect(floor(10)).toBe(0.3);
    expect(floor(1e9)).toBe(0.3);
    const ceiling = exponential({
      initValue: 1,
      transitionSteps: 4,
      decayRate: 2,
      transitionBegin: 2,
      endValue: 3,
    });
    for (const t of steps) expectClose(ceiling(t), optaxExponential(1, 4, 2, 2, false, 3, t));
    expectClose(ceiling(6), 2);
    expect(ceiling(10)).toBe(3);
  });

  it('without endValue keeps decaying past any end', () => {
    const s = exponential({ initValue: 1, transitionSteps: 1, decayRate: 0.5 });
    expect(s(60)).toBe(0.5 ** 60);
  });

  it('equals PyTorch ExponentialLR(gamma) with transitionSteps 1', () => {
    const s = exponential({ initValue: 0.1, transitionSteps: 1, decayRate: 0.9 });
    for (let t = 0; t <= 10; t++) expectClose(s(t), 0.1 * 0.9 ** t);
  });

  it('stores its options, without endValue when none was given', () => {
    expect(exponential({ initValue: 1, transitionSteps: 4, decayRate: 0.5 }).scheduleConfig).toEqual({
      initValue: 1,
      transitionSteps: 4,
      decayRate: 0.5,
      transitionBegin: 0,
      staircase: false,
    });
    expect(
      exponential({ initValue: 1, transitionSteps: 4, decayRate: 0.5, endValue: 0.1 }).scheduleConfig,
    ).toMatchObject({
      endValue: 0.1,
    });
  });

  it('rejects invalid arguments', () => {
    const ok = { initValue: 1, transitionSteps: 4, decayRate: 0.5 };
    expect(() => exponential({ ...ok, transitionSteps: 0 })).toThrow(
      /exponential: invalid transitionSteps: 0/,
    );
    expect(() => exponential({ ...ok, transitionSteps: 1.5 })).toThrow(RangeError);
    expect(() => exponential({ ...ok, decayRate: 0 })).toThrow(/invalid decayRate: 0/);
    expect(() => exponential({ ...ok, decayRate: -0.5 })).toThrow(RangeError);
    expect(() => exponential({ ...ok, initValue: -1 })).toThrow(/invalid initValue: -1 \(must be ≥ 0\)/);
    expect(() => exponential({ ...ok, transitionBegin: -2 })).toThrow(/invalid transitionBegin: -2/);
    expect(() => exponential({ ...ok, endValue: -0.1 })).toThrow(/invalid endValue: -0.1/);
    expect(() => exponential({ ...ok, endValue: 2 })).toThrow(
      /invalid endValue: 2 \(must be ≤ initValue \(1\)/,
    );
    expect(() => exponential({ ...ok, decayRate: 2, endValue: 0.5 })).toThrow(/must be ≥ initValue/);
    expect(() => exponential({ ...ok, staircase: 1 as never })).toThrow(/staircase must be a boolean/);
  });
});
