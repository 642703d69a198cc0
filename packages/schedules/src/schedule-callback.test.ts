import { describe, expect, it } from 'vitest';
import { reduceOnPlateau } from './reduce-on-plateau.js';
import { scheduleCallback } from './schedule-callback.js';

describe('scheduleCallback', () => {
  it('feeds val_loss to the controller each epoch, keeps a history and logs', async () => {
    const plateau = reduceOnPlateau({ initValue: 1e-3, patience: 1 });
    const logged: [number, Record<string, number>][] = [];
    const callback = scheduleCallback({
      schedules: { learningRate: plateau },
      log: (epoch, values) => logged.push([epoch, { ...values }]),
    });
    const losses = [1.0, 0.8, 0.9, 0.85, 0.7];
    // tfjs-layers awaits the result of onEpochEnd and passes numeric logs.
    for (const [epoch, val_loss] of losses.entries()) await callback.onEpochEnd(epoch, { loss: 2, val_loss });
    const expected = [1e-3, 1e-3, 1e-3, 1e-4, 1e-4];
    callback.history.forEach((entry, i) => {
      expect(entry.epoch).toBe(i);
      expect(entry.learningRate).toBeCloseTo(expected[i]!, 18);
    });
    expect(callback.history).toHaveLength(5);
    expect(logged.map(([epoch]) => epoch)).toEqual([0, 1, 2, 3, 4]);
    expect(logged[3]![1].learningRate).toBeCloseTo(1e-4, 18);
    expect(plateau.schedule(12345)).toBeCloseTo(1e-4, 18);
  });

  it('monitors another key and drives several controllers', () => {
    const lr = reduceOnPlateau({ initValue: 0.1, mode: 'max', patience: 0 });
    const wd = reduceOnPlateau({ initValue: 0.01, mode: 'max', patience: 0, factor: 0.5 });
    const callback = scheduleCallback({
      schedules: { learningRate: lr, weightDecay: wd },
      monitor: 'val_acc',
    });
    callback.onEpochEnd(0, { val_acc: 0.5 });
    callback.onEpochEnd(1, { val_acc: 0.4 });
    expect(callback.history[1]).toEqual({ epoch: 1, learningRate: lr.value, weightDecay: 0.005 });
    expect(lr.value).toBeCloseTo(0.01, 15);
  });

  it('throws a clear error when the monitored metric is missing', () => {
    const callback = scheduleCallback({ schedules: { learningRate: reduceOnPlateau({ initValue: 1 }) } });
    expect(() => callback.onEpochEnd(0, { loss: 1, acc: 0.5 })).toThrow(
      /no number 'val_loss' to monitor \(available: loss, acc\)/,
    );
    expect(() => callback.onEpochEnd(0)).toThrow(/available: none/);
    expect(callback.history).toHaveLength(0);
  });

  it('rejects invalid options', () => {
    expect(() => scheduleCallback({ schedules: {} })).toThrow(/schedules is empty/);
    expect(() => scheduleCallback({ schedules: { learningRate: ((t: number) => t) as never } })).toThrow(
      /schedules.learningRate is not a controller/,
    );
    expect(() => scheduleCallback(null as never)).toThrow(/options must be an object/);
    const plateau = reduceOnPlateau({ initValue: 1 });
    expect(() => scheduleCallback({ schedules: { lr: plateau }, monitor: 3 as never })).toThrow(
      /monitor must be a string/,
    );
    expect(() => scheduleCallback({ schedules: { lr: plateau }, log: 'yes' as never })).toThrow(
      /log must be a function/,
    );
  });
});
