import { describe, expect, it } from 'vitest';
import { MAX_STREAMED_SLOTS, streamArena } from './wasm-stream.js';

// The bandwidth reference must really read and write every element it is credited with.
describe('WebAssembly stream reference', () => {
  for (let k = 0; k <= MAX_STREAMED_SLOTS; k += 1) {
    it(`reads p, g and ${k} slot(s) and writes p and the slots, element by element`, () => {
      const n = 1003; // not a multiple of 4: the last vector is padded
      const arena = streamArena(4 * (n + 4) * (k + 2), k + 2);
      const p = arena.allocate(n).fill(1);
      const g = arena.allocate(n);
      for (let i = 0; i < n; i += 1) g[i] = i / n;
      const slots = Array.from({ length: k }, (_, j) => arena.allocate(n).fill(j + 1));
      arena.stream(p, g, slots);
      for (const i of [0, 1, 2, 3, 500, n - 1]) {
        const gi = Math.fround(i / n);
        const xs = slots.map((_, j) => Math.fround(Math.fround(0.9 * (j + 1)) + Math.fround(0.1 * gi)));
        xs.forEach((x, j) => {
          expect(slots[j]![i]).toBeCloseTo(x, 6);
        });
        const step = k === 0 ? gi : xs.reduce((a, b) => a + b, 0);
        expect(p[i]).toBeCloseTo(1 - 1e-3 * step, 6);
      }
    });
  }

  it('refuses an array beyond its memory', () => {
    const arena = streamArena(64, 1);
    arena.allocate(16);
    expect(() => arena.allocate(1 << 20)).toThrow(/full/);
  });
});
