import { defineSchedule, type NamedSchedule } from './schedule.js';
import { check, nonNegative, nonNegativeInteger, oneOf, positiveInteger, readOptions } from './validate.js';

/** Options of {@link warmupStableDecay}. */
export interface WarmupStableDecayOptions {
  /** Value at step 0, where the warmup starts (≥ 0). */
  initValue: number;
  /** Value of the stable stage, reached at step `warmupSteps` (≥ 0). */
  peakValue: number;
  /** Length of the linear warmup in steps (integer ≥ 0). */
  warmupSteps: number;
  /** Length of the constant stage at `peakValue` in steps (integer ≥ 0). */
  stableSteps: number;
  /** Length of the decay (cooldown) stage in steps (integer > 0). */
  decaySteps: number;
  /** Value at the end of the decay and from then on (≥ 0, ≤ `peakValue`), default `0`. */
  endValue?: number;
  /** Shape of the decay: default `'linear'`, `'cos'` (half cosine) or `'1-sqrt'`. */
  decayShape?: 'linear' | 'cos' | '1-sqrt';
}

/** The options of a {@link warmupStableDecay} schedule as stored in its `scheduleConfig`. */
export type WarmupStableDecayConfig = Required<WarmupStableDecayOptions>;

const SHAPES = {
  linear: (p: number) => 1 - p,
  cos: (p: number) => 0.5 * (1 + Math.cos(Math.PI * p)),
  '1-sqrt': (p: number) => 1 - Math.sqrt(p),
} as const;

/**
 * Warmup-stable-decay (WSD; Hu et al., "MiniCPM", 2024, arXiv 2404.06395; Hägele et al.,
 * "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations", NeurIPS 2024, arXiv
 * 2405.18392, whose `1 − sqrt` cooldown is offered): a linear warmup, a long constant stage, then
 * a short decay. With `W = warmupSteps`, `S = stableSteps`, `D = decaySteps`:
 * ```
 * t < W:              value(t) = initValue + (peakValue − initValue) · t / W
 * W ≤ t < W + S:      value(t) = peakValue
 * W + S ≤ t < W+S+D:  p = (t − W − S) / D
 *                     value(t) = endValue + (peakValue − endValue) · f(p)
 *                     f(p) = 1 − p                  'linear'
 *                          = ½ (1 + cos(π p))       'cos'
 *                          = 1 − √p                 '1-sqrt'
 * t ≥ W + S + D:      value(t) = endValue
 * ```
 * The stable stage can be continued as long as wanted and the decay started from any checkpoint,
 * which is the point of WSD: make the schedule again with a larger `stableSteps` and the values
 * up to the old decay start are unchanged.
 *
 * Equivalent: Hugging Face transformers `get_wsd_schedule(optimizer, num_warmup_steps,
 * num_decay_steps, num_stable_steps=S, decay_type='linear' | 'cosine' | '1-sqrt',
 * min_lr_ratio=endValue / peakValue)` on a base lr `peakValue`, with `initValue: 0`; PyTorch has no
 * class for it (a `LambdaLR` with that multiplier, as this package's tests run).
 *
 * @param options.initValue Start of the warmup, ≥ 0 (required).
 * @param options.peakValue Value of the stable stage, ≥ 0 (required).
 * @param options.warmupSteps Warmup length, integer ≥ 0 (required; `0` for none).
 * @param options.stableSteps Constant stage length, integer ≥ 0 (required).
 * @param options.decaySteps Decay length, integer > 0 (required).
 * @param options.endValue Final value, ≥ 0 and ≤ `peakValue`, default `0`.
 * @param options.decayShape `'linear'`, `'cos'` or `'1-sqrt'`, default `'linear'`.
 * @example
 * ```ts
 * // 1k warmup steps, 80k at 3e-4, then a 1 − sqrt cooldown over 20k steps
 * adamw({
 *   learningRate: warmupStableDecay({
 *     initValue: 0, peakValue: 3e-4, warmupSteps: 1000, stableSteps: 80_000, decaySteps: 20_000, decayShape: '1-sqrt',
 *   }),
 * });
 * ```
 */
export function warmupStableDecay(options: WarmupStableDecayOptions): NamedSchedule<WarmupStableDecayConfig> {
  const fn = 'warmupStableDecay';
  const o = readOptions(fn, options, [
    'initValue',
    'peakValue',
    'warmupSteps',
    'stableSteps',
    'decaySteps',
    'endValue',
    'decayShape',
  ]);
  const config: WarmupStableDecayConfig = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    peakValue: nonNegative(fn, 'peakValue', o.peakValue),
    warmupSteps: nonNegativeInteger(fn, 'warmupSteps', o.warmupSteps),
    stableSteps: nonNegativeInteger(fn, 'stableSteps', o.stableSteps),
    decaySteps: positiveInteger(fn, 'decaySteps', o.decaySteps),
    endValue: nonNegative(fn, 'endValue', o.endValue, 0),
    decayShape: oneOf(fn, 'decayShape', o.decayShape, ['linear', 'cos', '1-sqrt'], 'linear'),
  };
  const { initValue, peakValue, warmupSteps, endValue } = config;
  check(
    fn,
    'endValue',
    endValue,
    endValue <= peakValue,
    `must be ≤ peakValue (${peakValue}): the last stage decays`,
  );
  const decayStart = warmupSteps + config.stableSteps;
  const decayEnd = decayStart + config.decaySteps;
  const shape = SHAPES[config.decayShape];
  return defineSchedule(fn, config, (t) => {
    if (t < warmupSteps) return initValue + ((peakValue - initValue) * t) / warmupSteps;
    if (t < decayStart) return peakValue;
    if (t >= decayEnd) return endValue;
    return endValue + (peakValue - endValue) * shape((t - decayStart) / config.decaySteps);
  });
}
