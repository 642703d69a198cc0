import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('warms up, decays on a cosine, and reduces on plateau', () => {
  const result = runExample<{
    warmupCosine: [number, number][];
    cosineLoss: number[];
    plateauLearningRates: number[];
    config: { scheduleName: string; scheduleConfig: Record<string, number> };
    warmupStableDecay: [number, number][];
    warmupStableDecayLoss: number[];
    cyclic: [number, number][];
    swaLearningRate: [number, number][];
    lambdaSchedule: [number, number, number][];
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

  // 0 → 0.05 over 2 steps, 0.05 on steps 2–13, then 0.05·(1 − √((t − 14)/6)), 0 from step 20.
  const wsd = [0, 0.025, 0.05, 0.05, 0.05, 0.05 * (1 - Math.sqrt(0.5)), 0];
  result.warmupStableDecay.forEach(([, value], i) => {
    expect(value).toBeCloseTo(wsd[i]!, 12);
  });
  expect(result.warmupStableDecayLoss.at(-1)).toBeLessThan(result.warmupStableDecayLoss[0]!);
  // triangular2 with up = down = 4: apex 0.006 at step 4, 0.0035 at step 12 (half the amplitude).
  const triangle = [0.001, 0.0035, 0.006, 0.001, 0.0035, 0.001];
  result.cyclic.forEach(([, value], i) => {
    expect(value).toBeCloseTo(triangle[i]!, 12);
  });
  // cosine 0.05 → 0 over 20 steps until step 10 (0.025), then cos anneal to 0.01 over 4 steps.
  const swa = [0.05, 0.025, 0.0175, 0.01, 0.01];
  result.swaLearningRate.forEach(([, value], i) => {
    expect(value).toBeCloseTo(swa[i]!, 12);
  });
  // 0.01 · min((t + 1)/4, √(4/(t + 1))): 0.0025 at 0, 0.01 at 3, 0.005 at 15; rebuilt identically.
  const noam = [0.0025, 0.01, 0.005];
  result.lambdaSchedule.forEach(([, value, again], i) => {
    expect(value).toBeCloseTo(noam[i]!, 12);
    expect(again).toBe(value);
  });
});
