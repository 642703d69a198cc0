import * as tf from '@tensorflow/tfjs';
import { type CatalogEntry, evaluateWithAverage, optimizerStateBytes } from './catalog.js';
import { IMAGE_SIZE, type MnistData, mulberry32 } from './mnist.js';

/** One training run of the MLP with one optimizer and one seed. */
export interface MnistRun {
  optimizer: string;
  label: string;
  seed: number;
  /** The steps at which the loss was recorded: every `lossEvery` steps. */
  lossSteps: number[];
  /** The mean training loss of the `lossEvery` steps that end at each of `lossSteps`. */
  losses: number[];
  /** Test accuracy after each epoch. */
  epochAccuracy: number[];
  /** Mean training loss over the last epoch. */
  finalTrainLoss: number;
  testAccuracy: number;
  /** Wall time of the training steps alone (not the evaluations), in milliseconds. */
  trainMs: number;
  stateBytes: number;
  /** The first step whose loss was not finite, or null. */
  divergedAt: number | null;
}

export const BATCH_SIZE = 64;

/** The classic 784-200-10 ReLU MLP, its initial weights drawn from `seed`. */
export function makeMlp(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 200,
        activation: 'relu',
        inputShape: [IMAGE_SIZE],
        kernelInitializer: tf.initializers.heNormal({ seed: 1000 * seed + 1 }),
      }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1000 * seed + 2 }),
      }),
    ],
  });
}

/** The order of the training digits in `epoch` for `seed`: the same for every optimizer. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const random = mulberry32(seed * 7919 + epoch);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function accuracy(model: tf.Sequential, data: MnistData): number {
  return tf.tidy(() => {
    const predictions = model.predict(
      tf.tensor2d(data.testImages, [data.testCount, IMAGE_SIZE]),
    ) as tf.Tensor;
    const correct = tf.equal(tf.argMax(predictions, 1), tf.tensor1d(data.testLabels, 'int32'));
    return tf.mean(tf.cast(correct, 'float32')).dataSync()[0]!;
  });
}

/**
 * Trains the MLP with `entry`'s optimizer (cross-entropy, batch 64, `model.trainOnBatch` as tfjs
 * users do), the digits reshuffled every epoch from `seed`; the initial weights also come from
 * `seed`, so every optimizer of one seed starts from the same point and sees the same batches.
 */
export async function trainMnist(
  entry: CatalogEntry,
  data: MnistData,
  {
    epochs = 1,
    seed = 1,
    lossEvery = 30,
    onStep,
  }: { epochs?: number; seed?: number; lossEvery?: number; onStep?: () => void } = {},
): Promise<MnistRun> {
  const model = makeMlp(seed);
  const optimizer = entry.mnist();
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const run: MnistRun = {
    optimizer: entry.name,
    label: entry.label,
    seed,
    lossSteps: [],
    losses: [],
    epochAccuracy: [],
    finalTrainLoss: Number.NaN,
    testAccuracy: Number.NaN,
    trainMs: 0,
    stateBytes: Number.NaN,
    divergedAt: null,
  };
  const images = new Float32Array(data.trainCount * IMAGE_SIZE);
  const labels = new Int32Array(data.trainCount);
  let step = 0;
  let window: number[] = [];
  let lastEpoch: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = epochOrder(data.trainCount, seed, epoch);
    order.forEach((from, to) => {
      images.set(data.trainImages.subarray(from * IMAGE_SIZE, (from + 1) * IMAGE_SIZE), to * IMAGE_SIZE);
      labels[to] = data.trainLabels[from]!;
    });
    lastEpoch = [];
    for (let start = 0; start < data.trainCount; start += BATCH_SIZE) {
      const end = Math.min(start + BATCH_SIZE, data.trainCount);
      const xs = tf.tensor2d(images.subarray(start * IMAGE_SIZE, end * IMAGE_SIZE), [
        end - start,
        IMAGE_SIZE,
      ]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels.subarray(start, end), 'int32'), 10));
      const began = performance.now();
      const loss = (await model.trainOnBatch(xs, ys)) as number;
      run.trainMs += performance.now() - began;
      tf.dispose([xs, ys]);
      step += 1;
      if (!Number.isFinite(loss) && run.divergedAt === null) run.divergedAt = step;
      window.push(loss);
      lastEpoch.push(loss);
      if (step % lossEvery === 0) {
        run.lossSteps.push(step);
        run.losses.push(window.reduce((a, b) => a + b, 0) / window.length);
        window = [];
      }
      onStep?.();
    }
    run.epochAccuracy.push(evaluateWithAverage(optimizer, () => accuracy(model, data)));
  }
  run.finalTrainLoss = lastEpoch.reduce((a, b) => a + b, 0) / lastEpoch.length;
  run.testAccuracy = run.epochAccuracy[run.epochAccuracy.length - 1]!;
  run.stateBytes = await optimizerStateBytes(optimizer);
  optimizer.dispose();
  model.dispose();
  return run;
}
