import { describe, expect, it } from 'vitest';
import { cyclic } from './cyclic.js';
import { expectClose } from './test-helpers.js';

describe('cyclic', () => {
  it('rises and falls on a triangle, by hand (base 1, max 5, up 2, down 4)', () => {
    const s = cyclic({ baseValue: 1, maxValue: 5, stepSizeUp: 2, stepSizeDown: 4 });
    // L = 6, up ratio 1/3: t = 1 → x = 1/6, h = ½ → 1 + 4·½ = 3; t = 2 → apex 5;
    // t = 3 → x = ½, h = (½ − 1)/(⅓ − 1) = ¾ → 4; t = 5 → h = ¼ → 2; t = 6 → base again.
    const expected = [1, 3, 5, 4, 3, 2, 1, 3, 5];
    expected.forEach((v, t) => {
      expectClose(s(t), v);
    });
  });

  it('triangular2 halves the amplitude each cycle; exp_range scales it by gamma^t', () => {
    const halving = cyclic({ baseValue: 0, maxValue: 8, stepSizeUp: 2, mode: 'triangular2' });
    // cycle 1: 0, 4, 8, 4; cycle 2 (amplitude 4): 0, 2, 4, 2; cycle 3: 0, 1, 2, 1
    [0, 4, 8, 4, 0, 2, 4, 2, 0, 1, 2, 1].forEach((v, t) => {
      expectClose(halving(t), v);
    });
    const ranged = cyclic({ baseValue: 1, maxValue: 2, stepSizeUp: 2, mode: 'exp_range', gamma: 0.5 });
    expectClose(ranged(1), 1 + 0.5 * 0.5); // h ½, gamma¹
    expectClose(ranged(2), 1 + 0.25); // apex, gamma²
    expectClose(ranged(6), 1 + 0.5 ** 6); // apex of cycle 2
  });

  it('defaults to PyTorch: stepSizeUp 2000, stepSizeDown = stepSizeUp, triangular, gamma 1', () => {
    const s = cyclic({ baseValue: 0.001, maxValue: 0.006 });
    expect(s.scheduleName).toBe('cyclic');
    expect(s.scheduleConfig).toEqual({
      baseValue: 0.001,
      maxValue: 0.006,
      stepSizeUp: 2000,
      stepSizeDown: 2000,
      mode: 'triangular',
      gamma: 1,
    });
    expect(s(0)).toBe(0.001);
    expectClose(s(2000), 0.006);
    expectClose(s(4000), 0.001);
    expectClose(s(1000), 0.0035);
  });

  it('cycles for ever: finite at step 1e9, triangular2 and exp_range settle at baseValue', () => {
    const plain = cyclic({ baseValue: 0.1, maxValue: 0.2, stepSizeUp: 3, stepSizeDown: 7 });
    expectClose(plain(1e9), 0.1); // 1e9 is a multiple of 10
    expectClose(plain(1e9 + 3), 0.2);
    expect(cyclic({ baseValue: 0.1, maxValue: 0.2, stepSizeUp: 3, mode: 'triangular2' })(1e9 + 3)).toBe(0.1);
    expect(
      cyclic({ baseValue: 0.1, maxValue: 0.2, stepSizeUp: 3, mode: 'exp_range', gamma: 0.99 })(1e9 + 3),
    ).toBe(0.1);
  });

  it('rejects invalid arguments, naming the option', () => {
    const ok = { baseValue: 0.001, maxValue: 0.006 };
    expect(() => cyclic({ ...ok, stepSizeUp: 0 })).toThrow(
      /cyclic: invalid stepSizeUp: 0 \(must be an integer > 0\)/,
    );
    expect(() => cyclic({ ...ok, stepSizeUp: 2.5 })).toThrow(/invalid stepSizeUp: 2.5/);
    expect(() => cyclic({ ...ok, stepSizeDown: -1 })).toThrow(/invalid stepSizeDown: -1/);
    expect(() => cyclic({ ...ok, baseValue: -1 })).toThrow(/invalid baseValue: -1/);
    expect(() => cyclic({ ...ok, maxValue: Number.NaN })).toThrow(/invalid maxValue: NaN/);
    expect(() => cyclic({ ...ok, mode: 'expRange' as never })).toThrow(
      /cyclic: invalid mode: "expRange" \(must be one of 'triangular', 'triangular2', 'exp_range'\)/,
    );
    expect(() => cyclic({ ...ok, mode: 'exp_range', gamma: 0 })).toThrow(/invalid gamma: 0 \(must be > 0\)/);
    expect(() => cyclic({ ...ok, gamma: 0.9 })).toThrow(
      /cyclic: invalid gamma: 0.9 \(only mode 'exp_range' uses gamma/,
    );
    expect(() => cyclic({ ...ok, max_lr: 1 } as never)).toThrow(/unknown option 'max_lr'/);
    expect(() => cyclic({ maxValue: 1 } as never)).toThrow(/missing required option 'baseValue'/);
    expect(() => cyclic(ok)(-1)).toThrow(/cyclic: invalid step: -1/);
  });
});
