import { defineSchedule, type NamedSchedule } from './schedule.js';
import {
  check,
  nonNegative,
  nonNegativeInteger,
  oneOf,
  positive,
  positiveInteger,
  readOptions,
} from './validate.js';

/** Options of {@link cyclic}. */
export interface CyclicOptions {
  /** Value at the start of each cycle, the lower end of the triangle (≥ 0). */
  baseValue: number;
  /** Value at the apex of the first cycle (≥ 0; below `baseValue`, the triangle points down). */
  maxValue: number;
  /** Steps from `baseValue` up to the apex (integer > 0), default `2000`. */
  stepSizeUp?: number;
  /** Steps from the apex back down (integer ≥ 0), default `stepSizeUp`. */
  stepSizeDown?: number;
  /** How the amplitude shrinks, PyTorch's names: default `'triangular'` (never). */
  mode?: 'triangular' | 'triangular2' | 'exp_range';
  /** Amplitude factor per step of `'exp_range'` (> 0), default `1`; only that mode uses it. */
  gamma?: number;
}

/** The options of a {@link cyclic} schedule as stored in its `scheduleConfig`. */
export type CyclicConfig = Required<CyclicOptions>;

/**
 * Cyclical learning rates (Smith, "Cyclical Learning Rates for Training Neural Networks", WACV
 * 2017, arXiv 1506.01186) exactly as PyTorch's `CyclicLR`: a triangle wave between `baseValue` and
 * an apex, stepped once per batch. With `U = stepSizeUp`, `D = stepSizeDown`, `L = U + D`:
 * ```
 * cycle = ⌊1 + t / L⌋                    (1 in the first cycle)
 * x     = 1 + t / L − cycle              (position in the cycle, in [0, 1))
 * h     = x / (U / L)                    if x ≤ U / L   (rising)
 *       = (x − 1) / (U / L − 1)          otherwise      (falling)
 * value(t) = baseValue + (maxValue − baseValue) · h · scale
 * scale = 1                              'triangular'
 *       = 1 / 2^(cycle − 1)              'triangular2' (the amplitude halves each cycle)
 *       = gamma^t                        'exp_range'   (per step, not per cycle)
 * ```
 * The value is `baseValue` at steps `0, L, 2L, …` and reaches the apex at `U, L + U, …`. It has no
 * end: it cycles for ever (with `'triangular2'` and `'exp_range'` towards `baseValue`). `x` is
 * computed from the remainder `t mod L`, so it stays exact at large steps where PyTorch's
 * `1 + t / L − cycle` loses digits (1e-8 relative at step 1e9).
 *
 * Equivalent: PyTorch `CyclicLR(optimizer, base_lr, max_lr, step_size_up=2000,
 * step_size_down=None, mode='triangular', gamma=1.0, cycle_momentum=False)`, whose `last_epoch` is
 * the step here. PyTorch's momentum cycling (`cycle_momentum=True`, `momentum = max_momentum −
 * (max_momentum − base_momentum) · h · scale`) is a second `cyclic` that falls from `maxMomentum`:
 * `cyclic({ baseValue: max_momentum, maxValue: base_momentum, …same steps, mode and gamma })`, passed
 * as `momentum` (or Adam's `beta1`). PyTorch's custom `scale_fn`/`scale_mode` are not offered. The
 * mode names are PyTorch's, unchanged (as `'cos'` and `'rel'` are elsewhere in this package).
 *
 * @param options.baseValue Lower end, ≥ 0 (required).
 * @param options.maxValue Apex of the first cycle, ≥ 0 (required).
 * @param options.stepSizeUp Rising steps, integer > 0, default `2000`.
 * @param options.stepSizeDown Falling steps, integer ≥ 0, default `stepSizeUp` (`0`: a sawtooth).
 * @param options.mode `'triangular'`, `'triangular2'` or `'exp_range'`, default `'triangular'`.
 * @param options.gamma Factor per step of `'exp_range'`, > 0, default `1`; another value with
 *   another mode throws (PyTorch ignores it).
 * @example
 * ```ts
 * // 4 epochs of 500 batches up, 4 down, the amplitude halving each cycle
 * sgd({ learningRate: cyclic({ baseValue: 1e-3, maxValue: 6e-3, stepSizeUp: 2000, mode: 'triangular2' }), momentum: 0.9 });
 * // PyTorch's default CyclicLR, momentum cycled 0.9 → 0.8 → 0.9 against the learning rate
 * sgd({
 *   learningRate: cyclic({ baseValue: 1e-3, maxValue: 6e-3 }),
 *   momentum: cyclic({ baseValue: 0.9, maxValue: 0.8 }),
 * });
 * ```
 */
export function cyclic(options: CyclicOptions): NamedSchedule<CyclicConfig> {
  const fn = 'cyclic';
  const o = readOptions(fn, options, [
    'baseValue',
    'maxValue',
    'stepSizeUp',
    'stepSizeDown',
    'mode',
    'gamma',
  ]);
  const stepSizeUp = positiveInteger(fn, 'stepSizeUp', o.stepSizeUp, 2000);
  const config: CyclicConfig = {
    baseValue: nonNegative(fn, 'baseValue', o.baseValue),
    maxValue: nonNegative(fn, 'maxValue', o.maxValue),
    stepSizeUp,
    stepSizeDown: nonNegativeInteger(fn, 'stepSizeDown', o.stepSizeDown, stepSizeUp),
    mode: oneOf(fn, 'mode', o.mode, ['triangular', 'triangular2', 'exp_range'], 'triangular'),
    gamma: positive(fn, 'gamma', o.gamma, 1),
  };
  check(
    fn,
    'gamma',
    config.gamma,
    config.gamma === 1 || config.mode === 'exp_range',
    `only mode 'exp_range' uses gamma; mode is '${config.mode}'`,
  );
  const { baseValue, maxValue, mode, gamma } = config;
  const total = config.stepSizeUp + config.stepSizeDown;
  const ratio = config.stepSizeUp / total;
  return defineSchedule(fn, config, (t) => {
    // PyTorch's x = 1 + t / L − cycle, from the exact remainder: no rounding of t / L at large t.
    const rest = t % total;
    const cycle = (t - rest) / total + 1;
    const x = rest / total;
    const height = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    const scale = mode === 'triangular' ? 1 : mode === 'triangular2' ? 1 / 2 ** (cycle - 1) : gamma ** t;
    return baseValue + (maxValue - baseValue) * height * scale;
  });
}
