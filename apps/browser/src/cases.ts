/**
 * Every optimkit optimizer with the option sets of its family's fused-kernel tests
 * (`packages/*\/src/*-fused.test.ts`), and the problem they train: seeded variables of ranks 0–3 and
 * a 1e4-element matrix, with seeded gradients. Shared by the page (which runs them) and the Node
 * tests (which name them); pure TypeScript over `@tensorflow/tfjs-core`.
 */
import {
  type AdaBeliefOptions,
  type AdamaxOptions,
  type AdamOptions,
  type AdamWOptions,
  type AdoptOptions,
  adabelief,
  adam,
  adamax,
  adamw,
  adopt,
  type NAdamOptions,
  nadam,
  type RAdamOptions,
  radam,
  type YogiOptions,
  yogi,
} from '@optimkit/adam';
import {
  type AdadeltaOptions,
  type AdagradOptions,
  adadelta,
  adagrad,
  type RMSpropOptions,
  type RpropOptions,
  rmsprop,
  rprop,
} from '@optimkit/adaptive';
import { Ema, Lookahead, Swa } from '@optimkit/averaging';
import {
  type AdafactorOptions,
  adafactor,
  type CAMEOptions,
  came,
  type SM3Options,
  sm3,
} from '@optimkit/factored';
import {
  type LAMBOptions,
  type LARSOptions,
  lamb,
  lars,
  type NovoGradOptions,
  novograd,
} from '@optimkit/layerwise';
import { type LionOptions, lion } from '@optimkit/lion';
import { type AdanOptions, type AdEMAMixOptions, adan, ademamix } from '@optimkit/multi-momentum';
import { type MuonOptions, muon } from '@optimkit/muon';
import { type ProdigyOptions, prodigy } from '@optimkit/prodigy';
import {
  type ScheduleFreeAdamWOptions,
  type ScheduleFreeSgdOptions,
  scheduleFreeAdamW,
  scheduleFreeSgd,
} from '@optimkit/schedule-free';
import { type ASGDOptions, asgd, type SGDOptions, type SignumOptions, sgd, signum } from '@optimkit/sgd';
import type * as tf from '@tensorflow/tfjs-core';
// The families' own option sets (test data their fused tests run too), by path: not part of the
// packages' published surface.
import {
  adabeliefCases,
  adamaxCases,
  adamCases,
  adamwCases,
  adoptCases,
  nadamCases,
  radamCases,
  yogiCases,
} from '../../../packages/adam/src/fused-cases.js';
import {
  adadeltaCases,
  adagradCases,
  rmspropCases,
  rpropCases,
} from '../../../packages/adaptive/src/fused-cases.js';
import { emaCases, lookaheadCases, swaCases } from '../../../packages/averaging/src/fused-cases.js';
import { adafactorCases, cameCases, sm3Cases } from '../../../packages/factored/src/fused-cases.js';
import { lambCases, larsCases, novogradCases } from '../../../packages/layerwise/src/fused-cases.js';
import { lionCases } from '../../../packages/lion/src/fused-cases.js';
import { adanCases, ademamixCases } from '../../../packages/multi-momentum/src/fused-cases.js';
import { muonCases } from '../../../packages/muon/src/fused-cases.js';
import { prodigyCases } from '../../../packages/prodigy/src/fused-cases.js';
import {
  scheduleFreeAdamWCases,
  scheduleFreeSgdCases,
} from '../../../packages/schedule-free/src/fused-cases.js';
import { asgdCases, sgdCases, signumCases } from '../../../packages/sgd/src/fused-cases.js';

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
  /**
   * The error it throws where `dataSync()` does not work (it reads values back synchronously every
   * step, as Prodigy's d estimate does); absent for optimizers that read nothing back.
   */
  needsSyncReads?: RegExp;
}

function entry<O extends object>(
  name: string,
  create: (options: O) => CaseOptimizer,
  optionSets: O[],
  needsSyncReads?: RegExp,
): OptimizerCases {
  return {
    name,
    create: create as (options: object) => CaseOptimizer,
    optionSets,
    ...(needsSyncReads ? { needsSyncReads } : {}),
  };
}

/** Every optimizer of every family, by catalog name. */
export const OPTIMIZERS: readonly OptimizerCases[] = [
  entry<SGDOptions>('sgd', sgd, sgdCases),
  entry<ASGDOptions>('asgd', asgd, asgdCases),
  entry<SignumOptions>('signum', signum, signumCases),
  entry<AdagradOptions>('adagrad', adagrad, adagradCases),
  entry<RMSpropOptions>('rmsprop', rmsprop, rmspropCases),
  entry<AdadeltaOptions>('adadelta', adadelta, adadeltaCases),
  entry<RpropOptions>('rprop', rprop, rpropCases),
  entry<AdamOptions>('adam', adam, adamCases),
  entry<AdamWOptions>('adamw', adamw, adamwCases),
  entry<AdamaxOptions>('adamax', adamax, adamaxCases),
  entry<NAdamOptions>('nadam', nadam, nadamCases),
  entry<RAdamOptions>('radam', radam, radamCases),
  entry<AdaBeliefOptions>('adabelief', adabelief, adabeliefCases),
  entry<YogiOptions>('yogi', yogi, yogiCases),
  entry<AdoptOptions>('adopt', adopt, adoptCases),
  entry<LARSOptions>('lars', lars, larsCases),
  entry<LAMBOptions>('lamb', lamb, lambCases),
  entry<NovoGradOptions>('novograd', novograd, novogradCases),
  entry<LionOptions>('lion', lion, lionCases),
  entry<AdafactorOptions>('adafactor', adafactor, adafactorCases),
  entry<CAMEOptions>('came', came, cameCases),
  entry<SM3Options>('sm3', sm3, sm3Cases),
  entry<AdanOptions>('adan', adan, adanCases),
  entry<AdEMAMixOptions>('ademamix', ademamix, ademamixCases),
  entry<MuonOptions>('muon', muon, muonCases),
  entry<ScheduleFreeAdamWOptions>('scheduleFreeAdamW', scheduleFreeAdamW, scheduleFreeAdamWCases),
  entry<ScheduleFreeSgdOptions>('scheduleFreeSgd', scheduleFreeSgd, scheduleFreeSgdCases),
  entry<ProdigyOptions>('prodigy', prodigy, prodigyCases, /synchronous reads do not work here/),
  // The wrappers' classes take the inner optimizer by className (`inner`) beside its options.
  entry<Record<string, unknown>>('lookahead', (o) => new Lookahead(o), lookaheadCases),
  entry<Record<string, unknown>>('ema', (o) => new Ema(o), emaCases),
  entry<Record<string, unknown>>('swa', (o) => new Swa(o), swaCases),
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
