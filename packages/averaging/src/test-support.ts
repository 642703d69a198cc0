/**
 * The float64 references of the wrappers' tests (not exported by the package): two inner
 * optimizers written from torch.optim (SGD with momentum, AdamW), the three averagings written
 * from docs/algorithms/averaging.md, and a golden run over ranks 0–3 that composes them.
 */
import '@optimkit/adam';
import '@optimkit/sgd';
import {
  describeOptimizerConformance,
  float32Values,
  type GoldenOptimizer,
  runGolden,
  seededRandom,
} from '@optimkit/testing';
import type * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { AveragingClass } from './wrapper.js';

/** One inner update of a variable, in place: its t-th (1 on the first), at optimizer step `step`. */
export type InnerReference = (
  p: Float64Array,
  g: Float64Array,
  state: Record<string, Float64Array>,
  t: number,
) => void;

export interface SgdHyper {
  learningRate: number;
  momentum: number;
  weightDecay: number;
}

/** torch.optim.SGD (dampening 0, not Nesterov): the buffer starts at the first gradient. */
export function sgdReference(h: SgdHyper): InnerReference {
  return (p, g, state, t) => {
    state.momentumBuffer ??= new Float64Array(p.length);
    const buf = state.momentumBuffer;
    for (let i = 0; i < p.length; i++) {
      const d = g[i]! + h.weightDecay * p[i]!;
      buf[i] = t === 1 ? d : h.momentum * buf[i]! + d;
      p[i] = p[i]! - h.learningRate * (h.momentum === 0 ? d : buf[i]!);
    }
  };
}

export interface AdamWHyper {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/** torch.optim.AdamW (amsgrad off). */
export function adamwReference(h: AdamWHyper): InnerReference {
  return (p, g, state, t) => {
    state.expAvg ??= new Float64Array(p.length);
    state.expAvgSq ??= new Float64Array(p.length);
    const m = state.expAvg;
    const v = state.expAvgSq;
    const bc1 = 1 - h.beta1 ** t;
    const bc2 = 1 - h.beta2 ** t;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - h.learningRate * h.weightDecay);
      m[i] = h.beta1 * m[i]! + (1 - h.beta1) * g[i]!;
      v[i] = h.beta2 * v[i]! + (1 - h.beta2) * g[i]! * g[i]!;
      p[i] = p[i]! - ((h.learningRate / bc1) * m[i]!) / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + h.epsilon);
    }
  };
}

/**
 * The averaging after a variable's t-th inner update: `p` the weights after it, `copy` the second
 * copy (the weights before the first update until the averaging first writes it); both in place.
 */
export type AveragingReference = (p: Float64Array, copy: Float64Array, t: number) => void;

/** docs/algorithms/averaging.md#lookahead: every k-th update, φ ← φ + α(θ − φ), θ ← φ. */
export function lookaheadReference(syncPeriod: number, slowStepSize: number): AveragingReference {
  return (p, copy, t) => {
    if (t % syncPeriod !== 0) return;
    for (let i = 0; i < p.length; i++) {
      copy[i] = copy[i]! + slowStepSize * (p[i]! - copy[i]!);
      p[i] = copy[i]!;
    }
  };
}

/** docs/algorithms/averaging.md#ema: avg ← d·avg + (1 − d)·θ, d of the t-th update. */
export function emaReference(decay: (t: number) => number): AveragingReference {
  return (p, copy, t) => {
    const d = decay(t);
    for (let i = 0; i < p.length; i++) copy[i] = d * copy[i]! + (1 - d) * p[i]!;
  };
}

/** docs/algorithms/averaging.md#swa: the equal-weight mean of updates start, start + f, … */
export function swaReference(swaStart: number, swaFrequency: number): AveragingReference {
  const counts = new WeakMap<Float64Array, number>();
  return (p, copy, t) => {
    if (t < swaStart || (t - swaStart) % swaFrequency !== 0) return;
    const n = (counts.get(copy) ?? 0) + 1;
    counts.set(copy, n);
    for (let i = 0; i < p.length; i++) copy[i] = n === 1 ? p[i]! : copy[i]! + (p[i]! - copy[i]!) / n;
  };
}

export const SHAPES = [[], [5], [3, 4], [2, 3, 2]] as const;
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export interface GoldenCase {
  /** The wrapped optimizer, made for the run's variables. */
  create: (variables: tf.Variable[]) => GoldenOptimizer;
  /** The inner reference of variable `index`. */
  inner: (index: number) => InnerReference;
  /** The averaging reference of variable `index`. */
  averaging: (index: number) => AveragingReference;
  /** The wrapper's slot holding the copy. */
  slot: string;
  /** The inner's slots to compare after the last step. */
  innerSlots: readonly string[];
  steps: number;
  seed: number;
  /** Steps at which variable `index` gets no gradient. */
  skip?: (index: number, step: number) => boolean;
}

/**
 * Runs a wrapped optimizer against the composed float64 reference on ranks 0–3 and returns the
 * worst error in units of the tolerance (every element, every step, then the slots).
 */
export function runWrappedGolden(c: GoldenCase): number {
  const random = seededRandom(c.seed);
  const initial = SHAPES.map((s) => float32Values(random, sizeOf(s), 1));
  const inners = SHAPES.map((_, i) => c.inner(i));
  const averagings = SHAPES.map((_, i) => c.averaging(i));
  const { worst } = runGolden({
    name: 'averagingGolden',
    shapes: SHAPES,
    initial,
    gradients: (step) =>
      SHAPES.map((s, i) => {
        const g = float32Values(random, sizeOf(s), 1);
        return c.skip?.(i, step) ? null : g;
      }),
    create: c.create,
    reference: (p, g, { index, t, state }) => {
      state.copy ??= Float64Array.from(p);
      inners[index]!(p, g, state, t);
      averagings[index]!(p, state.copy, t);
    },
    steps: c.steps,
    slots: (_index, state) => ({
      [c.slot]: state.copy!,
      ...Object.fromEntries(c.innerSlots.map((name) => [name, state[name]!])),
    }),
  });
  expect(worst).toBeLessThanOrEqual(1);
  return worst;
}

/** Biases and other vectors, the param groups of the tests. */
export const rankAtMostOne = (v: tf.Variable) => v.rank <= 1;

type Options = Record<string, unknown>;

/**
 * The conformance suite for a wrapper class, around SGD with momentum (`inner` left out) or AdamW
 * (`inner: 'OptimkitAdamW'`), with the wrapper's own option sets and error cases.
 */
export function describeWrapperConformance(
  name: string,
  cls: AveragingClass,
  optionSets: Options[],
  errorCases: { options: Options; error: string }[],
): void {
  describeOptimizerConformance<Options>({
    name,
    create: (options: Options = {}) =>
      new cls(
        options.inner === 'OptimkitAdamW'
          ? { learningRate: 0.05, ...options }
          : { inner: 'OptimkitSGD', learningRate: 0.05, momentum: 0.9, ...options },
      ),
    optionSets,
    quadratic: { options: { learningRate: 0.1 }, steps: 150, tolerance: 1e-4 },
    rosenbrock: {
      options: { inner: 'OptimkitAdamW', learningRate: 0.05, weightDecay: 0 },
      steps: 1500,
      tolerance: 1e-2,
    },
    errorCases: [...errorCases, { options: { learningRate: -1 }, error: 'Invalid learning rate: -1' }],
  });
}
