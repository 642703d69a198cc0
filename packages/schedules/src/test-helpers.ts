import { expect } from 'vitest';

/** Expects `actual` to equal `expected` up to a relative error of `rel` (absolute near 0). */
export function expectClose(actual: number, expected: number, rel = 1e-12): void {
  const tolerance = rel * Math.max(1, Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tolerance)) {
    expect.fail(`expected ${actual} to be within ${tolerance} of ${expected}`);
  }
}
