import { describe, expect, it } from 'vitest';
import {
  coinciding,
  formatSummary,
  maxRelativeDifference,
  standardDeviation,
  summarize,
  withinNoise,
} from './stats.js';

describe('statistics over seeds', () => {
  it('mean and sample standard deviation', () => {
    // values 1, 2, 3, 6: mean 3, squared deviations 4 + 1 + 0 + 9 = 14, over n − 1 = 3
    expect(summarize([1, 2, 3, 6])).toEqual({ mean: 3, std: Math.sqrt(14 / 3), n: 4 });
    expect(standardDeviation([5])).toBeNaN();
    expect(formatSummary(summarize([0.9, 0.92]), 2, 100)).toBe('91.00 ± 1.41');
    expect(formatSummary(summarize([0.9]), 2, 100)).toBe('90.00');
  });

  it('within noise: a difference under twice the standard error of the difference', () => {
    const best = summarize([0.93, 0.94, 0.95]); // mean 0.94, std 0.01, se 0.01/√3
    const close = summarize([0.925, 0.935, 0.945]); // 0.005 below: se of the difference 0.00816
    const far = summarize([0.9, 0.91, 0.92]); // 0.03 below
    expect(withinNoise(best, close, 1500)).toBe(true);
    expect(withinNoise(best, far, 1500)).toBe(false);
    // One seed: the binomial error of 1,500 digits, √(0.94 · 0.06 / 1500) ≈ 0.0061 each
    expect(withinNoise(summarize([0.94]), summarize([0.93]), 1500)).toBe(true);
    expect(withinNoise(summarize([0.94]), summarize([0.91]), 1500)).toBe(false);
  });

  it('finds the series that coincide, and only those', () => {
    expect(maxRelativeDifference([1, 2], [1, 2.002])).toBeCloseTo(0.001 / 1.001, 12);
    expect(maxRelativeDifference([1, 2], [1])).toBe(Number.POSITIVE_INFINITY);
    expect(maxRelativeDifference([1, Number.NaN], [1, Number.NaN])).toBe(Number.POSITIVE_INFINITY);
    const groups = coinciding(
      [
        { name: 'a', values: [1, 0.5, 0.25] },
        { name: 'b', values: [2, 1, 0.5] },
        { name: 'c', values: [1, 0.5, 0.2501] },
        { name: 'd', values: [1, 0.6, 0.25] },
      ],
      1e-3,
    );
    expect(groups).toEqual([{ names: ['a', 'c'], maxDifference: expect.closeTo(0.0001 / 0.2501, 9) }]);
  });
});
