/**
 * Data-parallel training of the playground's MNIST MLP with ZeRO-sharded AdamW, the same on every
 * transport: Node worker threads (the report), Web Workers and in-process ranks (the page). Each
 * rank holds its own copy of the model, trains on its slice of every global batch, and
 * `ZeroRedundancyOptimizer.step` averages the gradients onto their owners, updates the owner's
 * shard of the AdamW state and shares the new weights.
 */
import { OptimkitOptimizer } from '@optimkit/core';
import { type AnyOptimkitOptimizer, type Collective, zero } from '@optimkit/zero';
import * as tf from '@tensorflow/tfjs';
import { catalog } from './catalog.js';
import { IMAGE_SIZE, type MnistData } from './mnist.js';
import { mean } from './stats.js';
import { epochOrder, makeMlp } from './train-mnist.js';

/** The names every rank gives the MLP's variables (in-process ranks share one engine). */
export const VARIABLE_NAMES = ['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias'] as const;

/** The world sizes of the report's section and of the page's menu. */
export const WORLD_SIZES = [1, 2, 4] as const;

/** What a data-parallel run trains: `steps` global batches of `batchSize` digits, the initial weights and order from `seed`. */
export interface DataParallelPlan {
  steps: number;
  /** The global batch, split evenly over the ranks. */
  batchSize: number;
  seed: number;
}

/** What one rank measured. */
export interface RankResult {
  rank: number;
  worldSize: number;
  /** The variables whose optimizer state this rank holds. */
  owned: string[];
  /** Bytes of optimizer state on this rank after training. */
  stateBytes: number;
  /** Per step: the loss of this rank's slice, wall time (ms), bytes sent and received. */
  losses: number[];
  stepMs: number[];
  bytesSent: number[];
  bytesReceived: number[];
  /** The final weights, in the order of {@link VARIABLE_NAMES}. */
  weights: Float32Array[];
}

/** The AdamW of the report's comparison (the catalog's: learning rate 1e-3, decay 1e-2, none on biases). */
export function makeAdamW(): AnyOptimkitOptimizer {
  const optimizer = catalog.find((e) => e.name === 'adamw')!.mnist();
  // Not instanceof: tf.Optimizer's duck-typed Symbol.hasInstance accepts every optimizer.
  if (!Object.prototype.isPrototypeOf.call(OptimkitOptimizer.prototype, optimizer)) {
    throw new TypeError('the catalog’s adamw is not an optimkit optimizer');
  }
  return optimizer as AnyOptimkitOptimizer;
}

/** The MLP's trained variables, in the order of {@link VARIABLE_NAMES}. */
function variablesOf(model: tf.Sequential): tf.Variable[] {
  return model.trainableWeights.map((w) => {
    const variable = w.read();
    if (!(variable instanceof tf.Variable)) throw new TypeError(`${w.name} is not backed by a tf.Variable`);
    return variable;
  });
}

/** The largest number of steps `data` gives without repeating a digit. */
export function stepsAvailable(data: MnistData, batchSize: number): number {
  return Math.floor(data.trainCount / batchSize);
}

/**
 * The digits of global batch `step` (the first epoch's order of `seed`, as in the rest of the
 * report), rows `start` to `start + size` of it.
 */
function batch(
  data: MnistData,
  order: Uint32Array,
  plan: DataParallelPlan,
  step: number,
  start: number,
  size: number,
) {
  const images = new Float32Array(size * IMAGE_SIZE);
  const labels = new Int32Array(size);
  for (let row = 0; row < size; row++) {
    const from = order[step * plan.batchSize + start + row]!;
    images.set(data.trainImages.subarray(from * IMAGE_SIZE, (from + 1) * IMAGE_SIZE), row * IMAGE_SIZE);
    labels[row] = data.trainLabels[from]!;
  }
  return tf.tidy(() => ({
    xs: tf.tensor2d(images, [size, IMAGE_SIZE]),
    ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 10),
  }));
}

function checkPlan(data: MnistData, plan: DataParallelPlan, worldSize: number): void {
  if (!Number.isInteger(plan.steps) || plan.steps < 1) {
    throw new RangeError(`data-parallel steps must be a positive whole number, got ${plan.steps}`);
  }
  if (plan.steps > stepsAvailable(data, plan.batchSize)) {
    throw new RangeError(
      `data-parallel steps: at most ${stepsAvailable(data, plan.batchSize)} batches of ${plan.batchSize} in ${data.trainCount} digits, got ${plan.steps}`,
    );
  }
  if (plan.batchSize % worldSize !== 0) {
    throw new RangeError(`the batch of ${plan.batchSize} does not split evenly over ${worldSize} ranks`);
  }
}

/**
 * The training digits in SharedArrayBuffers, without the test set: what the ranks' threads
 * receive (shared, not copied per thread).
 */
export function sharedTrainingSet(data: MnistData): MnistData {
  const images = new Float32Array(new SharedArrayBuffer(data.trainImages.byteLength));
  images.set(data.trainImages);
  const labels = new Uint8Array(new SharedArrayBuffer(data.trainLabels.byteLength));
  labels.set(data.trainLabels);
  return {
    trainImages: images,
    trainLabels: labels,
    trainCount: data.trainCount,
    testImages: new Float32Array(0),
    testLabels: new Uint8Array(0),
    testCount: 0,
  };
}

/** The MLP's categorical cross-entropy (what `model.compile({ loss: 'categoricalCrossentropy' })` uses). */
function loss(model: tf.Sequential, xs: tf.Tensor, ys: tf.Tensor): tf.Scalar {
  return tf.mean(tf.metrics.categoricalCrossentropy(ys, model.apply(xs, { training: true }) as tf.Tensor));
}

/**
 * One rank's run: its copy of the MLP (the same initial weights on every rank), its slice of each
 * of `plan.steps` global batches, ZeRO stage 2 around the catalog's AdamW. `onStep` is called
 * after every step.
 */
export async function trainRank(
  collective: Collective,
  data: MnistData,
  plan: DataParallelPlan,
  onStep?: (step: number) => void | Promise<void>,
): Promise<RankResult> {
  const { rank, worldSize } = collective;
  checkPlan(data, plan, worldSize);
  const model = makeMlp(plan.seed);
  const variables = variablesOf(model);
  const optimizer = zero(makeAdamW(), { collective, variables, names: VARIABLE_NAMES });
  const order = epochOrder(data.trainCount, plan.seed, 0);
  const size = plan.batchSize / worldSize;
  const result: RankResult = {
    rank,
    worldSize,
    owned: [...optimizer.ownedVariables],
    stateBytes: 0,
    losses: [],
    stepMs: [],
    bytesSent: [],
    bytesReceived: [],
    weights: [],
  };
  try {
    for (let step = 0; step < plan.steps; step++) {
      const { xs, ys } = batch(data, order, plan, step, rank * size, size);
      const began = performance.now();
      const { value, grads } = tf.variableGrads(() => loss(model, xs, ys), variables);
      const report = await optimizer.step(grads);
      result.stepMs.push(performance.now() - began);
      result.losses.push((await value.data())[0]!);
      result.bytesSent.push(report.bytesSent);
      result.bytesReceived.push(report.bytesReceived);
      tf.dispose([xs, ys, value, ...Object.values(grads)]);
      await onStep?.(step);
    }
    result.stateBytes = optimizer.stateBytes();
    result.weights = variables.map((v) => v.dataSync() as Float32Array);
    return result;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** Single-process training on the whole global batch: the reference of the data-parallel runs. */
export interface SingleProcessResult {
  losses: number[];
  stateBytes: number;
  weights: Float32Array[];
  /** Elements of each variable, in the order of {@link VARIABLE_NAMES}. */
  sizes: number[];
}

/** The same steps in one process, the whole batch at once, with the catalog's AdamW unsharded. */
export async function trainSingleProcess(
  data: MnistData,
  plan: DataParallelPlan,
  onStep?: (step: number) => void | Promise<void>,
): Promise<SingleProcessResult> {
  checkPlan(data, plan, 1);
  const model = makeMlp(plan.seed);
  const variables = variablesOf(model);
  const optimizer = makeAdamW();
  const order = epochOrder(data.trainCount, plan.seed, 0);
  const losses: number[] = [];
  try {
    for (let step = 0; step < plan.steps; step++) {
      const { xs, ys } = batch(data, order, plan, step, 0, plan.batchSize);
      const value = optimizer.minimize(() => loss(model, xs, ys), true, variables)!;
      losses.push((await value.data())[0]!);
      tf.dispose([xs, ys, value]);
      await onStep?.(step);
    }
    return {
      losses,
      stateBytes: optimizer.stateBytes(),
      weights: variables.map((v) => v.dataSync() as Float32Array),
      sizes: variables.map((v) => v.size),
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** Test accuracy of the MLP with `weights` (in the order of {@link VARIABLE_NAMES}). */
export function testAccuracy(data: MnistData, weights: readonly Float32Array[], seed = 1): number {
  const model = makeMlp(seed);
  try {
    return tf.tidy(() => {
      model.setWeights(variablesOf(model).map((v, i) => tf.tensor(weights[i]!, v.shape)));
      const predictions = model.predict(
        tf.tensor2d(data.testImages, [data.testCount, IMAGE_SIZE]),
      ) as tf.Tensor;
      const correct = tf.equal(tf.argMax(predictions, 1), tf.tensor1d(data.testLabels, 'int32'));
      return tf.mean(tf.cast(correct, 'float32')).dataSync()[0]!;
    });
  } finally {
    model.dispose();
  }
}

/** The largest |a − b| over every element of two weight lists of the same shapes. */
export function maxDifference(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((values, i) => {
    const other = b[i]!;
    for (let k = 0; k < values.length; k++) worst = Math.max(worst, Math.abs(values[k]! - other[k]!));
  });
  return worst;
}

/** Whether two weight lists are equal bit for bit. */
export function identical(a: readonly Float32Array[], b: readonly Float32Array[]): boolean {
  return (
    a.length === b.length &&
    a.every((values, i) => {
      const other = b[i]!;
      if (values.length !== other.length) return false;
      const x = new Uint32Array(values.buffer, values.byteOffset, values.length);
      const y = new Uint32Array(other.buffer, other.byteOffset, other.length);
      return x.every((bits, k) => bits === y[k]);
    })
  );
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The final training loss of a run: the mean loss of its last ten steps (all of them if fewer). */
export function finalLoss(losses: readonly number[]): number {
  return mean(losses.slice(-Math.min(10, losses.length)));
}

/** One world size's row of the table, from its ranks' results and the single-process reference. */
export interface DataParallelRow {
  worldSize: number;
  /** Per rank. */
  stateBytes: number[];
  owned: string[][];
  /** The unsharded state (single process) divided by the world size. */
  idealBytes: number;
  /** Mean per step after the first (which also carries ZeRO's handshake), per rank. */
  bytesSentPerStep: number[];
  bytesReceivedPerStep: number[];
  /** The median over steps after the first of the slowest rank's step time. */
  medianStepMs: number;
  /** The global batch's loss (mean of the ranks' slices) at every step. */
  losses: number[];
  /** Mean global-batch loss of the last `min(10, steps)` steps. */
  finalLoss: number;
  testAccuracy: number;
  ranksIdentical: boolean;
  /** The largest |difference| of any weight to single-process training on the whole batch. */
  maxDifferenceToSingle: number;
}

/** The row of one world size. */
export function summarizeRanks(
  ranks: readonly RankResult[],
  single: SingleProcessResult,
  data: MnistData,
  seed = 1,
): DataParallelRow {
  const worldSize = ranks.length;
  const steps = ranks[0]!.losses.length;
  const after = (values: readonly number[]) => mean(values.length > 1 ? values.slice(1) : values);
  const losses = Array.from({ length: steps }, (_, s) => mean(ranks.map((r) => r.losses[s]!)));
  const slowest = Array.from({ length: steps }, (_, s) => Math.max(...ranks.map((r) => r.stepMs[s]!)));
  return {
    worldSize,
    stateBytes: ranks.map((r) => r.stateBytes),
    owned: ranks.map((r) => r.owned),
    idealBytes: single.stateBytes / worldSize,
    bytesSentPerStep: ranks.map((r) => after(r.bytesSent)),
    bytesReceivedPerStep: ranks.map((r) => after(r.bytesReceived)),
    medianStepMs: median(slowest.length > 1 ? slowest.slice(1) : slowest),
    losses,
    finalLoss: finalLoss(losses),
    testAccuracy: testAccuracy(data, ranks[0]!.weights, seed),
    ranksIdentical: ranks.every((r) => identical(r.weights, ranks[0]!.weights)),
    maxDifferenceToSingle: Math.max(...ranks.map((r) => maxDifference(r.weights, single.weights))),
  };
}
