import { loadOptimizer } from '@optimkit/core';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs';

/** What the resume example measured. */
export interface ResumeReport {
  lossBefore: number;
  lossAtSave: number;
  lossAfter: number;
  stateBytes: number;
  identicalToUninterrupted: boolean;
}

function makeModel(initial?: tf.Tensor[]): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 16, activation: 'relu', inputShape: [2] }),
      tf.layers.dense({ units: 1 }),
    ],
  });
  if (initial) model.setWeights(initial);
  return model;
}

/**
 * Trains a small regression model (y = sin(x₀) + x₁²) with `sgd` (Nesterov momentum), saves the
 * optimizer state half-way as optimkit bytes, restores it into a fresh optimizer with
 * `loadOptimizer`, trains on, and checks the result is bit-identical to never stopping.
 */
export async function resumeExample(epochs = 20): Promise<ResumeReport> {
  const x = tf.tidy(() => tf.randomUniform([256, 2], -1.5, 1.5, 'float32', 7));
  const y = tf.tidy(() => tf.add(tf.sin(x.slice([0, 0], [-1, 1])), tf.square(x.slice([0, 1], [-1, 1]))));
  const options = { learningRate: 0.02, momentum: 0.9, nesterov: true };
  const fit = { batchSize: 32, shuffle: false, verbose: 0 } as const;

  const reference = makeModel();
  const initial = reference.getWeights().map((w) => w.clone());
  reference.compile({ optimizer: sgd(options), loss: 'meanSquaredError' });
  const lossBefore = (reference.evaluate(x, y) as tf.Scalar).dataSync()[0]!;
  await reference.fit(x, y, { ...fit, epochs });

  const model = makeModel(initial);
  const first = sgd(options);
  model.compile({ optimizer: first, loss: 'meanSquaredError' });
  await model.fit(x, y, { ...fit, epochs: epochs / 2 });
  const lossAtSave = (model.evaluate(x, y) as tf.Scalar).dataSync()[0]!;
  const bytes = await first.saveState();
  first.dispose();

  const restored = await loadOptimizer(bytes);
  model.compile({ optimizer: restored, loss: 'meanSquaredError' });
  await model.fit(x, y, { ...fit, epochs: epochs / 2 });
  const lossAfter = (model.evaluate(x, y) as tf.Scalar).dataSync()[0]!;

  const a = reference.getWeights().map((w) => Array.from(w.dataSync()));
  const b = model.getWeights().map((w) => Array.from(w.dataSync()));
  const identicalToUninterrupted = JSON.stringify(a) === JSON.stringify(b);
  tf.dispose([x, y, ...initial]);
  reference.optimizer.dispose();
  restored.dispose();
  reference.dispose();
  model.dispose();
  return { lossBefore, lossAtSave, lossAfter, stateBytes: bytes.length, identicalToUninterrupted };
}
