/**
 * Every optimkit optimizer with the option sets of its family's fused-kernel tests
 * (`packages/*\/src/*-fused.test.ts`), and the problem they train: seeded variables of ranks 0–3 and
 * a 1e4-element matrix, with seeded gradients. Shared by the page (which runs them) and the Node
 * tests (which name them); pure TypeScript over `@tensorflow/tfjs-core`.
 */
import {
  type AdamaxOptions,
  type AdamOptions,
  type AdamWOptions,
  adam,
  adamax,
  adamw,
  type NAdamOptions,
  nadam,
  type RAdamOptions,
  radam,
} from '@optimkit/adam';
import {
  type AdadeltaOptions,
  type AdagradOptions,
  adadelta,
  adagrad,
  type RMSpropOptions,
  rmsprop,
} from '@optimkit/adaptive';
import { type AdafactorOptions, adafactor, type CAMEOptions, came } from '@optimkit/factored';
import { type LAMBOptions, type LARSOptions, lamb, lars } from '@optimkit/layerwise';
import { type LionOptions, lion } from '@optimkit/lion';
import { type SGDOptions, sgd } from '@optimkit/sgd';
import type * as tf from '@tensorflow/tfjs-core';

/** What a case needs of an optimizer: a tf.Optimizer whose slots can be read. */
export interface CaseOptimizer extends tf.Optimizer {
  getClassName(): string;
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

/** One optimizer and the option sets it is run with. */
export interface OptimizerCases {
  name: string;
  create: (options: object) => CaseOptimizer;
  optionSets: object[];
}

function entry<O extends object>(
  name: string,
  create: (options: O) => CaseOptimizer,
  optionSets: O[],
): OptimizerCases {
  return { name, create: create as (options: object) => CaseOptimizer, optionSets };
}

const rankAtMostOne = (v: tf.Variable) => v.rank <= 1;
const adamGroups = [{ match: rankAtMostOne, weightDecay: 0, learningRate: 0.05 }];

const nadamSets: NAdamOptions[] = [
  {},
  { learningRate: 0.02, momentumDecay: 0 },
  { learningRate: 0.02, weightDecay: 0.1 },
  {
    learningRate: 0.03,
    beta1: 0.8,
    beta2: 0.99,
    epsilon: 1e-3,
    weightDecay: 0.1,
    momentumDecay: 0.04,
    decoupledWeightDecay: true,
  },
  { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: adamGroups },
];

/** Every optimizer of every family, by catalog name. */
export const OPTIMIZERS: readonly OptimizerCases[] = [
  entry<SGDOptions>('sgd', sgd, [
    { learningRate: 0.1 },
    { learningRate: 0.05, momentum: 0.9 },
    { learningRate: 0.03, momentum: 0.8, dampening: 0.5, weightDecay: 0.01 },
    { learningRate: 0.02, momentum: 0.95, nesterov: true, weightDecay: 0.05 },
    { momentum: 0.5, dampening: 1 },
    { learningRate: 0.1, weightDecay: 0.2 },
    {
      learningRate: (step) => 0.1 / (1 + step),
      momentum: (step) => (step < 10 ? 0.9 : 0),
      paramGroups: [
        { match: (v: tf.Variable) => v.rank === 2, nesterov: true, momentum: 0.7, weightDecay: 0.1 },
        { match: (v: tf.Variable) => v.rank === 0, momentum: 0, learningRate: 0.5 },
      ],
    },
  ]),
  entry<AdagradOptions>('adagrad', adagrad, [
    {},
    { learningRate: 0.1, lrDecay: 0.05, weightDecay: 0.1, initialAccumulatorValue: 0.5, epsilon: 1e-3 },
    {
      learningRate: (s) => 0.05 / (1 + 0.1 * s),
      epsilon: 0.1,
      paramGroups: [{ match: (v: tf.Variable) => v.rank === 2, lrDecay: 0.2, weightDecay: 0.01 }],
    },
    { learningRate: 0.1, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1, epsilon: 1e-8 },
  ]),
  entry<RMSpropOptions>('rmsprop', rmsprop, [
    {},
    { learningRate: 0.01, alpha: 0.9, momentum: 0.9 },
    { learningRate: 0.02, alpha: 0.95, epsilon: 1e-4, weightDecay: 0.05, centered: true },
    {
      learningRate: (s) => 0.02 * 0.97 ** s,
      momentum: (s) => Math.min(0.9, 0.5 + 0.05 * s),
      alpha: (s) => 0.8 + 0.005 * s,
      epsilon: 1e-3,
      weightDecay: 0.01,
      centered: true,
    },
    {
      learningRate: 0.005,
      paramGroups: [{ match: (v: tf.Variable) => v.rank % 2 === 1, momentum: 0.8, centered: true }],
    },
    { learningRate: 0.01, momentum: (s) => (s < 8 ? 0.9 : 0), weightDecay: 0.1 },
  ]),
  entry<AdadeltaOptions>('adadelta', adadelta, [
    {},
    { learningRate: 0.5, rho: 0.95, epsilon: 1e-4, weightDecay: 0.1 },
    {
      learningRate: (s) => 2 / (1 + 0.05 * s),
      rho: (s) => 0.5 + 0.01 * s,
      epsilon: 1e-3,
      paramGroups: [{ match: (v: tf.Variable) => v.rank === 3, rho: 0.99, weightDecay: 0.01 }],
    },
  ]),
  entry<AdamOptions>('adam', adam, [
    {},
    { learningRate: 0.05, amsgrad: true },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0.1 },
    { learningRate: 0.03, beta1: 0, beta2: 0.9, amsgrad: true, weightDecay: 0.05 },
    {
      learningRate: (s) => 0.01 * 0.9 ** s,
      beta2: (s) => 0.99 - 0.001 * s,
      weightDecay: 0.1,
      paramGroups: adamGroups,
    },
  ]),
  entry<AdamWOptions>('adamw', adamw, [
    {},
    { learningRate: 0.05, weightDecay: 0.1, amsgrad: true },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, weightDecay: 0 },
    { learningRate: 0.03, beta2: 0.9, weightDecay: 0.5, amsgrad: true },
    { learningRate: (s) => 0.01 * 0.9 ** s, beta1: (s) => 0.5 + 0.02 * s, paramGroups: adamGroups },
  ]),
  entry<AdamaxOptions>('adamax', adamax, [
    {},
    { learningRate: 0.05, weightDecay: 0.1 },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-2 },
    { learningRate: 0.03, beta1: 0, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.05 },
    { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: adamGroups },
  ]),
  entry<NAdamOptions>('nadam', nadam, nadamSets),
  entry<RAdamOptions>('radam', radam, [
    {},
    { learningRate: 0.01, weightDecay: 0.1 },
    { learningRate: 0.01, beta1: 0.8, epsilon: 1e-3, weightDecay: 0.1, decoupledWeightDecay: true },
    { learningRate: 0.02, beta2: 0.9 },
    { learningRate: 0.005, beta2: 0.6 },
    { learningRate: (s) => 0.01 * 0.9 ** s, weightDecay: 0.1, paramGroups: adamGroups },
  ]),
  entry<LARSOptions>('lars', lars, [
    { learningRate: 5 },
    {
      learningRate: 2,
      momentum: 0.8,
      dampening: 0.3,
      weightDecay: 0.05,
      trustCoefficient: 0.02,
      epsilon: 1e-3,
      paramGroups: [{ match: rankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.05 }],
    },
    {
      learningRate: (step) => 3 / (1 + 0.1 * step),
      nesterov: true,
      weightDecay: 0.01,
      trustCoefficient: 0.01,
    },
    { learningRate: 1, momentum: 0, weightDecay: 0.1, trustCoefficient: 0.05 },
    { learningRate: 0.5, momentum: (step) => (step < 10 ? 0.9 : 0), epsilon: 1e-4, trustRatio: false },
  ]),
  entry<LAMBOptions>('lamb', lamb, [
    {},
    {
      learningRate: 0.02,
      beta1: 0.8,
      beta2: 0.95,
      epsilon: 1e-4,
      weightDecay: 0.1,
      paramGroups: [{ match: rankAtMostOne, weightDecay: 0, trustRatio: false, learningRate: 0.01 }],
    },
    { learningRate: (step) => 0.05 * 0.9 ** step, weightDecay: 0.3 },
    { learningRate: 0.01, weightDecay: 0.05, trustRatio: false },
  ]),
  entry<LionOptions>('lion', lion, [
    {},
    {
      learningRate: 0.01,
      beta1: 0.95,
      beta2: 0.98,
      weightDecay: 0.5,
      paramGroups: [{ match: rankAtMostOne, weightDecay: 0, learningRate: 0.003 }],
    },
    { learningRate: (step) => 0.02 * 0.95 ** step, beta1: 0.5, beta2: 0.6, weightDecay: 2 },
    { learningRate: 0.01, beta1: 0, beta2: (step) => 0.9 + 0.001 * step },
  ]),
  entry<AdafactorOptions>('adafactor', adafactor, [
    {},
    { warmupInit: true },
    { scaleParameter: false },
    { learningRate: 0.02 },
    { learningRate: 0.03, scaleParameter: false, beta1: 0.9, weightDecay: 0.1 },
    { clipThreshold: 0.5, decayRate: -0.5, epsilon2: 0.45, beta1: 0.5, weightDecay: 0.05 },
    { learningRate: (s) => 0.05 / (1 + 0.1 * s), scaleParameter: false, epsilon1: 1e-3, decayRate: 0 },
    {
      learningRate: 0.01,
      paramGroups: [{ match: (v: tf.Variable) => v.rank >= 2, beta1: 0.8, weightDecay: 0.1 }],
    },
  ]),
  entry<CAMEOptions>('came', came, [
    { learningRate: 2e-4 },
    { learningRate: 1e-2, weightDecay: 0.1 },
    {
      learningRate: 5e-3,
      beta1: 0.8,
      beta2: 0.99,
      beta3: 0.995,
      epsilon1: 1e-4,
      epsilon2: 1e-3,
      clipThreshold: 0.5,
      weightDecay: 0.02,
    },
    { learningRate: (s) => 0.01 * 0.9 ** s, clipThreshold: 3, beta2: 0.9 },
    {
      learningRate: 1e-3,
      paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, beta1: 0.5, beta2: 0.9, weightDecay: 0.1 }],
    },
  ]),
];

/** The optimizer of this catalog name. */
export function optimizerCases(name: string): OptimizerCases {
  const found = OPTIMIZERS.find((o) => o.name === name);
  if (!found) throw new Error(`no optimizer '${name}' in the catalog`);
  return found;
}

/** An option set as a label, schedules and `match` functions shown as `ƒ`. */
export function describeOptions(options: object): string {
  return JSON.stringify(options, (_key, value: unknown) => (typeof value === 'function' ? 'ƒ' : value));
}

// ---------------------------------------------------------------------------------------------
// The problem.

/** The variables' shapes: ranks 0–3 (as the families' fused tests) and a 1e4-element matrix. */
export const CASE_SHAPES: readonly (readonly number[])[] = [[], [5], [3, 4], [2, 3, 4], [100, 100]];

/** The variable that gets no gradient on some steps (its own step count falls behind). */
export const SKIPPING_VARIABLE = 3;

/** Whether the skipping variable gets a gradient at `step` (1-based). */
export const hasGradient = (variable: number, step: number) =>
  variable !== SKIPPING_VARIABLE || step % 5 !== 2;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function values(random: () => number, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** Gradient scale by step: large, then small (running averages shrink), then medium with spikes. */
function gradientScale(step: number): number {
  if (step <= 5) return 2;
  if (step <= 12) return 0.05;
  return step % 4 === 0 ? 3 : 0.5;
}

/** Initial values of the variables: seeded; the rank-1 one starts at zero (a norm of 0). */
export function initialValues(seed: number): Float32Array[] {
  const random = seededRandom(seed);
  return CASE_SHAPES.map((shape, v) =>
    v === 1 ? new Float32Array(size(shape)) : values(random, size(shape), 1),
  );
}

/**
 * The gradients of one step: seeded, with exact zeros (every 7th element) and an all-zero gradient
 * for the rank-1 variable on step 3; `null` where the variable gets none.
 */
export function gradientValues(seed: number, step: number): (Float32Array | null)[] {
  const random = seededRandom(seed * 1009 + step);
  return CASE_SHAPES.map((shape, v) => {
    const g = values(random, size(shape), gradientScale(step));
    for (let i = 0; i < g.length; i++) if ((i + step + v) % 7 === 0) g[i] = 0;
    if (v === 1 && step === 3) g.fill(0);
    return hasGradient(v, step) ? g : null;
  });
}

/** The tolerance of one element against the cpu backend's value: `1e-6 + 1e-4·|x|`. */
export const tolerance = (expected: number) => 1e-6 + 1e-4 * Math.abs(expected);
