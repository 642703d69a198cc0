import { describe, expect, it } from 'vitest';
import { scheduleFromConfig } from './from-config.js';
import { lambdaSchedule } from './lambda-schedule.js';
import { registerScheduleFactor } from './schedule-factor.js';
import { expectClose } from './test-helpers.js';

registerScheduleFactor('lambda-test/inverse', (t, o) => 1 / (1 + Number(o.rate) * t));
registerScheduleFactor('lambda-test/bad-late', (t) => (t < 3 ? 1 : Number.NaN));

describe('lambdaSchedule', () => {
  it('is initValue · λ(t), λ called with 0 on the first update (PyTorch LambdaLR)', () => {
    const s = lambdaSchedule({
      initValue: 0.5,
      factor: 'lambda-test/inverse',
      factorOptions: { rate: 0.25 },
    });
    expect(s(0)).toBe(0.5);
    expectClose(s(1), 0.4); // 0.5 / 1.25
    expectClose(s(4), 0.25); // 0.5 / 2
    expectClose(s(1e9), 0.5 / (1 + 0.25e9));
    expect(s.scheduleName).toBe('lambdaSchedule');
    expect(s.scheduleConfig).toEqual({
      initValue: 0.5,
      factor: 'lambda-test/inverse',
      factorOptions: { rate: 0.25 },
    });
  });

  it('saves the name and options, not the function, and is rebuilt from them', () => {
    const options = { rate: 0.5 };
    const s = lambdaSchedule({ initValue: 1, factor: 'lambda-test/inverse', factorOptions: options });
    options.rate = 10; // the schedule keeps its own copy
    const rebuilt = scheduleFromConfig(
      JSON.parse(JSON.stringify({ scheduleName: s.scheduleName, scheduleConfig: s.scheduleConfig })),
    );
    for (let t = 0; t < 10; t++) expect(rebuilt(t)).toBe(1 / (1 + 0.5 * t));
    expect(rebuilt(3)).toBe(s(3));
  });

  it('refuses an unregistered name, a function, and bad options, naming what to do', () => {
    expect(() => lambdaSchedule({ initValue: 1, factor: 'nowhere' })).toThrow(
      "lambdaSchedule: no factor is registered as 'nowhere'; call registerScheduleFactor('nowhere', fn) before making or restoring this schedule",
    );
    expect(() =>
      scheduleFromConfig({
        scheduleName: 'lambdaSchedule',
        scheduleConfig: { initValue: 1, factor: 'nowhere' },
      }),
    ).toThrow(/no factor is registered as 'nowhere'/);
    expect(() => lambdaSchedule({ initValue: 1, factor: ((t: number) => t) as never })).toThrow(
      /factor must be the name of a factor registered with registerScheduleFactor, got a function/,
    );
    expect(() =>
      lambdaSchedule({ initValue: 1, factor: 'lambda-test/inverse', factorOptions: [1] as never }),
    ).toThrow(/factorOptions must be a plain object/);
    expect(() => lambdaSchedule({ initValue: Number.NaN, factor: 'lambda-test/inverse' })).toThrow(
      /invalid initValue: NaN/,
    );
    expect(() =>
      lambdaSchedule({ initValue: 1, factor: 'lambda-test/inverse', lr_lambda: 1 } as never),
    ).toThrow(/unknown option 'lr_lambda'/);
    // λ(0) is NaN without a rate: checked when the schedule is made.
    expect(() => lambdaSchedule({ initValue: 1, factor: 'lambda-test/inverse' })).toThrow(
      "lambdaSchedule: the factor 'lambda-test/inverse' returned NaN at step 0 (must be a finite number)",
    );
    const late = lambdaSchedule({ initValue: 1, factor: 'lambda-test/bad-late' });
    expect(late(2)).toBe(1);
    expect(() => late(3)).toThrow(/returned NaN at step 3/);
  });
});
