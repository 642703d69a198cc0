import { defineSchedule, type NamedSchedule } from './schedule.js';
import { nonNegative, positiveInteger, readOptions } from './validate.js';

/** Options of {@link cosineWarmRestarts}. */
export interface CosineWarmRestartsOptions {
  /** Value at step 0 and at every restart (≥ 0). */
  initValue: number;
  /** Length of the first cycle in steps (integer > 0). */
  period: number;
  /** Factor by which each cycle is longer than the previous one (integer ≥ 1), default `1`. */
  periodMultiplier?: number;
  /** Value the cosine approaches at the end of each cycle (≥ 0), default `0`. */
  minValue?: number;
}

/**
 * Cosine annealing with warm restarts (SGDR): cycles of cosine decay from `initValue` toward
 * `minValue`, the `i`-th lasting `T_i = period · periodMultiplier^i` steps, each restarting at
 * `initValue`:
 * ```
 * T_cur = steps since the last restart,  T_i = length of the current cycle
 * value(t) = minValue + (initValue − minValue) · (1 + cos(π T_cur / T_i)) / 2
 * ```
 * The restarts happen at steps `period`, `period + period·m`, … (`m = periodMultiplier`); the
 * value just before a restart is above `minValue`, which is never reached exactly. It has no end:
 * the cycles go on forever.
 *
 * Equivalent: PyTorch `CosineAnnealingWarmRestarts(T_0=period, T_mult=periodMultiplier,
 * eta_min=minValue)` as absolute values, `t` being its `last_epoch` (computed exactly, with integer
 * cycle arithmetic, like its default `step()`); Optax `sgdr_schedule` with equal cosine cycles.
 *
 * @param options.initValue Value at each restart, ≥ 0 (required).
 * @param options.period First cycle length, integer > 0 (required).
 * @param options.periodMultiplier Growth of the cycle length, integer ≥ 1, default `1`.
 * @param options.minValue Floor of the cosine, ≥ 0, default `0`.
 * @example
 * ```ts
 * sgd({ learningRate: cosineWarmRestarts({ initValue: 0.1, period: 1000, periodMultiplier: 2 }), momentum: 0.9 });
 * ```
 */
export function cosineWarmRestarts(
  options: CosineWarmRestartsOptions,
): NamedSchedule<Required<CosineWarmRestartsOptions>> {
  const fn = 'cosineWarmRestarts';
  const o = readOptions(fn, options, ['initValue', 'period', 'periodMultiplier', 'minValue']);
  const c = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    period: positiveInteger(fn, 'period', o.period),
    periodMultiplier: positiveInteger(fn, 'periodMultiplier', o.periodMultiplier, 1),
    minValue: nonNegative(fn, 'minValue', o.minValue, 0),
  };
  const { initValue, period, periodMultiplier, minValue } = c;
  return defineSchedule(fn, c, (t) => {
    let cur = t;
    let length = period;
    if (periodMultiplier === 1) cur = t % period;
    else {
      // Cycle lengths grow geometrically, so this loop runs O(log t) times.
      while (cur >= length) {
        cur -= length;
        length *= periodMultiplier;
      }
    }
    return minValue + ((initValue - minValue) * (1 + Math.cos((Math.PI * cur) / length))) / 2;
  });
}
