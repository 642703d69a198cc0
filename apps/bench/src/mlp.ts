import * as tf from '@tensorflow/tfjs';
import { type Repetitions, type Timing, timeSteps } from './measure.js';

export const MLP_BATCH = 64;

/**
 * The MNIST MLP of the playground, 784-200-10 (159,010 parameters), with fixed initial weights, on
 * a fixed batch of 64 random "digits" with one-hot labels: the step time does not depend on the
 * data.
 */
function buildModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 200,
        activation: 'relu',
        inputShape: [784],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 10,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
}

export interface MlpTiming extends Timing {
  parameters: number;
}

/**
 * One training step, `model.trainOnBatch` on a batch of 64 (forward, backward, optimizer update,
 * and the read-back of the loss that tfjs-layers does), timed as the median of repeated steps.
 */
export async function timeMlpStep(
  createOptimizer: () => tf.Optimizer,
  reps: Repetitions,
): Promise<MlpTiming> {
  const model = buildModel();
  const optimizer = createOptimizer();
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const x = tf.randomUniform([MLP_BATCH, 784], 0, 1, 'float32', 7);
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([MLP_BATCH], 0, 10, 'int32', 8), 10).toFloat());
  try {
    const timing = await timeSteps(
      async () => {
        await model.trainOnBatch(x, y);
      },
      () => {},
      reps,
    );
    return { ...timing, parameters: model.countParams() };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
}
