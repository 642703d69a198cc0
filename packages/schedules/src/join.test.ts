import { describe, expect, it } from 'vitest';
import { constant } from './constant.js';
import { join } from './join.js';
import { linear } from './polynomial.js';
import { reduceOnPlateau } from './reduce-on-plateau.js';

describe('join', () => {
  const a = (t: number) => 100 + t;
  const b = (t: number) => 200 + t;
  const c = (t: number) => 300 + t;

  it('switches at each boundary; a later schedule sees the steps since its boundary (Optax)', () => {
    const s = join([a, b, c], [3, 7]);
    const expected: [number, number][] = [
      [0, 100],
      [2, 102],
      [3, 200],
      [4, 201],
      [6, 203],
      [7, 300],
      [8, 301],
      [1000, 1293],
    ];
    for (const [t, v] of expected) expect(s(t), `step ${t}`).toBe(v);
  });

  it('with a boundary at 0 never uses the first schedule', () => {
    const s = join([a, b], [0]);
    expect(s(0)).toBe(200);
    expect(s(5)).toBe(205);
  });

  it('with a single schedule is that schedule', () => {
    const s = join([a], []);
    expect(s(0)).toBe(100);
    expect(s(42)).toBe(142);
  });

  it('is PyTorch SequentialLR: warmup, then constant', () => {
    const s = join([linear({ initValue: 0, endValue: 1, transitionSteps: 4 }), constant({ value: 1 })], [4]);
    expect([0, 1, 2, 3, 4, 5].map(s)).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
  });

  it('records its pieces and boundaries', () => {
    const s = join([linear({ initValue: 0, endValue: 1, transitionSteps: 4 }), a], [4]);
    expect(s.scheduleName).toBe('join');
    expect(s.scheduleConfig).toEqual({
      schedules: [
        {
          scheduleName: 'linear',
          scheduleConfig: { initValue: 0, endValue: 1, transitionSteps: 4, transitionBegin: 0 },
        },
        { scheduleName: 'custom', scheduleConfig: null },
      ],
      boundaries: [4],
    });
    expect('stateful' in s).toBe(false);
  });

  it('does not freeze a custom piece’s own config object', () => {
    const config = { k: 1 };
    const custom = Object.assign((t: number) => t, { scheduleName: 'mine', scheduleConfig: config });
    join([custom], []);
    expect(Object.isFrozen(config)).toBe(false);
  });

  it('carries the state of stateful pieces, restoring all or none', () => {
    const p1 = reduceOnPlateau({ initValue: 1, patience: 0 });
    const p2 = reduceOnPlateau({ initValue: 2, patience: 0 });
    const s = join([p1.schedule, a, p2.schedule], [5, 10]);
    p1.step(1);
    p1.step(2); // → 0.1
    p2.step(1);
    const saved = JSON.parse(JSON.stringify(s.stateful!.saveState()));
    expect(saved.pieces[1]).toBeNull();

    const q1 = reduceOnPlateau({ initValue: 1, patience: 0 });
    const q2 = reduceOnPlateau({ initValue: 2, patience: 0 });
    const restored = join([q1.schedule, a, q2.schedule], [5, 10]);
    restored.stateful!.loadState(saved);
    expect(restored(0)).toBeCloseTo(0.1, 15);
    expect(q2.saveState()).toEqual(p2.saveState());

    const r1 = reduceOnPlateau({ initValue: 1, patience: 0 });
    const r2 = reduceOnPlateau({ initValue: 2, patience: 0 });
    const target = join([r1.schedule, a, r2.schedule], [5, 10]);
    const before = [r1.saveState(), r2.saveState()];
    // Piece 0 is valid, piece 2 is not: piece 0 must be rolled back.
    expect(() =>
      target.stateful!.loadState({ ...saved, pieces: [saved.pieces[0], null, { kind: 'x' }] }),
    ).toThrow(/not a reduceOnPlateau state/);
    expect([r1.saveState(), r2.saveState()]).toEqual(before);
    expect(() =>
      target.stateful!.loadState({ ...saved, pieces: [saved.pieces[0], 5, saved.pieces[2]] }),
    ).toThrow(/piece 1 is not stateful/);
    expect([r1.saveState(), r2.saveState()]).toEqual(before);
    expect(() => target.stateful!.loadState({ kind: 'optimkit.join', pieces: [] })).toThrow(/has 0 pieces/);
    expect(() => target.stateful!.loadState(null)).toThrow(/not the state of a joined schedule/);
    expect(() => target.stateful!.loadState(p1.saveState())).toThrow(/not the state of a joined schedule/);
    expect([r1.saveState(), r2.saveState()]).toEqual(before);
  });

  it('rejects mismatched lengths, unsorted, repeated, negative or fractional boundaries', () => {
    expect(() => join([a, b], [])).toThrow(/join: invalid boundaries: got 0 for 2 schedules/);
    expect(() => join([a, b], [1, 2])).toThrow(RangeError);
    expect(() => join([a, b, c], [7, 3])).toThrow(
      /invalid boundaries: \[7, 3\] \(must be strictly increasing/,
    );
    expect(() => join([a, b, c], [3, 3])).toThrow(/strictly increasing/);
    expect(() => join([a, b], [-1])).toThrow(/invalid boundaries\[0\]: -1/);
    expect(() => join([a, b], [1.5])).toThrow(/invalid boundaries\[0\]: 1.5/);
    expect(() => join([], [])).toThrow(/non-empty array/);
    expect(() => join([a, 3 as never], [1])).toThrow(/schedules\[1\] is not a function/);
    expect(() => join([a, b], 3 as never)).toThrow(/boundaries must be an array/);
  });
});
