import { describe, expect, it } from 'vitest';
import { multiStep, stepDecay } from './step-decay.js';
import { expectClose } from './test-helpers.js';

describe('stepDecay', () => {
  it('multiplies by gamma every stepSize steps (PyTorch StepLR)', () => {
    const s = stepDecay({ initValue: 0.1, stepSize: 3, gamma: 0.5 });
    // base_lr · gamma^⌊t / step_size⌋
    for (const t of [0, 1, 2, 3, 4, 5, 6, 7, 299, 300]) expectClose(s(t), 0.1 * 0.5 ** Math.floor(t / 3));
    expect(s(0)).toBe(0.1);
    expect(s(2)).toBe(0.1);
    expect(s(3)).toBe(0.05);
    expect(s(5)).toBe(0.05);
    expect(s(6)).toBe(0.025);
  });

  it('defaults gamma to 0.1', () => {
    const s = stepDecay({ initValue: 1, stepSize: 2 });
    expect(s(1)).toBe(1);
    expectClose(s(2), 0.1);
    expectClose(s(4), 0.01);
    expect(s.scheduleConfig).toEqual({ initValue: 1, stepSize: 2, gamma: 0.1 });
  });

  it('rejects invalid arguments', () => {
    expect(() => stepDecay({ initValue: 1, stepSize: 0 })).toThrow(/stepDecay: invalid stepSize: 0/);
    expect(() => stepDecay({ initValue: 1, stepSize: 1.5 })).toThrow(RangeError);
    expect(() => stepDecay({ initValue: -1, stepSize: 2 })).toThrow(/invalid initValue: -1/);
    expect(() => stepDecay({ initValue: 1, stepSize: 2, gamma: -0.5 })).toThrow(/invalid gamma: -0.5/);
    expect(() => stepDecay({ initValue: 1 } as never)).toThrow(/missing required option 'stepSize'/);
  });
});

describe('multiStep', () => {
  // PyTorch closed form: base_lr · gamma^bisect_right(sorted(milestones), t)
  const bisectRight = (ms: number[], t: number) => ms.filter((m) => m <= t).length;

  it('multiplies by gamma at each milestone (PyTorch MultiStepLR)', () => {
    const milestones = [2, 5, 9];
    const s = multiStep({ initValue: 1, milestones, gamma: 0.5 });
    for (let t = 0; t <= 12; t++) expect(s(t)).toBe(0.5 ** bisectRight(milestones, t));
    expect(s(1)).toBe(1);
    expect(s(2)).toBe(0.5);
    expect(s(4)).toBe(0.5);
    expect(s(5)).toBe(0.25);
    expect(s(8)).toBe(0.25);
    expect(s(9)).toBe(0.125);
    expect(s(1e9)).toBe(0.125);
  });

  it('counts a repeated milestone twice, as PyTorch does', () => {
    const s = multiStep({ initValue: 1, milestones: [0, 3, 3], gamma: 0.1 });
    expectClose(s(0), 0.1);
    expectClose(s(2), 0.1);
    expectClose(s(3), 0.001);
  });

  it('copies its milestones', () => {
    const milestones = [2, 4];
    const s = multiStep({ initValue: 1, milestones });
    milestones[0] = 100;
    expectClose(s(2), 0.1);
    expect(s.scheduleConfig.milestones).toEqual([2, 4]);
  });

  it('rejects unsorted, negative or fractional milestones', () => {
    expect(() => multiStep({ initValue: 1, milestones: [5, 2] })).toThrow(
      /multiStep: invalid milestones: \[5, 2\] \(must be sorted in increasing order; milestones\[1\] = 2 follows 5\)/,
    );
    expect(() => multiStep({ initValue: 1, milestones: [-1, 2] })).toThrow(/invalid milestones\[0\]: -1/);
    expect(() => multiStep({ initValue: 1, milestones: [1.5] })).toThrow(/invalid milestones\[0\]: 1.5/);
    expect(() => multiStep({ initValue: 1, milestones: 3 as never })).toThrow(/milestones must be an array/);
    expect(() => multiStep({ initValue: 1, milestones: [2], gamma: -1 })).toThrow(/invalid gamma: -1/);
    expect(() => multiStep({ initValue: -1, milestones: [2] })).toThrow(/invalid initValue: -1/);
  });
});
