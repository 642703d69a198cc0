import * as tf from '@tensorflow/tfjs';
import { type CatalogEntry, optimizerStateBytes } from './catalog.js';
import { IMAGE_SIZE, type MnistData } from './mnist.js';

/** The result of training the MLP with one optimizer. */
export interface MnistRun {
  optimizer: string;
  label: string;
  /** Training loss after each step. */
  losses: number[];
  /** Mean training loss over the last epoch. */
  finalTrainLoss: number;
  testAccuracy: number;
  msPerEpoch: number;
  stateBytes: number;
}

/** The classic 784-200-10 ReLU MLP, with seeded initial weights. */
export function makeMlp(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 200,
        activation: 'relu',
        inputShape: [IMAGE_SIZE],
        kernelInitializer: tf.initializers.heNormal({ seed }),
      }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

/** Trains the MLP with `entry`'s optimizer through `model.fit`, recording the loss of every step. */
export async function trainMnist(
  entry: CatalogEntry,
  data: MnistData,
  {
    epochs = 3,
    batchSize = 64,
    onStep,
  }: { epochs?: number; batchSize?: number; onStep?: (loss: number) => void } = {},
): Promise<MnistRun> {
  const xs = tf.tensor2d(data.trainImages, [data.trainCount, IMAGE_SIZE]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(data.trainLabels, 'int32'), 10));
  const model = makeMlp();
  const optimizer = entry.mnist();
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const losses: number[] = [];
  const epochTimes: number[] = [];
  let epochStart = 0;
  await model.fit(xs, ys, {
    epochs,
    batchSize,
    shuffle: false,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => {
        epochStart = performance.now();
      },
      onEpochEnd: async () => {
        epochTimes.push(performance.now() - epochStart);
      },
      onBatchEnd: async (_batch, logs) => {
        const loss = logs?.loss ?? Number.NaN;
        losses.push(loss);
        onStep?.(loss);
      },
    },
  });
  const stepsPerEpoch = Math.ceil(data.trainCount / batchSize);
  const lastEpoch = losses.slice(-stepsPerEpoch);
  const testAccuracy = tf.tidy(() => {
    const predictions = model.predict(
      tf.tensor2d(data.testImages, [data.testCount, IMAGE_SIZE]),
    ) as tf.Tensor;
    const correct = tf.equal(tf.argMax(predictions, 1), tf.tensor1d(data.testLabels, 'int32'));
    return tf.mean(tf.cast(correct, 'float32')).dataSync()[0]!;
  });
  const stateBytes = await optimizerStateBytes(optimizer);
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
  return {
    optimizer: entry.name,
    label: entry.label,
    losses,
    finalTrainLoss: lastEpoch.reduce((a, b) => a + b, 0) / lastEpoch.length,
    testAccuracy,
    msPerEpoch: epochTimes.reduce((a, b) => a + b, 0) / epochTimes.length,
    stateBytes,
  };
}
