/**
 * Test support (not part of the package entry): a data-parallel problem whose per-rank gradients
 * are deterministic functions of the parameters, the world size, the rank and the step, and the
 * families every ZeRO test runs. Also imported by the worker and MPI test scripts.
 */
import { adam, adamax, adamw, nadam, radam } from '@optimkit/adam';
import { adadelta, adagrad, rmsprop } from '@optimkit/adaptive';
import { adafactor, came } from '@optimkit/factored';
import { lamb, lars } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { sgd } from '@optimkit/sgd';
import { seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { sumInRankOrder } from './collective.js';
import type { AnyOptimkitOptimizer } from './zero-optimizer.js';

/** The variables of the problem: ranks 0 to 4, one large matrix, biases, a scalar. */
export const SHAPES: Record<string, number[]> = {
  'dense/kernel': [6, 5],
  'dense/bias': [5],
  'conv/kernel': [2, 3, 2, 2],
  'embedding/table': [7, 3],
  'norm/scale': [4],
  temperature: [],
  'head/kernel': [5, 2],
};

/** Examples in a global batch: every world size that divides it splits it evenly. */
export const BATCH = 4;

/** The one family option set per optimizer, each with a param group for rank ≤ 1 variables. */
export const FAMILIES: { name: string; create: () => AnyOptimkitOptimizer }[] = [
  {
    name: 'sgd',
    create: () => sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
  },
  { name: 'adagrad', create: () => adagrad({ learningRate: 0.05, lrDecay: 0.01 }) },
  { name: 'rmsprop', create: () => rmsprop({ learningRate: 0.01, centered: true, momentum: 0.5 }) },
  { name: 'adadelta', create: () => adadelta({ weightDecay: 0.01 }) },
  { name: 'adam', create: () => adam({ learningRate: 0.01, amsgrad: true, weightDecay: 0.01 }) },
  {
    name: 'adamw',
    create: () => adamw({ learningRate: 0.01, paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }] }),
  },
  { name: 'adamax', create: () => adamax({ learningRate: 0.01 }) },
  {
    name: 'nadam',
    create: () => nadam({ learningRate: 0.01, decoupledWeightDecay: true, weightDecay: 0.01 }),
  },
  { name: 'radam', create: () => radam({ learningRate: 0.01 }) },
  { name: 'lars', create: () => lars({ learningRate: 0.1, weightDecay: 1e-3 }) },
  {
    name: 'lamb',
    create: () =>
      lamb({
        learningRate: 0.01,
        weightDecay: 0.01,
        paramGroups: [{ match: (v) => v.rank <= 1, trustRatio: false }],
      }),
  },
  { name: 'lion', create: () => lion({ learningRate: 1e-3, weightDecay: 0.1 }) },
  { name: 'adafactor', create: () => adafactor({ beta1: 0.9 }) },
  { name: 'came', create: () => came({ learningRate: 1e-3, weightDecay: 0.01 }) },
  {
    // core's per-variable gradient transforms, which each owner applies to its whole variables
    name: 'adamw-transforms',
    create: () =>
      adamw({
        learningRate: 0.01,
        centralize: true,
        adaptiveGradClip: 0.05,
        maximize: true,
        skipNonFinite: true,
      }),
  },
];

/** The starting values of every variable (the same on every rank). */
export function initialValues(seed = 1): Record<string, Float32Array> {
  const random = seededRandom(seed);
  return Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape]) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return [name, Float32Array.from({ length: size }, () => random() * 2 - 1)];
    }),
  );
}

/** Creates the problem's variables, each named `prefix + name`. */
export function createVariables(prefix: string, values = initialValues()): Record<string, tf.Variable> {
  return Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape]) => [
      name,
      tf.tidy(() => tf.variable(tf.tensor(values[name]!, shape), true, prefix + name)),
    ]),
  );
}

/** Deterministic per-example data: a coefficient and a noise vector per variable, step and example. */
function exampleData(
  name: string,
  size: number,
  step: number,
  example: number,
): { c: number; noise: Float32Array } {
  let seed = step * 7919 + example * 104729;
  for (const ch of name) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const random = seededRandom(seed);
  return { c: 0.5 + random(), noise: Float32Array.from({ length: size }, () => random() * 2 - 1) };
}

/**
 * The gradient of rank `rank` of `worldSize` at `step`: the mean over its slice of the global
 * batch of `p · c_e + noise_e` (a quadratic's gradient with per-example targets). Keys are the
 * variables' own names. `poison` puts a NaN in one element.
 */
export function rankGradients(
  variables: Record<string, tf.Variable>,
  rank: number,
  worldSize: number,
  step: number,
  poison = false,
): tf.NamedTensorMap {
  const per = BATCH / worldSize;
  const out: tf.NamedTensorMap = {};
  for (const [name, variable] of Object.entries(variables)) {
    out[variable.name] = tf.tidy(() => {
      let sum: tf.Tensor = tf.zerosLike(variable);
      for (let e = rank * per; e < (rank + 1) * per; e++) {
        const { c, noise } = exampleData(name, variable.size, step, e);
        sum = tf.add(sum, tf.add(tf.mul(variable, c), tf.tensor(noise, variable.shape)));
      }
      const g = tf.div(sum, per);
      return poison && name === 'dense/bias' ? tf.add(g, tf.tensor1d([Number.NaN, 0, 0, 0, 0])) : g;
    });
  }
  return out;
}

/**
 * What data-parallel training feeds the optimizer at `step` with `worldSize` ranks, computed in
 * one process: every rank's gradient summed in rank order in float32 and divided by the world
 * size, exactly as the collectives do. Keys are the variables' own names.
 */
export function averagedGradients(
  variables: Record<string, tf.Variable>,
  worldSize: number,
  step: number,
): tf.NamedTensorMap {
  const perRank = Array.from({ length: worldSize }, (_, r) => rankGradients(variables, r, worldSize, step));
  const out: tf.NamedTensorMap = {};
  for (const variable of Object.values(variables)) {
    const contributions = perRank.map((g) => g[variable.name]!.dataSync() as Float32Array);
    const sum = sumInRankOrder(contributions, new Float32Array(variable.size));
    out[variable.name] = tf.tidy(() => tf.div(tf.tensor(sum, variable.shape), worldSize));
  }
  for (const g of perRank) tf.dispose(Object.values(g));
  return out;
}

/** The values of variables keyed by their problem name. */
export function snapshot(variables: Record<string, tf.Variable>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(variables).map(([name, v]) => [name, Array.from(v.dataSync())]));
}

/** Disposes every variable of the problem. */
export function disposeVariables(variables: Record<string, tf.Variable>): void {
  for (const v of Object.values(variables)) v.dispose();
}
