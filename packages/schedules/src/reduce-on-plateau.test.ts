import { describe, expect, it } from 'vitest';
import { reduceOnPlateau } from './reduce-on-plateau.js';

type Row = [metric: number, value: number, best: number, numBadEpochs: number, cooldownCounter: number];

/**
 * Feeds `rows` one by one and checks the controller after each against PyTorch's
 * ReduceLROnPlateau (lr, best, num_bad_epochs, cooldown_counter), derived by hand from its step().
 */
function expectTrace(plateau: ReturnType<typeof reduceOnPlateau>, rows: Row[]): void {
  rows.forEach(([metric, value, best, bad, cooldown], epoch) => {
    const returned = plateau.step(metric);
    const where = `epoch ${epoch} (metric ${metric})`;
    expect(returned, where).toBe(value);
    expect(plateau.value, where).toBe(value);
    expect(plateau.schedule(epoch * 100), where).toBe(value);
    expect(plateau.best, where).toBe(best);
    expect(plateau.numBadEpochs, where).toBe(bad);
    expect(plateau.cooldownCounter, where).toBe(cooldown);
  });
}

describe('reduceOnPlateau', () => {
  it('follows PyTorch: patience 2, cooldown 1, relative threshold 0.01 (min mode)', () => {
    const plateau = reduceOnPlateau({ initValue: 1, patience: 2, cooldown: 1, factor: 0.5, threshold: 0.01 });
    expect(plateau.value).toBe(1);
    expect(plateau.best).toBe(Number.POSITIVE_INFINITY);
    expectTrace(plateau, [
      [1.0, 1, 1.0, 0, 0], // anything beats best = inf
      [0.9, 1, 0.9, 0, 0], // 0.9 < 1 · 0.99
      [0.95, 1, 0.9, 1, 0],
      [0.9, 1, 0.9, 2, 0], // equal is not better
      [0.92, 0.5, 0.9, 0, 1], // 3 bad epochs > patience 2: halve, cooldown 1
      [0.8999, 0.5, 0.9, 0, 0], // not < 0.9 · 0.99 = 0.891; bad epoch erased by the cooldown
      [0.91, 0.5, 0.9, 1, 0],
      [0.93, 0.5, 0.9, 2, 0],
      [0.94, 0.25, 0.9, 0, 1],
      [0.95, 0.25, 0.9, 0, 0],
      [0.5, 0.25, 0.5, 0, 0],
      [0.6, 0.25, 0.5, 1, 0],
      [0.7, 0.25, 0.5, 2, 0],
      [0.8, 0.125, 0.5, 0, 1],
    ]);
    expect(plateau.epochs).toBe(14);
  });

  it('follows PyTorch: absolute threshold, patience 1, minValue floor and the eps rule', () => {
    const plateau = reduceOnPlateau({
      initValue: 0.1,
      patience: 1,
      threshold: 0.5,
      thresholdMode: 'abs',
      minValue: 0.0005,
    });
    expectTrace(plateau, [
      [10, 0.1, 10, 0, 0],
      [9, 0.1, 9, 0, 0], // 9 < 10 − 0.5
      [9.5, 0.1, 9, 1, 0],
      [9.2, 0.010000000000000002, 9, 0, 0], // 0.1 · 0.1 in float64
      [9.05, 0.010000000000000002, 9, 1, 0],
      [9.2, 0.0010000000000000002, 9, 0, 0],
      [9.3, 0.0010000000000000002, 9, 1, 0],
      [9.4, 0.0005, 9, 0, 0], // max(1e-4, minValue)
      [9.5, 0.0005, 9, 1, 0],
      [8.0, 0.0005, 8, 0, 0],
      [8.05, 0.0005, 8, 1, 0], // 8.05 is not < 8 − 0.5
      [8.1, 0.0005, 8, 0, 0], // at the floor: no change, but the counter resets
    ]);
  });

  it('follows PyTorch in max mode (relative threshold 1e-4)', () => {
    const plateau = reduceOnPlateau({ initValue: 1e-3, mode: 'max', patience: 1 });
    expect(plateau.best).toBe(Number.NEGATIVE_INFINITY);
    expectTrace(plateau, [
      [0.5, 1e-3, 0.5, 0, 0],
      [0.6, 1e-3, 0.6, 0, 0],
      [0.6, 1e-3, 0.6, 1, 0],
      [0.6, 0.0001, 0.6, 0, 0],
      [0.60005, 0.0001, 0.6, 1, 0], // not > 0.6 · 1.0001 = 0.60006
      [0.7, 0.0001, 0.7, 0, 0],
      [0.7, 0.0001, 0.7, 1, 0],
      [0.7, 1e-5, 0.7, 0, 0],
    ]);
  });

  it('uses the defaults patience 10 and factor 0.1', () => {
    const plateau = reduceOnPlateau({ initValue: 1 });
    plateau.step(1);
    for (let i = 0; i < 10; i++) expect(plateau.step(2)).toBe(1);
    expect(plateau.step(2)).toBeCloseTo(0.1, 15);
    expect(plateau.schedule.scheduleConfig).toEqual({
      initValue: 1,
      mode: 'min',
      factor: 0.1,
      patience: 10,
      threshold: 1e-4,
      thresholdMode: 'rel',
      cooldown: 0,
      minValue: 0,
      eps: 1e-8,
    });
  });

  it('skips a reduction smaller than eps, as PyTorch', () => {
    const tiny = reduceOnPlateau({ initValue: 1e-8, patience: 0 });
    tiny.step(1);
    expect(tiny.step(2)).toBe(1e-8); // 1e-8 − 1e-9 = 9e-9 is not > eps 1e-8
    const small = reduceOnPlateau({ initValue: 1.5e-8, patience: 0 });
    small.step(1);
    expect(small.step(2)).toBeCloseTo(1.5e-9, 20);
  });

  it('needs a strict improvement: an equal metric is a bad epoch even with threshold 0', () => {
    for (const thresholdMode of ['rel', 'abs'] as const) {
      const min = reduceOnPlateau({ initValue: 1, patience: 0, threshold: 0, thresholdMode });
      min.step(0.5);
      expect(min.step(0.5), thresholdMode).toBeCloseTo(0.1, 15);
      const max = reduceOnPlateau({ initValue: 1, mode: 'max', patience: 0, threshold: 0, thresholdMode });
      max.step(0.5);
      expect(max.step(0.5), thresholdMode).toBeCloseTo(0.1, 15);
      expect(max.step(0.50001), thresholdMode).toBeCloseTo(0.1, 15);
    }
  });

  it('counts a NaN metric as a bad epoch', () => {
    const plateau = reduceOnPlateau({ initValue: 1, patience: 0 });
    plateau.step(1);
    expect(plateau.step(Number.NaN)).toBeCloseTo(0.1, 15);
    expect(plateau.best).toBe(1);
  });

  it('saves and restores its state: the continuation is identical', () => {
    const metrics = [5, 4, 4.5, 4.4, 4.6, 4.7, 3, 3.1, 3.2, 3.3, 3.4, 3.5, 2, 2.5];
    const options = { initValue: 0.01, patience: 1, cooldown: 2, factor: 0.5 };
    const reference = reduceOnPlateau(options);
    const first = reduceOnPlateau(options);
    for (const m of metrics.slice(0, 6)) {
      reference.step(m);
      first.step(m);
    }
    const saved = JSON.parse(JSON.stringify(first.schedule.stateful.saveState()));
    const resumed = reduceOnPlateau(options);
    resumed.schedule.stateful.loadState(saved);
    expect(resumed.value).toBe(reference.value);
    expect(resumed.epochs).toBe(6);
    for (const m of metrics.slice(6)) {
      expect(resumed.step(m)).toBe(reference.step(m));
      expect(resumed.saveState()).toEqual(reference.saveState());
    }
    expect(reference.value).not.toBe(0.01);
  });

  it('saves an infinite best (no metric yet) as JSON and restores it', () => {
    const fresh = reduceOnPlateau({ initValue: 1, mode: 'max' });
    const json = JSON.stringify(fresh.saveState());
    expect(json).toContain('"best":"-Infinity"');
    const other = reduceOnPlateau({ initValue: 1, mode: 'max' });
    other.step(0.5);
    other.loadState(JSON.parse(json));
    expect(other.best).toBe(Number.NEGATIVE_INFINITY);
    expect(other.epochs).toBe(0);
  });

  it('rejects a malformed or foreign state and stays unchanged', () => {
    const plateau = reduceOnPlateau({ initValue: 1, patience: 0 });
    plateau.step(3);
    plateau.step(4);
    const before = plateau.saveState() as Record<string, unknown>;
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [[1, 2], /must be an object/],
      ['state', /must be an object/],
      [{}, /not a reduceOnPlateau state/],
      [{ ...before, kind: 'optimkit.join' }, /not a reduceOnPlateau state/],
      [{ ...before, version: 2 }, /unsupported state version 2/],
      [{ ...before, mode: 'max' }, /saved in mode "max"/],
      [{ ...before, value: -1 }, /invalid value: -1/],
      [{ ...before, value: '0.1' }, /invalid value/],
      [{ ...before, value: undefined }, /invalid value/],
      [{ ...before, best: null }, /invalid best: null/],
      [{ ...before, best: 'NaN' }, /invalid best/],
      [{ ...before, numBadEpochs: 1.5 }, /invalid numBadEpochs: 1.5/],
      [{ ...before, cooldownCounter: -1 }, /invalid cooldownCounter: -1/],
      [{ ...before, epochs: 'x' }, /invalid epochs/],
    ];
    for (const [state, message] of bad) {
      expect(() => plateau.schedule.stateful.loadState(state)).toThrow(message);
      expect(plateau.saveState()).toEqual(before);
    }
    expect(plateau.value).toBeCloseTo(0.1, 15);
  });

  it('exposes its schedule with a name, a config and the stateful hooks', () => {
    const plateau = reduceOnPlateau({ initValue: 2e-3 });
    expect(plateau.schedule.scheduleName).toBe('reduceOnPlateau');
    expect(plateau.schedule(0)).toBe(2e-3);
    expect(typeof plateau.schedule.stateful.saveState).toBe('function');
    expect(typeof plateau.schedule.stateful.loadState).toBe('function');
    expect(() => plateau.schedule(-1)).toThrow(RangeError);
  });

  it('rejects invalid arguments', () => {
    expect(() => reduceOnPlateau({ initValue: -1 })).toThrow(/reduceOnPlateau: invalid initValue: -1/);
    expect(() => reduceOnPlateau({ initValue: 1, factor: 1 })).toThrow(
      /invalid factor: 1 \(must be in \[0, 1\)\)/,
    );
    expect(() => reduceOnPlateau({ initValue: 1, factor: -0.1 })).toThrow(/invalid factor: -0.1/);
    expect(() => reduceOnPlateau({ initValue: 1, patience: -1 })).toThrow(/invalid patience: -1/);
    expect(() => reduceOnPlateau({ initValue: 1, patience: 2.5 })).toThrow(/invalid patience: 2.5/);
    expect(() => reduceOnPlateau({ initValue: 1, threshold: -1e-4 })).toThrow(/invalid threshold: -0.0001/);
    expect(() => reduceOnPlateau({ initValue: 1, cooldown: 0.5 })).toThrow(/invalid cooldown: 0.5/);
    expect(() => reduceOnPlateau({ initValue: 1, minValue: -1 })).toThrow(/invalid minValue: -1/);
    expect(() => reduceOnPlateau({ initValue: 1, eps: -1 })).toThrow(/invalid eps: -1/);
    expect(() => reduceOnPlateau({ initValue: 1, mode: 'avg' as never })).toThrow(
      /invalid mode: "avg" \(must be one of 'min', 'max'\)/,
    );
    expect(() => reduceOnPlateau({ initValue: 1, thresholdMode: 'pct' as never })).toThrow(
      /invalid thresholdMode/,
    );
    expect(() => reduceOnPlateau({ initValue: 1, min_lr: 0 } as never)).toThrow(/unknown option 'min_lr'/);
    expect(() => reduceOnPlateau({} as never)).toThrow(/missing required option 'initValue'/);
    const plateau = reduceOnPlateau({ initValue: 1 });
    expect(() => plateau.step('0.5' as never)).toThrow(/the metric must be a number/);
  });
});
