import { describe, expect, it } from 'vitest';
import { cosineDecay } from './cosine-decay.js';
import { cyclic } from './cyclic.js';
import fixtures from './fixtures/torch-schedules.json' with { type: 'json' };
import { scheduleFromConfig } from './from-config.js';
import { lambdaSchedule } from './lambda-schedule.js';
import { multiplicative } from './multiplicative.js';
import type { NamedSchedule } from './schedule.js';
import { type FactorOptions, registerScheduleFactor } from './schedule-factor.js';
import { swaLearningRate } from './swa-learning-rate.js';
import { expectClose } from './test-helpers.js';
import { warmupStableDecay } from './warmup-stable-decay.js';

// The factor functions of tooling/torch-fixtures/schedules.py, same names, same formulas.
const num = (o: FactorOptions, key: string) => o[key] as number;
registerScheduleFactor('noam', (t, o) =>
  Math.min((t + 1) / num(o, 'warmup'), Math.sqrt(num(o, 'warmup') / (t + 1))),
);
registerScheduleFactor('wavy', (t, o) => num(o, 'base') + num(o, 'amplitude') * Math.cos(t));
registerScheduleFactor('constantRate', (_t, o) => num(o, 'rate'));
registerScheduleFactor('halveThenHold', (t, o) => (t < num(o, 'until') ? 0.5 : 1));

type Options = Record<string, unknown> & {
  beforeSchedule?: {
    kind: string;
    initValue: number;
    decaySteps?: number;
    factor?: string;
    factorOptions?: FactorOptions;
  };
};

function make(factory: string, options: Options): NamedSchedule {
  switch (factory) {
    case 'cyclic':
      return cyclic(options as never);
    case 'warmupStableDecay':
      return warmupStableDecay(options as never);
    case 'lambdaSchedule':
      return lambdaSchedule(options as never);
    case 'multiplicative':
      return multiplicative(options as never);
    case 'swaLearningRate': {
      const { beforeSchedule: b, ...rest } = options;
      if (b === undefined) return swaLearningRate(rest as never);
      const before =
        b.kind === 'cosine'
          ? cosineDecay({ initValue: b.initValue, decaySteps: b.decaySteps! })
          : multiplicative({
              initValue: b.initValue,
              factor: b.factor!,
              factorOptions: b.factorOptions!,
              factorSteps: 1,
            });
      return swaLearningRate({ ...rest, before } as never);
    }
  }
  throw new Error(`no factory ${factory}`);
}

describe(`matches real torch.optim.lr_scheduler / swa_utils (torch ${fixtures.torch}, float64) over ${fixtures.steps} steps`, () => {
  // Regenerate with `/usr/bin/python3 tooling/torch-fixtures/schedules.py` from the repository root.
  it.each(fixtures.cases.map((c) => [`${c.factory}: ${c.title}`, c] as const))('%s', (_title, c) => {
    const schedule = make(c.factory, c.options as Options);
    expect(c.values).toHaveLength(fixtures.steps);
    c.values.forEach((value, t) => {
      expectClose(schedule(t), value, 1e-12);
    });
    // Rebuilt from its saved config through JSON, it gives the same bits.
    const rebuilt = scheduleFromConfig(
      JSON.parse(
        JSON.stringify({ scheduleName: schedule.scheduleName, scheduleConfig: schedule.scheduleConfig }),
      ),
    );
    for (let t = fixtures.steps - 1; t >= 0; t--) expect(rebuilt(t)).toBe(schedule(t));
    expect(new Set(c.values).size, 'the case varies').toBeGreaterThan(1);
  });

  it('covers every new factory and its modes', () => {
    const seen = new Set(
      fixtures.cases.map((c) => {
        const o = c.options as Record<string, unknown>;
        return `${c.factory}:${String(o.mode ?? o.decayShape ?? o.anneal ?? '')}`;
      }),
    );
    for (const key of [
      'cyclic:triangular',
      'cyclic:triangular2',
      'cyclic:exp_range',
      'warmupStableDecay:linear',
      'warmupStableDecay:cos',
      'warmupStableDecay:1-sqrt',
      'lambdaSchedule:',
      'multiplicative:',
      'swaLearningRate:cos',
      'swaLearningRate:linear',
    ]) {
      expect(seen, key).toContain(key);
    }
  });
});
