import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('saves a model with its adamw state, loads it and resumes bit-identically', () => {
  const result = runExample<{
    optimizer: string;
    lossAtSave: number;
    lossAfter: number;
    bitIdentical: boolean;
    weights: number;
  }>(fileURLToPath(new URL('..', import.meta.url)));
  expect(result.optimizer).toBe('OptimkitAdamW');
  expect(result.weights).toBe(4 * 16 + 16 + 16 * 3 + 3);
  expect(result.lossAfter).toBeLessThan(result.lossAtSave);
  expect(result.bitIdentical).toBe(true);
});
