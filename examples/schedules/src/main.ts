/**
 * Schedules from @optimkit/schedules driving an optimizer: a warmup-cosine learning rate for
 * AdamW, stepped by the optimizer itself, and a reduce-on-plateau controller fed each epoch's
 * validation loss through a tfjs-layers callback; then warmup-stable-decay, cyclic, an SWA
 * learning rate after a cosine decay, and a PyTorch-LambdaLR-like schedule whose factor function is
 * registered by name so that it can be saved.
 */

import { adamw } from '@optimkit/adam';
import {
  cosineDecay,
  cyclic,
  lambdaSchedule,
  reduceOnPlateau,
  registerScheduleFactor,
  scheduleCallback,
  scheduleFromConfig,
  swaLearningRate,
  warmupCosine,
  warmupStableDecay,
} from '@optimkit/schedules';
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

// 3. Warmup-stable-decay: 2 warmup steps, 12 at the peak, a 1 − sqrt cooldown over the last 6.
const wsd = warmupStableDecay({
  initValue: 0,
  peakValue: 0.05,
  warmupSteps: 2,
  stableSteps: 12,
  decaySteps: 6,
  decayShape: '1-sqrt',
});
const wsdModel = makeModel(adamw({ learningRate: wsd }));
const wsdFit = await wsdModel.fit(xs, ys, { epochs: 5, batchSize: 50, shuffle: false, verbose: 0 });

// 4. Cyclic (PyTorch CyclicLR, per batch), SWA after a cosine decay, and a registered factor.
const triangle = cyclic({ baseValue: 0.001, maxValue: 0.006, stepSizeUp: 4, mode: 'triangular2' });
const swa = swaLearningRate({
  before: cosineDecay({ initValue: 0.05, decaySteps: 20 }),
  swaStart: 10,
  swaLearningRate: 0.01,
  annealSteps: 4,
});
registerScheduleFactor('inverseSqrt', (step, { warmup }) =>
  Math.min((step + 1) / Number(warmup), Math.sqrt(Number(warmup) / (step + 1))),
);
const noam = lambdaSchedule({ initValue: 0.01, factor: 'inverseSqrt', factorOptions: { warmup: 4 } });
// Saved as its name and config, rebuilt with the same values.
const noamAgain = scheduleFromConfig(
  JSON.parse(JSON.stringify({ scheduleName: noam.scheduleName, scheduleConfig: noam.scheduleConfig })),
);

console.log(
  JSON.stringify({
    warmupCosine: [0, 2, 4, 12, 20].map((step) => [step, learningRate(step)]),
    cosineLoss: cosine.history.loss,
    plateauLearningRates: callback.history.map((entry) => entry.learningRate),
    config: { scheduleName: learningRate.scheduleName, scheduleConfig: learningRate.scheduleConfig },
    warmupStableDecay: [0, 1, 2, 13, 14, 17, 20].map((step) => [step, wsd(step)]),
    warmupStableDecayLoss: wsdFit.history.loss,
    cyclic: [0, 2, 4, 8, 12, 16].map((step) => [step, triangle(step)]),
    swaLearningRate: [0, 10, 12, 14, 30].map((step) => [step, swa(step)]),
    lambdaSchedule: [0, 3, 15].map((step) => [step, noam(step), noamAgain(step)]),
  }),
);
