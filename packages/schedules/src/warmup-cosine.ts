import { cosineDecayValue } from './cosine-decay.js';
import { defineSchedule, type NamedSchedule } from './schedule.js';
import {
  check,
  nonNegative,
  nonNegativeInteger,
  positive,
  positiveInteger,
  readOptions,
} from './validate.js';

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Value at step 0, where the warmup starts (≥ 0). */
  initValue: number;
  /** Value reached at step `warmupSteps`, where the cosine decay starts (≥ 0). */
  peakValue: number;
  /** Length of the linear warmup in steps (integer ≥ 0, less than `decaySteps`). */
  warmupSteps: number;
  /** Total length of the schedule in steps, warmup INCLUDED (integer > `warmupSteps`). */
  decaySteps: number;
  /** Value from step `decaySteps` on (≥ 0), default `0`. */
  endValue?: number;
  /** Exponent applied to the cosine factor (> 0), default `1`. */
  exponent?: number;
}

/**
 * Linear warmup from `initValue` to `peakValue` over `warmupSteps` steps, then cosine decay to
 * `endValue` at step `decaySteps` (which counts the warmup):
 * ```
 * t < W:  value(t) = (initValue − peakValue) · (1 − t / W) + peakValue
 * t ≥ W:  c = min(t − W, D − W),  α = endValue / peakValue (0 if peakValue = 0)
 *         value(t) = peakValue · ((1 − α) · (½ (1 + cos(π c / (D − W))))^exponent + α)
 * ```
 * with `W = warmupSteps`, `D = decaySteps`. The peak is reached at step `W`; past the end
 * (`t ≥ D`) the value stays at `endValue` (clamped, as in Optax).
 *
 * Equivalent: Optax `warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps,
 * decay_steps, end_value=0.0, exponent=1.0)`; HF transformers `get_cosine_schedule_with_warmup(W,
 * D)` on a base lr `b` is `warmupCosine({ initValue: 0, peakValue: b, warmupSteps: W, decaySteps: D })`.
 * PyTorch has no single class: `SequentialLR([LinearLR, CosineAnnealingLR], [W])`.
 *
 * @param options.initValue Start of the warmup, ≥ 0 (required).
 * @param options.peakValue Peak at the end of the warmup, ≥ 0 (required).
 * @param options.warmupSteps Warmup length, integer ≥ 0 and < `decaySteps` (required; `0` for none).
 * @param options.decaySteps Total length including the warmup, integer > 0 (required).
 * @param options.endValue Final value, ≥ 0, default `0`.
 * @param options.exponent Exponent of the cosine factor, > 0, default `1`.
 * @example
 * ```ts
 * adamw({ learningRate: warmupCosine({ initValue: 0, peakValue: 1e-3, warmupSteps: 500, decaySteps: 10_000 }) });
 * ```
 */
export function warmupCosine(options: WarmupCosineOptions): NamedSchedule<Required<WarmupCosineOptions>> {
  const fn = 'warmupCosine';
  const o = readOptions(fn, options, [
    'initValue',
    'peakValue',
    'warmupSteps',
    'decaySteps',
    'endValue',
    'exponent',
  ]);
  const c = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    peakValue: nonNegative(fn, 'peakValue', o.peakValue),
    warmupSteps: nonNegativeInteger(fn, 'warmupSteps', o.warmupSteps),
    decaySteps: positiveInteger(fn, 'decaySteps', o.decaySteps),
    endValue: nonNegative(fn, 'endValue', o.endValue, 0),
    exponent: positive(fn, 'exponent', o.exponent, 1),
  };
  check(
    fn,
    'warmupSteps',
    c.warmupSteps,
    c.warmupSteps < c.decaySteps,
    `must be less than decaySteps (${c.decaySteps}), which includes the warmup`,
  );
  const { initValue, peakValue, warmupSteps, decaySteps, exponent } = c;
  const alpha = peakValue === 0 ? 0 : c.endValue / peakValue;
  return defineSchedule(fn, c, (t) => {
    if (t < warmupSteps) return (initValue - peakValue) * (1 - t / warmupSteps) + peakValue;
    return cosineDecayValue(peakValue, decaySteps - warmupSteps, alpha, exponent, t - warmupSteps);
  });
}
