import { expect, it } from 'vitest';
import { resumeExample } from './resume-example.js';

it('trains, saves, restores with loadOptimizer and continues bit-identically', async () => {
  const report = await resumeExample(6);
  expect(report.lossAtSave).toBeLessThan(report.lossBefore);
  expect(report.lossAfter).toBeLessThan(report.lossAtSave);
  expect(report.identicalToUninterrupted).toBe(true);
});
