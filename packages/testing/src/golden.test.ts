import { describe, expect, it } from 'vitest';
import { expectClose, float32Values, goldenTolerance, seededRandom } from './golden.js';

describe('golden building blocks', () => {
  it('seededRandom is deterministic per seed and uniform in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    expect(c()).not.toBe(first[0]);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first)).toBeLessThan(1);
    const mean = first.reduce((s, x) => s + x, 0) / first.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it('float32Values are exact in float32 and within [−scale, scale)', () => {
    const values = float32Values(seededRandom(1), 500, 3);
    for (const x of values) {
      expect(Math.fround(x)).toBe(x);
      expect(Math.abs(x)).toBeLessThanOrEqual(3);
    }
  });

  it('goldenTolerance is 1e-6 + 2e-4·|x|', () => {
    expect(goldenTolerance(0)).toBe(1e-6);
    expect(goldenTolerance(-10)).toBeCloseTo(1e-6 + 2e-3, 15);
  });

  it('expectClose passes within the tolerance and names the first element outside it', () => {
    expect(expectClose([1 + 1e-4, 0], [1, 0], 'ok')).toBeLessThanOrEqual(1);
    expect(() => expectClose([1, 0, 5e-6], [1, 0, 0], 'v')).toThrow(/v\[2\]: got 0.000005, expected 0/);
    expect(() => expectClose([Number.NaN], [0], 'nan')).toThrow(/nan\[0\]/);
    expect(() => expectClose([1, 2], [1], 'short')).toThrow(/short: length/);
  });
});
