import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('warms up, decays on a cosine, and reduces on plateau', () => {
  const result = runExample<{
    warmupCosine: [number, number][];
    cosineLoss: number[];
    plateauLearningRates: number[];
    config: { scheduleName: string; scheduleConfig: Record<string, number> };
  }>(fileURLToPath(new URL('..', import.meta.url)));
  // 0 → 0.05 linearly over 4 steps, then ½·0.05·(1 + cos(π·(t − 4)/16)) down to 0 at step 20.
  const expected = [0, 0.025, 0.05, 0.05 * 0.5 * (1 + Math.cos((Math.PI * 8) / 16)), 0];
  result.warmupCosine.forEach(([, value], i) => {
    expect(value).toBeCloseTo(expected[i]!, 12);
  });
  expect(result.cosineLoss.at(-1)).toBeLessThan(result.cosineLoss[0]!);
  const rates = result.plateauLearningRates;
  expect(rates).toHaveLength(12);
  expect(rates[0]).toBe(0.05);
  // Never rises, and halves at least once when the validation loss stalls.
  rates.slice(1).forEach((rate, i) => {
    expect(rate).toBeLessThanOrEqual(rates[i]!);
  });
  expect(Math.min(...rates)).toBeLessThanOrEqual(0.025);
  expect(result.config.scheduleName).toBe('warmupCosine');
  expect(result.config.scheduleConfig.peakValue).toBe(0.05);
});
