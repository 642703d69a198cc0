import { describe, expect, it } from 'vitest';
import { constant } from './constant.js';
import { cosineDecay } from './cosine-decay.js';
import { cosineWarmRestarts } from './cosine-warm-restarts.js';
import { exponential } from './exponential.js';
import { scheduleFromConfig } from './from-config.js';
import { join } from './join.js';
import { oneCycle } from './one-cycle.js';
import { linear, polynomial } from './polynomial.js';
import { reduceOnPlateau } from './reduce-on-plateau.js';
import type { NamedSchedule, Schedule } from './schedule.js';
import { multiStep, stepDecay } from './step-decay.js';
import { warmupCosine } from './warmup-cosine.js';

const cycle = oneCycle({ totalSteps: 50, maxValue: 0.1, threePhase: true, anneal: 'linear' });
const all: Record<string, NamedSchedule> = {
  constant: constant({ value: 0.5 }),
  linear: linear({ initValue: 0, endValue: 1, transitionSteps: 10, transitionBegin: 3 }),
  polynomial: polynomial({ initValue: 1, endValue: 0.1, power: 2, transitionSteps: 20 }),
  exponential: exponential({
    initValue: 1,
    transitionSteps: 5,
    decayRate: 0.5,
    staircase: true,
    endValue: 0.1,
  }),
  stepDecay: stepDecay({ initValue: 1, stepSize: 7, gamma: 0.3 }),
  multiStep: multiStep({ initValue: 1, milestones: [5, 20, 40] }),
  cosineDecay: cosineDecay({ initValue: 1, decaySteps: 30, alpha: 0.1, exponent: 2 }),
  warmupCosine: warmupCosine({
    initValue: 0,
    peakValue: 1e-3,
    warmupSteps: 5,
    decaySteps: 50,
    endValue: 1e-5,
  }),
  cosineWarmRestarts: cosineWarmRestarts({ initValue: 1, period: 4, periodMultiplier: 2, minValue: 0.01 }),
  oneCycle: cycle.learningRate,
  oneCycleMomentum: cycle.momentum,
  join: join(
    [
      linear({ initValue: 0, endValue: 1, transitionSteps: 5 }),
      join([constant({ value: 1 }), cosineDecay({ initValue: 1, decaySteps: 20 })], [3]),
    ],
    [5],
  ),
};

describe('every schedule', () => {
  for (const [name, schedule] of Object.entries(all)) {
    describe(name, () => {
      it('carries a read-only scheduleName and a frozen JSON scheduleConfig', () => {
        expect(schedule.scheduleName).toBe(name);
        expect(() => {
          (schedule as { scheduleName: string }).scheduleName = 'other';
        }).toThrow(TypeError);
        expect(() => {
          (schedule as { scheduleConfig: unknown }).scheduleConfig = {};
        }).toThrow(TypeError);
        expect(Object.isFrozen(schedule.scheduleConfig)).toBe(true);
        expect(JSON.parse(JSON.stringify(schedule.scheduleConfig))).toEqual(schedule.scheduleConfig);
      });

      it('is rebuilt identically by scheduleFromConfig from its JSON', () => {
        const json = JSON.stringify({
          scheduleName: schedule.scheduleName,
          scheduleConfig: schedule.scheduleConfig,
        });
        const rebuilt = scheduleFromConfig(JSON.parse(json));
        expect(rebuilt.scheduleName).toBe(name);
        for (let t = 0; t <= 120; t++) expect(rebuilt(t), `step ${t}`).toBe(schedule(t));
      });

      it('rejects negative, NaN, infinite and non-number steps', () => {
        expect(() => schedule(-1)).toThrow(
          new RangeError(`${name}: invalid step: -1 (must be a finite number ≥ 0)`),
        );
        expect(() => schedule(Number.NaN)).toThrow(RangeError);
        expect(() => schedule(Number.POSITIVE_INFINITY)).toThrow(RangeError);
        expect(() => schedule('3' as never)).toThrow(TypeError);
      });

      it('is a finite number at every step, far past its end', () => {
        for (const t of [0, 1, 10, 100, 1e4, 1e7]) expect(Number.isFinite(schedule(t))).toBe(true);
      });
    });
  }

  it('is assignable to the plain Schedule type', () => {
    const s: Schedule = all.warmupCosine!;
    expect(typeof s).toBe('function');
  });
});

describe('scheduleFromConfig', () => {
  it('rejects unknown names, custom pieces and stateful schedules', () => {
    expect(() => scheduleFromConfig({ scheduleName: 'nope', scheduleConfig: {} })).toThrow(
      /unknown schedule "nope"/,
    );
    expect(() => scheduleFromConfig({ scheduleName: 'toString', scheduleConfig: {} })).toThrow(
      /unknown schedule/,
    );
    expect(() => scheduleFromConfig(join([(t: number) => t], []))).toThrow(
      /join piece 0: .*unknown schedule "custom"/,
    );
    expect(() => scheduleFromConfig(reduceOnPlateau({ initValue: 1 }).schedule)).toThrow(
      /reduceOnPlateau is stateful/,
    );
    expect(() => scheduleFromConfig({ scheduleName: 'join', scheduleConfig: null })).toThrow(
      /arrays 'schedules'/,
    );
    expect(() => scheduleFromConfig(3 as never)).toThrow(/expected \{ scheduleName, scheduleConfig \}/);
  });

  it('validates the config like the factory', () => {
    expect(() => scheduleFromConfig({ scheduleName: 'linear', scheduleConfig: { initValue: 1 } })).toThrow(
      /missing required option 'endValue'/,
    );
  });
});
