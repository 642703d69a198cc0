import { defineSchedule, type NamedSchedule } from './schedule.js';
import { check, nonNegative, positive, positiveInteger, readOptions } from './validate.js';

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  /** Value at step 0 (≥ 0). */
  initValue: number;
  /** Length of the decay in steps (integer > 0). */
  decaySteps: number;
  /** Final value as a fraction of `initValue`, in [0, 1], default `0`. */
  alpha?: number;
  /** Exponent applied to the cosine factor (> 0), default `1`. */
  exponent?: number;
}

/** Optax's cosine decay, shared with `warmupCosine`. */
export function cosineDecayValue(
  init: number,
  decaySteps: number,
  alpha: number,
  exponent: number,
  step: number,
): number {
  const count = Math.min(step, decaySteps);
  const cosine = 0.5 * (1 + Math.cos((Math.PI * count) / decaySteps));
  return init * ((1 - alpha) * cosine ** exponent + alpha);
}

/**
 * Cosine decay from `initValue` to `alpha · initValue` over `decaySteps` steps:
 * ```
 * c = min(t, decaySteps)
 * value(t) = initValue · ((1 − alpha) · (½ (1 + cos(π c / decaySteps)))^exponent + alpha)
 * ```
 * Past the end (`t ≥ decaySteps`) it stays at `alpha · initValue` (clamped, as in Optax).
 *
 * Equivalent: Optax `cosine_decay_schedule(init_value, decay_steps, alpha=0.0, exponent=1.0)`;
 * PyTorch `CosineAnnealingLR(T_max, eta_min)` on a base lr `b` is `cosineDecay({ initValue: b,
 * decaySteps: T_max, alpha: eta_min / b })` up to `T_max` (PyTorch's cosine rises again after it).
 *
 * @param options.initValue Start value, ≥ 0 (required).
 * @param options.decaySteps Length of the decay, integer > 0 (required).
 * @param options.alpha Final fraction of `initValue`, in [0, 1], default `0`.
 * @param options.exponent Exponent of the cosine factor, > 0, default `1`.
 * @example
 * ```ts
 * adam({ learningRate: cosineDecay({ initValue: 1e-3, decaySteps: 10_000, alpha: 0.1 }) });
 * ```
 */
export function cosineDecay(options: CosineDecayOptions): NamedSchedule<Required<CosineDecayOptions>> {
  const fn = 'cosineDecay';
  const o = readOptions(fn, options, ['initValue', 'decaySteps', 'alpha', 'exponent']);
  const c = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    decaySteps: positiveInteger(fn, 'decaySteps', o.decaySteps),
    alpha: nonNegative(fn, 'alpha', o.alpha, 0),
    exponent: positive(fn, 'exponent', o.exponent, 1),
  };
  check(fn, 'alpha', c.alpha, c.alpha <= 1, 'must be in [0, 1]');
  return defineSchedule(fn, c, (t) => cosineDecayValue(c.initValue, c.decaySteps, c.alpha, c.exponent, t));
}
