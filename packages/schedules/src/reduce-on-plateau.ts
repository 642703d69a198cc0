import { defineSchedule, type JSONValue, makeStateful, type StatefulSchedule } from './schedule.js';
import { check, nonNegative, nonNegativeInteger, oneOf, readOptions } from './validate.js';

/** Options of {@link reduceOnPlateau}. */
export interface ReduceOnPlateauOptions {
  /** Value before any reduction (≥ 0). */
  initValue: number;
  /** `'min'`: the metric should decrease (a loss); `'max'`: increase (an accuracy). Default `'min'`. */
  mode?: 'min' | 'max';
  /** Factor applied on a plateau, in [0, 1), default `0.1`. */
  factor?: number;
  /** Bad epochs tolerated before reducing (integer ≥ 0), default `10`. */
  patience?: number;
  /** Minimal change that counts as an improvement (≥ 0), default `1e-4`. */
  threshold?: number;
  /** `'rel'`: relative to the best metric; `'abs'`: absolute. Default `'rel'`. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs after a reduction during which bad epochs are not counted (integer ≥ 0), default `0`. */
  cooldown?: number;
  /** Lower bound of the value (≥ 0), default `0`. */
  minValue?: number;
  /** A reduction smaller than this is skipped (≥ 0), default `1e-8`. */
  eps?: number;
}

/** The options of a {@link reduceOnPlateau} controller as stored in its schedule's `scheduleConfig`. */
export type ReduceOnPlateauConfig = Required<ReduceOnPlateauOptions>;

/** The controller made by {@link reduceOnPlateau}. */
export interface ReduceOnPlateau {
  /**
   * Feeds one metric (e.g. the validation loss of an epoch), reduces the value if it has not
   * improved for more than `patience` epochs, and returns the current value.
   */
  step(metric: number): number;
  /** The current value. */
  readonly value: number;
  /** The best metric so far (`Infinity` in min mode, `-Infinity` in max mode, before any). */
  readonly best: number;
  /** Epochs since the last improvement, as counted by PyTorch (reset by a reduction and in cooldown). */
  readonly numBadEpochs: number;
  /** Epochs of cooldown left. */
  readonly cooldownCounter: number;
  /** Number of metrics fed so far. */
  readonly epochs: number;
  /**
   * A schedule returning the current value whatever the step: pass it as `learningRate` (or any
   * hyperparameter). Its `stateful` property saves and restores this controller with the optimizer.
   */
  readonly schedule: StatefulSchedule<ReduceOnPlateauConfig>;
  /** A JSON snapshot of the state (value, best, counters). */
  saveState(): JSONValue;
  /** Restores a snapshot; throws and changes nothing if it is malformed or from another kind of controller or mode. */
  loadState(state: unknown): void;
}

const KIND = 'optimkit.reduceOnPlateau';
const VERSION = 1;

function encodeNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function decodeNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/**
 * A controller that lowers a value (typically the learning rate) when a monitored metric stops
 * improving, exactly as PyTorch's `ReduceLROnPlateau`. Each `step(metric)`:
 * ```
 * improved = metric < best · (1 − threshold)   (min, rel)    metric < best − threshold   (min, abs)
 *            metric > best · (1 + threshold)   (max, rel)    metric > best + threshold   (max, abs)
 * if improved: best = metric, numBadEpochs = 0   else numBadEpochs += 1
 * if cooldownCounter > 0: cooldownCounter −= 1, numBadEpochs = 0
 * if numBadEpochs > patience:
 *   new = max(value · factor, minValue); if value − new > eps: value = new
 *   cooldownCounter = cooldown, numBadEpochs = 0
 * ```
 * `best` starts at `Infinity` (min) or `-Infinity` (max), so the first metric always improves. A
 * NaN metric counts as a bad epoch, as in PyTorch. It has no end: it keeps its last value.
 *
 * Feed it once per epoch (e.g. with {@link scheduleCallback} in `model.fit`) and pass
 * `controller.schedule` as the hyperparameter; the optimizer saves and restores the controller's
 * state with its own through `schedule.stateful`.
 *
 * Equivalent: PyTorch `ReduceLROnPlateau(mode='min', factor=0.1, patience=10, threshold=1e-4,
 * threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)`; Keras `ReduceLROnPlateau` (whose
 * `min_delta` is this `threshold` in `'abs'` mode); Optax `contrib.reduce_on_plateau` (a transform).
 *
 * @param options.initValue Initial value, ≥ 0 (required).
 * @param options.mode `'min'` or `'max'`, default `'min'`.
 * @param options.factor Reduction factor, in [0, 1), default `0.1`.
 * @param options.patience Bad epochs tolerated, integer ≥ 0, default `10`.
 * @param options.threshold Significance threshold, ≥ 0, default `1e-4`.
 * @param options.thresholdMode `'rel'` or `'abs'`, default `'rel'`.
 * @param options.cooldown Epochs ignored after a reduction, integer ≥ 0, default `0`.
 * @param options.minValue Floor of the value, ≥ 0, default `0`.
 * @param options.eps Smallest reduction applied, ≥ 0, default `1e-8`.
 * @example
 * ```ts
 * const plateau = reduceOnPlateau({ initValue: 1e-3, patience: 5 });
 * const optimizer = adamw({ learningRate: plateau.schedule });
 * // once per epoch:
 * plateau.step(validationLoss);
 * ```
 */
export function reduceOnPlateau(options: ReduceOnPlateauOptions): ReduceOnPlateau {
  const fn = 'reduceOnPlateau';
  const o = readOptions(fn, options, [
    'initValue',
    'mode',
    'factor',
    'patience',
    'threshold',
    'thresholdMode',
    'cooldown',
    'minValue',
    'eps',
  ]);
  const config: ReduceOnPlateauConfig = {
    initValue: nonNegative(fn, 'initValue', o.initValue),
    mode: oneOf(fn, 'mode', o.mode, ['min', 'max'], 'min'),
    factor: nonNegative(fn, 'factor', o.factor, 0.1),
    patience: nonNegativeInteger(fn, 'patience', o.patience, 10),
    threshold: nonNegative(fn, 'threshold', o.threshold, 1e-4),
    thresholdMode: oneOf(fn, 'thresholdMode', o.thresholdMode, ['rel', 'abs'], 'rel'),
    cooldown: nonNegativeInteger(fn, 'cooldown', o.cooldown, 0),
    minValue: nonNegative(fn, 'minValue', o.minValue, 0),
    eps: nonNegative(fn, 'eps', o.eps, 1e-8),
  };
  check(fn, 'factor', config.factor, config.factor < 1, 'must be in [0, 1)');
  const { mode, factor, patience, threshold, thresholdMode, cooldown, minValue, eps } = config;
  const worst = mode === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;

  let value = config.initValue;
  let best = worst;
  let numBadEpochs = 0;
  let cooldownCounter = 0;
  let epochs = 0;

  const isBetter = (a: number): boolean => {
    if (mode === 'min') return thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  };

  const saveState = (): JSONValue => ({
    kind: KIND,
    version: VERSION,
    mode,
    value,
    best: encodeNumber(best),
    numBadEpochs,
    cooldownCounter,
    epochs,
  });

  const loadState = (state: unknown): void => {
    const fail = (why: string): never => {
      throw new TypeError(`reduceOnPlateau.loadState: ${why}`);
    };
    if (typeof state !== 'object' || state === null || Array.isArray(state))
      fail('the state must be an object');
    const s = state as Record<string, unknown>;
    if (s.kind !== KIND) {
      fail(`not a reduceOnPlateau state (kind: ${JSON.stringify(s.kind) ?? 'missing'})`);
    }
    if (s.version !== VERSION)
      fail(`unsupported state version ${JSON.stringify(s.version)} (expected ${VERSION})`);
    if (s.mode !== mode)
      fail(`the state was saved in mode ${JSON.stringify(s.mode)}, this controller is in mode '${mode}'`);
    const v = s.value;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`invalid value: ${JSON.stringify(v)}`);
    const b = decodeNumber(s.best);
    if (b === undefined) fail(`invalid best: ${JSON.stringify(s.best)}`);
    const counters = ['numBadEpochs', 'cooldownCounter', 'epochs'] as const;
    for (const key of counters) {
      const c = s[key];
      if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) {
        fail(`invalid ${key}: ${JSON.stringify(c)} (must be an integer ≥ 0)`);
      }
    }
    value = v as number;
    best = b as number;
    numBadEpochs = s.numBadEpochs as number;
    cooldownCounter = s.cooldownCounter as number;
    epochs = s.epochs as number;
  };

  const schedule = makeStateful(
    defineSchedule(fn, config, () => value),
    { saveState, loadState },
  );

  return {
    step(metric: number): number {
      if (typeof metric !== 'number') {
        throw new TypeError(`reduceOnPlateau.step: the metric must be a number, got ${typeof metric}`);
      }
      epochs += 1;
      if (isBetter(metric)) {
        best = metric;
        numBadEpochs = 0;
      } else numBadEpochs += 1;
      if (cooldownCounter > 0) {
        cooldownCounter -= 1;
        numBadEpochs = 0;
      }
      if (numBadEpochs > patience) {
        const reduced = Math.max(value * factor, minValue);
        if (value - reduced > eps) value = reduced;
        cooldownCounter = cooldown;
        numBadEpochs = 0;
      }
      return value;
    },
    get value() {
      return value;
    },
    get best() {
      return best;
    },
    get numBadEpochs() {
      return numBadEpochs;
    },
    get cooldownCounter() {
      return cooldownCounter;
    },
    get epochs() {
      return epochs;
    },
    schedule,
    saveState,
    loadState,
  };
}
