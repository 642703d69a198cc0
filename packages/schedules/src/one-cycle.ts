import { defineSchedule, type NamedSchedule } from './schedule.js';
import {
  boolean,
  check,
  finite,
  nonNegative,
  oneOf,
  positive,
  positiveInteger,
  readOptions,
} from './validate.js';

/** Options of {@link oneCycle}. */
export interface OneCycleOptions {
  /** Length of the cycle in steps (integer > 0). */
  totalSteps: number;
  /** Peak learning rate (≥ 0). */
  maxValue: number;
  /** Fraction of the cycle spent rising to `maxValue`, in (0, 1), default `0.3`. */
  pctStart?: number;
  /** Interpolation between the phase ends, default `'cos'`. */
  anneal?: 'cos' | 'linear';
  /** `initial = maxValue / divFactor` (> 0), default `25`. */
  divFactor?: number;
  /** `min = initial / finalDivFactor` (> 0), default `1e4`. */
  finalDivFactor?: number;
  /** Fall back to `initial` symmetrically before annihilating to `min` (the paper's policy), default `false`. */
  threePhase?: boolean;
  /** Momentum (or beta1) at the peak learning rate, in [0, 1), default `0.85`. */
  baseMomentum?: number;
  /** Momentum (or beta1) at the start and end of the cycle, in [0, 1), default `0.95`. */
  maxMomentum?: number;
}

/** The options of a {@link oneCycle} schedule as stored in its `scheduleConfig`. */
export type OneCycleConfig = Required<OneCycleOptions>;

/** The two schedules of {@link oneCycle}. */
export interface OneCycleSchedules {
  /** The learning rate (`scheduleName` `'oneCycle'`). */
  learningRate: NamedSchedule<OneCycleConfig>;
  /** The momentum, annealed inversely; pass it as `momentum` or `beta1` (`scheduleName` `'oneCycleMomentum'`). */
  momentum: NamedSchedule<OneCycleConfig>;
}

interface Phase {
  end: number;
  startLr: number;
  endLr: number;
  startMomentum: number;
  endMomentum: number;
}

function readOneCycle(options: unknown): { config: OneCycleConfig; phases: Phase[] } {
  const fn = 'oneCycle';
  const o = readOptions(fn, options, [
    'totalSteps',
    'maxValue',
    'pctStart',
    'anneal',
    'divFactor',
    'finalDivFactor',
    'threePhase',
    'baseMomentum',
    'maxMomentum',
  ]);
  const config: OneCycleConfig = {
    totalSteps: positiveInteger(fn, 'totalSteps', o.totalSteps),
    maxValue: nonNegative(fn, 'maxValue', o.maxValue),
    pctStart: finite(fn, 'pctStart', o.pctStart, 0.3),
    anneal: oneOf(fn, 'anneal', o.anneal, ['cos', 'linear'], 'cos'),
    divFactor: positive(fn, 'divFactor', o.divFactor, 25),
    finalDivFactor: positive(fn, 'finalDivFactor', o.finalDivFactor, 1e4),
    threePhase: boolean(fn, 'threePhase', o.threePhase, false),
    baseMomentum: nonNegative(fn, 'baseMomentum', o.baseMomentum, 0.85),
    maxMomentum: nonNegative(fn, 'maxMomentum', o.maxMomentum, 0.95),
  };
  const { totalSteps: total, pctStart, baseMomentum, maxMomentum } = config;
  check(fn, 'pctStart', pctStart, pctStart > 0 && pctStart < 1, 'must be in (0, 1)');
  check(fn, 'baseMomentum', baseMomentum, baseMomentum < 1, 'must be in [0, 1)');
  check(fn, 'maxMomentum', maxMomentum, maxMomentum < 1, 'must be in [0, 1)');
  // PyTorch divides by zero here: the rising phase would start and end at step 0.
  check(
    fn,
    'pctStart',
    pctStart,
    pctStart * total !== 1,
    `pctStart · totalSteps must not be 1 (totalSteps: ${total}): the warmup phase would have no length`,
  );
  if (config.threePhase) {
    check(
      fn,
      'pctStart',
      pctStart,
      2 * pctStart * total - 2 < total - 1,
      `with threePhase, 2 · pctStart · totalSteps − 1 must be less than totalSteps (${total})`,
    );
  }
  const initial = config.maxValue / config.divFactor;
  const max = config.maxValue;
  const min = initial / config.finalDivFactor;
  const rise = { end: pctStart * total - 1, startLr: initial, endLr: max };
  const phases: Phase[] = config.threePhase
    ? [
        { ...rise, startMomentum: maxMomentum, endMomentum: baseMomentum },
        {
          end: 2 * pctStart * total - 2,
          startLr: max,
          endLr: initial,
          startMomentum: baseMomentum,
          endMomentum: maxMomentum,
        },
        {
          end: total - 1,
          startLr: initial,
          endLr: min,
          startMomentum: maxMomentum,
          endMomentum: maxMomentum,
        },
      ]
    : [
        { ...rise, startMomentum: maxMomentum, endMomentum: baseMomentum },
        { end: total - 1, startLr: max, endLr: min, startMomentum: baseMomentum, endMomentum: maxMomentum },
      ];
  return { config, phases };
}

function annealCos(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

function oneCycleValue(
  config: OneCycleConfig,
  phases: Phase[],
  key: 'Lr' | 'Momentum',
  step: number,
): number {
  const anneal = config.anneal === 'cos' ? annealCos : annealLinear;
  // PyTorch raises past total_steps; here the value stays at its final one, from step totalSteps − 1 on.
  const t = Math.min(step, config.totalSteps - 1);
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    const phase = phases[i]!;
    if (t <= phase.end || i === phases.length - 1) {
      const pct = (t - start) / (phase.end - start);
      return anneal(phase[`start${key}`], phase[`end${key}`], pct);
    }
    start = phase.end;
  }
  throw new Error('unreachable');
}

/**
 * The 1cycle policy (Smith & Topin, "Super-Convergence", arXiv 1708.07120) exactly as PyTorch's
 * `OneCycleLR`: the learning rate rises from `initial = maxValue / divFactor` to `maxValue`, then
 * anneals to `min = initial / finalDivFactor`; the momentum (or Adam's beta1) moves inversely,
 * `maxMomentum → baseMomentum → maxMomentum`. With `T = totalSteps`, `p = pctStart`:
 * ```
 * phase 1  steps 0 … pT − 1:        lr initial → maxValue,  momentum maxMomentum → baseMomentum
 * phase 2  steps pT − 1 … T − 1:    lr maxValue → min,      momentum baseMomentum → maxMomentum
 * (threePhase: phase 2 ends at 2pT − 2 going back to initial, then phase 3 goes initial → min
 *  up to T − 1 with momentum held at maxMomentum)
 * within a phase from step s to e:  pct = (t − s) / (e − s)
 * anneal 'cos':    end + (start − end) / 2 · (1 + cos(π · pct))
 * anneal 'linear': start + (end − start) · pct
 * ```
 * The phase ends are PyTorch's, fractional ones included (`pT − 1` need not be an integer).
 * Past the end, where PyTorch raises, both schedules stay at their value at step `T − 1` (`min`
 * and `maxMomentum`), so an extra step does not crash a training loop.
 *
 * Equivalent: PyTorch `OneCycleLR(max_lr, total_steps, pct_start=0.3, anneal_strategy='cos',
 * base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
 * three_phase=False)`; Optax `cosine_onecycle_schedule` is close but puts its phase ends at
 * `int(pT)` and `T`.
 *
 * @param options.totalSteps Cycle length, integer > 0 (required).
 * @param options.maxValue Peak learning rate, ≥ 0 (required).
 * @param options.pctStart Rising fraction, in (0, 1), default `0.3`; `pctStart · totalSteps` must not be 1.
 * @param options.anneal `'cos'` or `'linear'`, default `'cos'`.
 * @param options.divFactor `initial = maxValue / divFactor`, > 0, default `25`.
 * @param options.finalDivFactor `min = initial / finalDivFactor`, > 0, default `1e4`.
 * @param options.threePhase Paper's three phases, default `false`.
 * @param options.baseMomentum Momentum at the peak learning rate, in [0, 1), default `0.85`.
 * @param options.maxMomentum Momentum at the ends of the cycle, in [0, 1), default `0.95`.
 * @returns `{ learningRate, momentum }`; see {@link oneCycleLearningRate} for the learning rate alone.
 * @example
 * ```ts
 * const { learningRate, momentum } = oneCycle({ totalSteps: epochs * stepsPerEpoch, maxValue: 0.1 });
 * sgd({ learningRate, momentum });          // or adamw({ learningRate, beta1: momentum })
 * ```
 */
export function oneCycle(options: OneCycleOptions): OneCycleSchedules {
  const { config, phases } = readOneCycle(options);
  return {
    learningRate: defineSchedule('oneCycle', config, (t) => oneCycleValue(config, phases, 'Lr', t)),
    momentum: defineSchedule('oneCycleMomentum', config, (t) => oneCycleValue(config, phases, 'Momentum', t)),
  };
}

/**
 * The learning rate of {@link oneCycle} alone (same options, same values), for optimizers whose
 * momentum is not cycled.
 *
 * @example
 * ```ts
 * adamw({ learningRate: oneCycleLearningRate({ totalSteps: 10_000, maxValue: 3e-3 }) });
 * ```
 */
export function oneCycleLearningRate(options: OneCycleOptions): NamedSchedule<OneCycleConfig> {
  return oneCycle(options).learningRate;
}
