/**
 * The layerwise tests' golden inputs (not exported by the package): variables of every rank, their
 * seeded float32-exact values and gradients, and float64 vector arithmetic for the references;
 * the harness is `runGolden` of `@optimkit/testing`.
 */

import {
  applyGradientValues as applyStep,
  countDownloads,
  expectClose,
  type GoldenOptimizer,
  type GoldenResult,
  type GoldenRun,
  makeVariables,
  seededRandom as mulberry32,
  float32Values as randomValues,
  runGolden,
} from '@optimkit/testing';
import type * as tf from '@tensorflow/tfjs-core';

export { applyStep, countDownloads, expectClose, makeVariables };

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}

/** Golden-test variables: ranks 0 to 3, and a last one that starts at zero (‖p‖ = 0 ⇒ ratio 1). */
export const shapes = [[], [5], [3, 4], [2, 3, 2], [2, 2]] as const;
/** Gradient scales per variable, so that the trust ratios differ widely between tensors. */
export const gradScales = [0.3, 2, 0.05, 1, 0.7];
export const STEPS = 30;
/** At this step the vector's gradient is all zeros (‖g‖ = 0: moments only decay, LARS's ratio is 1). */
export const ZERO_GRAD_STEP = 6;

export function initialValues(seed: number): Float64Array[] {
  const random = mulberry32(seed);
  return shapes.map((s, i) => (i === 4 ? new Float64Array(sizeOf(s)) : randomValues(random, sizeOf(s), 1)));
}

export function gradientsAt(seed: number, step: number): Float64Array[] {
  const random = mulberry32(seed * 1000 + step);
  return shapes.map((s, i) =>
    i === 1 && step === ZERO_GRAD_STEP
      ? new Float64Array(sizeOf(s))
      : randomValues(random, sizeOf(s), gradScales[i]!),
  );
}

export const isRankAtMostOne = (v: tf.Variable) => v.shape.length <= 1;

/**
 * The family's golden run: `STEPS` steps on `shapes` from `initialValues(seed)` with
 * `gradientsAt(seed, step)`, every element compared after every step.
 */
export function runLayerwiseGolden<O extends GoldenOptimizer>(
  seed: number,
  run: Pick<GoldenRun<O>, 'name' | 'create' | 'reference' | 'slots' | 'exactSlots' | 'after'>,
): GoldenResult {
  return runGolden({
    shapes,
    initial: initialValues(seed),
    gradients: (step) => gradientsAt(seed, step),
    steps: STEPS,
    ...run,
  });
}

/** What {@link runGoldenSteps} needs of an optimizer: a tf.Optimizer whose slots can be read. */
export type SlottedOptimizer = GoldenOptimizer;

/**
 * The family's golden run with a per-variable reference state: `reference.init` makes each
 * variable's state, `reference.step` advances it and the parameter in float64, and `checkState`
 * compares the optimizer's slots with it at the end.
 */
export function runGoldenSteps<S>(
  name: string,
  seed: number,
  optimizer: SlottedOptimizer,
  reference: {
    init: (p: Float64Array) => S;
    step: (p: Float64Array, g: Float64Array, state: S, index: number, step: number) => void;
  },
  checkState: (slots: Readonly<Record<string, tf.Tensor>>, state: S, label: string) => void,
): void {
  const states: S[] = [];
  runLayerwiseGolden(seed, {
    name,
    create: () => optimizer,
    reference: (p, g, { index, step, t }) => {
      if (t === 1) states[index] = reference.init(p);
      reference.step(p, g, states[index]!, index, step);
    },
    after: (o, variables) => {
      variables.forEach((v, i) => {
        checkState(o.getSlots(v.name) ?? {}, states[i]!, v.name);
      });
    },
  });
}
