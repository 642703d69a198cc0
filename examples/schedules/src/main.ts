/**
 * Schedules from @optimkit/schedules driving an optimizer: a warmup-cosine learning rate for
 * AdamW, stepped by the optimizer itself, and a reduce-on-plateau controller fed each epoch's
 * validation loss through a tfjs-layers callback.
 */

import { adamw } from '@optimkit/adam';
import { reduceOnPlateau, scheduleCallback, warmupCosine } from '@optimkit/schedules';
import * as tf from '@tensorflow/tfjs';

const xs = tf.randomUniform([200, 2], -1, 1, 'float32', 3);
const ys = xs.square().sum(1, true); // x₀² + x₁²

function makeModel(optimizer: tf.Optimizer): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 16,
        activation: 'tanh',
        inputShape: [2],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
    ],
  });
  model.compile({ optimizer, loss: 'meanSquaredError' });
  return model;
}

// 1. Warmup then cosine decay: 5 epochs of 4 batches = 20 steps; peak at step 4, 0 at step 20.
const learningRate = warmupCosine({ initValue: 0, peakValue: 0.05, warmupSteps: 4, decaySteps: 20 });
const cosineModel = makeModel(adamw({ learningRate, weightDecay: 1e-4 }));
const cosine = await cosineModel.fit(xs, ys, { epochs: 5, batchSize: 50, shuffle: false, verbose: 0 });

// 2. Reduce on plateau: halve the learning rate when the validation loss stops improving.
const plateau = reduceOnPlateau({ initValue: 0.05, factor: 0.5, patience: 1, threshold: 0.05 });
const callback = scheduleCallback({ schedules: { learningRate: plateau }, monitor: 'val_loss' });
const plateauModel = makeModel(adamw({ learningRate: plateau.schedule }));
await plateauModel.fit(xs, ys, {
  epochs: 12,
  batchSize: 50,
  validationSplit: 0.25,
  shuffle: false,
  verbose: 0,
  callbacks: callback,
});

console.log(
  JSON.stringify({
    warmupCosine: [0, 2, 4, 12, 20].map((step) => [step, learningRate(step)]),
    cosineLoss: cosine.history.loss,
    plateauLearningRates: callback.history.map((entry) => entry.learningRate),
    config: { scheduleName: learningRate.scheduleName, scheduleConfig: learningRate.scheduleConfig },
  }),
);
