/**
 * The optimizers the playground compares, as data: one `entry(…)` line per optimizer. Adding an
 * optimizer to every comparison (CLI, report, plots, web page) is adding one line to
 * {@link catalog}; its learning rate on the 2-D surfaces comes from the search in `surfaces.ts`
 * (recorded in `surface-learning-rates.json`, searched at run time when missing).
 */
import {
  adabelief as adabeliefOptimkit,
  adam,
  adamax,
  adamw,
  adopt,
  nadam,
  radam,
  yogi,
} from '@optimkit/adam';
import { adadelta, adagrad, rmsprop, rprop } from '@optimkit/adaptive';
import { ema, lookahead, swa } from '@optimkit/averaging';
import { adafactor, came, sm3 } from '@optimkit/factored';
import { lamb, lars, novograd } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { adan, ademamix } from '@optimkit/multi-momentum';
import { type MuonOptions, muon } from '@optimkit/muon';
import { partition } from '@optimkit/partition';
import { prodigy } from '@optimkit/prodigy';
import { scheduleFreeAdamW, scheduleFreeSgd } from '@optimkit/schedule-free';
import { asgd, sgd, signum } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';
import { adabelief } from './plugin/adabelief.js';

/** Where an optimizer comes from. */
export type Source = 'optimkit' | 'tf.train' | 'plugin';

/** The top-level hyperparameters a user may change (the web page); each optimizer takes those it has. */
export type Overrides = Partial<
  Record<'learningRate' | 'momentum' | 'beta1' | 'beta2' | 'weightDecay', number>
>;

/** One optimizer of the comparisons. */
export interface CatalogEntry {
  name: string;
  label: string;
  /** The panel of the small-multiple plots it is drawn in. */
  family: string;
  source: Source;
  /** Its hyperparameters for the MNIST MLP, in words (the report's tables). */
  hyperparameters: string;
  /** The optimizer for the 784-200-10 MNIST MLP, batch 64; `overrides` replace top-level options. */
  mnist: (overrides?: Overrides) => tf.Optimizer;
  /**
   * The optimizer for the 2-D surfaces at `learningRate`: the MNIST options without param groups
   * and without weight decay (decay would change the function being minimised).
   */
  surface: (learningRate: number, overrides?: Overrides) => tf.Optimizer;
}

type Options = Record<string, unknown>;

/** Biases and other vectors: no weight decay (and no trust ratio for LARS/LAMB), as usual. */
const vectors = (overrides: Options) => ({
  description: `rank ≤ 1: ${describeOptions(overrides)}`,
  groups: [{ match: (v: tf.Variable) => v.rank <= 1, ...overrides }],
});

function formatValue(value: unknown): string {
  if (typeof value !== 'number') return String(value);
  if (value !== 0 && (Math.abs(value) < 1e-2 || Math.abs(value) >= 1e4)) {
    return value.toExponential().replace(/\.?0*e\+?/, 'e');
  }
  return String(value);
}

export function describeOptions(options: Options): string {
  const parts = Object.entries(options).map(([key, value]) => `${key} ${formatValue(value)}`);
  return parts.length > 0 ? parts.join(', ') : 'defaults';
}

/**
 * A catalog entry from a factory and its MNIST options. `groups` adds param groups for MNIST;
 * `surface` replaces options on the 2-D surfaces.
 */
function entry<O extends object>(spec: {
  name: string;
  label: string;
  family: string;
  source?: Source;
  make: (options: O) => tf.Optimizer;
  options: O;
  groups?: ReturnType<typeof vectors>;
  surface?: Partial<O>;
}): CatalogEntry {
  const { make, options, groups } = spec;
  const build = (o: Options) => make(o as O);
  const base = options as Options;
  return {
    name: spec.name,
    label: spec.label,
    family: spec.family,
    source: spec.source ?? 'optimkit',
    hyperparameters: [describeOptions(base), groups?.description].filter(Boolean).join('; '),
    mnist: (overrides = {}) =>
      build({ ...base, ...(groups ? { paramGroups: groups.groups } : {}), ...overrides }),
    surface: (learningRate, overrides = {}) =>
      build({
        ...base,
        ...('weightDecay' in base ? { weightDecay: 0 } : {}),
        ...(spec.surface as Options | undefined),
        learningRate,
        ...overrides,
      }),
  };
}

// tf.train's factories take positional arguments; these take the same options objects as optimkit's.
const tfSgd = (o: { learningRate: number }) => tf.train.sgd(o.learningRate);
const tfMomentum = (o: { learningRate: number; momentum: number; nesterov?: boolean }) =>
  tf.train.momentum(o.learningRate, o.momentum, o.nesterov ?? false);
const tfAdam = (o: { learningRate: number; beta1?: number; beta2?: number; epsilon?: number }) =>
  tf.train.adam(o.learningRate, o.beta1, o.beta2, o.epsilon);

const noDecay = vectors({ weightDecay: 0 });

/**
 * The Muon recipe through `@optimkit/partition`: Muon for the hidden matrices, `@optimkit/adam`'s
 * AdamW for the head (the 10-output kernel) and every vector, biases without weight decay.
 * `learningRate`, `momentum` and `weightDecay` are Muon's; `adamwLearningRate` (default:
 * `learningRate`), `beta1` and `beta2` AdamW's. On the 2-D surfaces (no matrix) it is AdamW alone.
 */
const muonAdamW = (o: {
  learningRate: number;
  adamwLearningRate?: number;
  momentum?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
}) =>
  partition(
    {
      muon: muon({
        learningRate: o.learningRate,
        ...(o.momentum === undefined ? {} : { momentum: o.momentum }),
        ...(o.weightDecay === undefined ? {} : { weightDecay: o.weightDecay }),
      }),
      adamw: adamw({
        learningRate: o.adamwLearningRate ?? o.learningRate,
        ...(o.beta1 === undefined ? {} : { beta1: o.beta1 }),
        ...(o.beta2 === undefined ? {} : { beta2: o.beta2 }),
        weightDecay: o.weightDecay ?? 0,
        paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0 }],
      }),
    },
    (v) => (v.rank === 2 && v.shape[1] !== 10 ? 'muon' : 'adamw'),
  );

// The averaging wrappers around the options of their inner optimizer, evaluated with the average
// (see evaluateWithAverage). Their training runs are the inner's, so each inner is one the catalog
// does not have already (else the loss curves coincide): SWA's is SGD at a high constant rate, as
// the SWA recipe has it.
const lookaheadAdam = (o: Parameters<typeof adam>[0]) =>
  lookahead(adam(o), { syncPeriod: 5, slowStepSize: 0.5 });
const emaSgd = (o: Parameters<typeof sgd>[0]) => ema(sgd(o), { decay: 0.999, warmup: true });
const swaSgd = (o: Parameters<typeof sgd>[0]) => swa(sgd(o), { swaStart: 60, swaFrequency: 2 });

/** Every optimizer of the main comparison, in the order of the tables' families. */
// biome-ignore format: one line per optimizer, so that adding one is a one-line change
export const catalog: readonly CatalogEntry[] = [
  entry({ name: 'sgd', label: 'SGD + Nesterov', family: 'SGD', make: sgd, options: { learningRate: 0.05, momentum: 0.9, nesterov: true } }),
  entry({ name: 'tf-sgd', label: 'tf.train.sgd', family: 'SGD', source: 'tf.train', make: tfSgd, options: { learningRate: 0.1 } }),
  entry({ name: 'tf-momentum', label: 'tf.train.momentum', family: 'SGD', source: 'tf.train', make: tfMomentum, options: { learningRate: 0.05, momentum: 0.9, nesterov: true } }),
  entry({ name: 'adagrad', label: 'AdaGrad', family: 'Adaptive', make: adagrad, options: { learningRate: 0.03 } }),
  entry({ name: 'rmsprop', label: 'RMSProp', family: 'Adaptive', make: rmsprop, options: { learningRate: 1e-3 } }),
  entry({ name: 'adadelta', label: 'AdaDelta', family: 'Adaptive', make: adadelta, options: { learningRate: 1 } }),
  entry({ name: 'adam', label: 'Adam', family: 'Adam', make: adam, options: { learningRate: 1e-3 } }),
  entry({ name: 'amsgrad', label: 'AMSGrad', family: 'Adam', make: adam, options: { learningRate: 1e-3, amsgrad: true } }),
  entry({ name: 'adamw', label: 'AdamW', family: 'Adam', make: adamw, options: { learningRate: 1e-3, weightDecay: 1e-2 }, groups: noDecay }),
  entry({ name: 'adamw-int8', label: 'AdamW, 8-bit state', family: 'Adam', make: adamw, options: { learningRate: 1e-3, weightDecay: 1e-2, stateDtype: 'int8' as const }, groups: noDecay }),
  entry({ name: 'adamax', label: 'Adamax', family: 'Adam', make: adamax, options: { learningRate: 2e-3 } }),
  entry({ name: 'nadam', label: 'NAdam', family: 'Adam', make: nadam, options: { learningRate: 2e-3 } }),
  entry({ name: 'radam', label: 'RAdam', family: 'Adam', make: radam, options: { learningRate: 1e-3 } }),
  entry({ name: 'tf-adam', label: 'tf.train.adam', family: 'Adam', source: 'tf.train', make: tfAdam, options: { learningRate: 1e-3 } }),
  entry({ name: 'adabelief', label: 'AdaBelief (plugin)', family: 'Adam', source: 'plugin', make: adabelief, options: { learningRate: 1e-3 } }),
  entry({ name: 'lars', label: 'LARS', family: 'Layer-wise', make: lars, options: { learningRate: 5, momentum: 0.9, weightDecay: 1e-4 }, groups: vectors({ weightDecay: 0, trustRatio: false, learningRate: 0.05 }) }),
  entry({ name: 'lamb', label: 'LAMB', family: 'Layer-wise', make: lamb, options: { learningRate: 5e-3, weightDecay: 1e-2 }, groups: vectors({ weightDecay: 0, trustRatio: false }) }),
  entry({ name: 'lion', label: 'Lion', family: 'Sign-based', make: lion, options: { learningRate: 2e-4, weightDecay: 0.1 }, groups: noDecay }),
  entry({ name: 'adafactor', label: 'Adafactor', family: 'Factored', make: adafactor, options: {}, surface: { relativeStep: false, scaleParameter: false } }),
  entry({ name: 'came', label: 'CAME', family: 'Factored', make: came, options: { learningRate: 5e-4 } }),
  entry({ name: 'sm3', label: 'SM3', family: 'Factored', make: sm3, options: { learningRate: 0.1 } }),
  entry({ name: 'asgd', label: 'ASGD', family: 'SGD', make: asgd, options: { learningRate: 0.05 } }),
  entry({ name: 'signum', label: 'Signum', family: 'Sign-based', make: signum, options: { learningRate: 1e-3 } }),
  entry({ name: 'rprop', label: 'Rprop', family: 'Adaptive', make: rprop, options: { learningRate: 1e-3 } }),
  entry({ name: 'novograd', label: 'NovoGrad', family: 'Layer-wise', make: novograd, options: { learningRate: 1e-2 } }),
  entry({ name: 'adabelief-optimkit', label: 'AdaBelief', family: 'Adam', make: adabeliefOptimkit, options: { learningRate: 1e-3 } }),
  entry({ name: 'yogi', label: 'Yogi', family: 'Adam', make: yogi, options: { learningRate: 1e-3 } }),
  entry({ name: 'adopt', label: 'ADOPT', family: 'Adam', make: adopt, options: { learningRate: 1e-3 } }),
  entry({ name: 'adan', label: 'Adan', family: 'Multi-momentum', make: adan, options: { learningRate: 1e-3 } }),
  entry({ name: 'ademamix', label: 'AdEMAMix', family: 'Multi-momentum', make: ademamix, options: { learningRate: 1e-3 } }),
  entry({ name: 'muon', label: 'Muon (+ AdamW for vectors)', family: 'Muon', make: muon, options: { learningRate: 0.02 } as MuonOptions, groups: vectors({ useMuon: false, learningRate: 1e-3, weightDecay: 0 }), surface: { paramGroups: [{ match: () => true, useMuon: false }] } }),
  entry({ name: 'muon-adamw', label: 'Muon + AdamW (partition)', family: 'Muon', make: muonAdamW, options: { learningRate: 0.02, adamwLearningRate: 1e-3, weightDecay: 0.01 }, surface: { adamwLearningRate: undefined } }),
  entry({ name: 'schedule-free-adamw', label: 'Schedule-Free AdamW', family: 'Learning-rate-free', make: scheduleFreeAdamW, options: { learningRate: 2.5e-3 } }),
  entry({ name: 'schedule-free-sgd', label: 'Schedule-Free SGD', family: 'Learning-rate-free', make: scheduleFreeSgd, options: { learningRate: 0.1 } }),
  entry({ name: 'prodigy', label: 'Prodigy', family: 'Learning-rate-free', make: prodigy, options: {} }),
  entry({ name: 'lookahead-adam', label: 'Lookahead(Adam), k 5, α 0.5', family: 'Averaging', make: lookaheadAdam, options: { learningRate: 1e-3 } }),
  entry({ name: 'ema-sgd', label: 'EMA(SGD + momentum), decay 0.999, warmup', family: 'Averaging', make: emaSgd, options: { learningRate: 0.05, momentum: 0.9 } }),
  entry({ name: 'swa-sgd', label: 'SWA(SGD + Nesterov, high lr) from step 60', family: 'Averaging', make: swaSgd, options: { learningRate: 0.1, momentum: 0.9, nesterov: true } }),
];

/**
 * Runs `evaluate` with the second copy of the weights of an averaging optimizer (lookahead's slow
 * weights, ema's and swa's averages) swapped into the variables, then swaps back; for any other
 * optimizer, runs it as is. The comparisons measure test accuracy this way.
 */
export function evaluateWithAverage<T>(optimizer: tf.Optimizer, evaluate: () => T): T {
  const swap = optimizer as Partial<{ useAverage(): void; useTraining(): void }>;
  if (typeof swap.useAverage !== 'function' || typeof swap.useTraining !== 'function') return evaluate();
  swap.useAverage();
  try {
    return evaluate();
  } finally {
    swap.useTraining();
  }
}

/**
 * The classic experiment: the seven optimizers of the textbook MNIST comparison, each at its
 * customary default, which is Keras 2's (the values of the papers or lecture that introduced them:
 * Hinton's RMSProp lecture, lr 1e-3 and decay 0.9; Zeiler's AdaDelta, lr 1 and ρ 0.95; Kingma and
 * Ba's Adam, lr 1e-3, β 0.9/0.999); SGD, momentum and Nesterov share plain SGD's learning rate 1e-2
 * so that momentum is the only change. Every ε is optimkit's (PyTorch's) default.
 */
// biome-ignore format: one line per optimizer
export const classicExperiment: readonly CatalogEntry[] = [
  entry({ name: 'classic-sgd', label: 'SGD', family: 'SGD', make: sgd, options: { learningRate: 1e-2 } }),
  entry({ name: 'classic-momentum', label: 'SGD + momentum', family: 'SGD', make: sgd, options: { learningRate: 1e-2, momentum: 0.9 } }),
  entry({ name: 'classic-nesterov', label: 'Nesterov', family: 'SGD', make: sgd, options: { learningRate: 1e-2, momentum: 0.9, nesterov: true } }),
  entry({ name: 'classic-adagrad', label: 'AdaGrad', family: 'Adaptive', make: adagrad, options: { learningRate: 1e-2 } }),
  entry({ name: 'classic-rmsprop', label: 'RMSProp', family: 'Adaptive', make: rmsprop, options: { learningRate: 1e-3, alpha: 0.9 } }),
  entry({ name: 'classic-adadelta', label: 'AdaDelta', family: 'Adaptive', make: adadelta, options: { learningRate: 1, rho: 0.95 } }),
  entry({ name: 'classic-adam', label: 'Adam', family: 'Adam', make: adam, options: { learningRate: 1e-3, beta1: 0.9, beta2: 0.999 } }),
];

/** The families in the order of their first entry. */
export function familiesOf(entries: readonly { family: string }[]): string[] {
  return [...new Set(entries.map((e) => e.family))];
}

/** The catalog entries for `names` (all when empty); throws a one-line error naming the valid choices. */
export function selectOptimizers(names: readonly string[]): CatalogEntry[] {
  if (names.length === 0) return [...catalog];
  const unknown = names.filter((n) => !catalog.some((e) => e.name === n));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown optimizer${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid: ${catalog.map((e) => e.name).join(', ')}`,
    );
  }
  return names.map((n) => catalog.find((e) => e.name === n)!);
}

/** A mistake in how the program was called: reported in one line with a non-zero exit. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Bytes of optimizer state: optimkit reports its own; for tf.train, the size of its weights. */
export async function optimizerStateBytes(optimizer: tf.Optimizer): Promise<number> {
  const own = (optimizer as { stateBytes?: () => number }).stateBytes;
  if (typeof own === 'function') return own.call(optimizer);
  try {
    const weights = await optimizer.getWeights();
    const bytes = weights.slice(1).reduce((sum, w) => sum + w.tensor.size * 4, 0);
    weights[0]?.tensor.dispose();
    return bytes;
  } catch {
    return Number.NaN;
  }
}
