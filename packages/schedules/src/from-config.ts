import { constant } from './constant.js';
import { cosineDecay } from './cosine-decay.js';
import { cosineWarmRestarts } from './cosine-warm-restarts.js';
import { cyclic } from './cyclic.js';
import { exponential } from './exponential.js';
import { join } from './join.js';
import { lambdaSchedule } from './lambda-schedule.js';
import { multiplicative } from './multiplicative.js';
import { oneCycle } from './one-cycle.js';
import { linear, polynomial } from './polynomial.js';
import { type ReduceOnPlateauOptions, reduceOnPlateau } from './reduce-on-plateau.js';
import type { NamedSchedule, Schedule } from './schedule.js';
import { multiStep, stepDecay } from './step-decay.js';
import { type SwaLearningRateOptions, swaLearningRate } from './swa-learning-rate.js';
import { warmupCosine } from './warmup-cosine.js';
import { warmupStableDecay } from './warmup-stable-decay.js';

type Factory = (config: never) => NamedSchedule;

const factories: Readonly<Record<string, Factory>> = {
  constant,
  linear,
  polynomial,
  exponential,
  stepDecay,
  multiStep,
  cosineDecay,
  warmupCosine,
  cosineWarmRestarts,
  oneCycle: (config: never) => oneCycle(config).learningRate,
  oneCycleMomentum: (config: never) => oneCycle(config).momentum,
  cyclic,
  warmupStableDecay,
  lambdaSchedule,
  multiplicative,
};

/**
 * Rebuilds a schedule of this package from its `scheduleName` and `scheduleConfig` (e.g. after
 * `JSON.parse(JSON.stringify({ scheduleName: s.scheduleName, scheduleConfig: s.scheduleConfig }))`);
 * the result gives the same values as the original. Joins are rebuilt piece by piece.
 *
 * Throws for a name it does not know, for a custom function inside a join (or before a
 * `swaLearningRate`), for a `lambdaSchedule` or `multiplicative` whose factor name is not
 * registered (see `registerScheduleFactor`), and for
 * `reduceOnPlateau`, whose value depends on its state: create it again with `reduceOnPlateau(config)`
 * and restore its state with `loadState`.
 *
 * @example
 * ```ts
 * const saved = JSON.stringify({ scheduleName: lr.scheduleName, scheduleConfig: lr.scheduleConfig });
 * const lr2 = scheduleFromConfig(JSON.parse(saved));
 * ```
 */
export function scheduleFromConfig(saved: {
  scheduleName?: unknown;
  scheduleConfig?: unknown;
}): NamedSchedule {
  return rebuild(saved, false);
}

/**
 * {@link scheduleFromConfig}, and with `stateful` also `reduceOnPlateau` (in its initial state),
 * alone or inside a join: what the optimizer's schedule registry uses, which then restores the
 * saved state.
 */
export function rebuild(
  saved: { scheduleName?: unknown; scheduleConfig?: unknown },
  stateful: boolean,
): NamedSchedule {
  const fn = 'scheduleFromConfig';
  if (typeof saved !== 'object' && typeof saved !== 'function') {
    throw new TypeError(`${fn}: expected { scheduleName, scheduleConfig }`);
  }
  const { scheduleName: name, scheduleConfig: config } = saved ?? {};
  if (name === 'join') {
    const c = config as { schedules?: unknown; boundaries?: unknown } | null;
    if (typeof c !== 'object' || c === null || !Array.isArray(c.schedules) || !Array.isArray(c.boundaries)) {
      throw new TypeError(`${fn}: the config of a join must have arrays 'schedules' and 'boundaries'`);
    }
    return join(
      c.schedules.map((piece: unknown, i) => {
        try {
          return rebuild(piece as { scheduleName?: unknown; scheduleConfig?: unknown }, stateful);
        } catch (error) {
          throw new TypeError(`${fn}: join piece ${i}: ${(error as Error).message}`);
        }
      }) as Schedule[],
      c.boundaries as number[],
    );
  }
  if (name === 'swaLearningRate') {
    const c = config as { before?: unknown } | null;
    if (typeof c !== 'object' || c === null) {
      throw new TypeError(`${fn}: the config of swaLearningRate must be an object`);
    }
    let before = c.before;
    if ((before as { scheduleName?: unknown } | null)?.scheduleName === 'custom') {
      throw new TypeError(
        `${fn}: swaLearningRate: before was a plain function, which cannot be saved; make the schedule again`,
      );
    }
    if (typeof before === 'object' && before !== null) {
      try {
        before = rebuild(before as { scheduleName?: unknown; scheduleConfig?: unknown }, false);
      } catch (error) {
        throw new TypeError(`${fn}: swaLearningRate's before: ${(error as Error).message}`);
      }
    }
    return swaLearningRate({ ...c, before } as SwaLearningRateOptions);
  }
  if (name === 'reduceOnPlateau' && stateful)
    return reduceOnPlateau(config as ReduceOnPlateauOptions).schedule;
  if (name === 'reduceOnPlateau') {
    throw new TypeError(
      `${fn}: reduceOnPlateau is stateful; create it with reduceOnPlateau(config) and restore its state with loadState`,
    );
  }
  if (typeof name !== 'string' || !Object.hasOwn(factories, name)) {
    throw new TypeError(
      `${fn}: unknown schedule ${JSON.stringify(name) ?? 'undefined'}; known: ${[...Object.keys(factories), 'join', 'swaLearningRate'].join(', ')}`,
    );
  }
  return factories[name]!(config as never);
}
