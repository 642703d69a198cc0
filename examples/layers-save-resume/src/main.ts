/**
 * A tfjs-layers model trained with adamw, saved with its optimizer (`includeOptimizer: true`),
 * loaded back with `tf.loadLayersModel` and trained on: the result equals, bit for bit, a run that
 * never stopped. The model is saved to memory here; a file, IndexedDB or an HTTP endpoint works
 * the same way.
 */

// Importing the optimizer's module registers OptimkitAdamW, which tf.loadLayersModel needs.
import { adamw } from '@optimkit/adam';
import * as tf from '@tensorflow/tfjs';

const xs = tf.randomNormal([128, 4], 0, 1, 'float32', 7);
const ys = tf.oneHot(tf.argMax(xs.matMul(tf.randomNormal([4, 3], 0, 1, 'float32', 8)), 1), 3);

function makeModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        units: 16,
        activation: 'relu',
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  model.compile({
    optimizer: adamw({ learningRate: 1e-2, weightDecay: 1e-2 }),
    loss: 'categoricalCrossentropy',
  });
  return model;
}

const train = (model: tf.LayersModel, epochs: number) =>
  model.fit(xs, ys, { epochs, batchSize: 32, shuffle: false, verbose: 0 });
const bits = (model: tf.LayersModel) =>
  model.getWeights().flatMap((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));

// Straight through: 10 epochs.
const straight = makeModel();
await train(straight, 10);

// 4 epochs, save with the optimizer, load into a new model, 6 more epochs.
const first = makeModel();
await train(first, 4);
let saved: tf.io.ModelArtifacts | undefined;
await first.save(
  tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
  { includeOptimizer: true },
);
const resumed = await tf.loadLayersModel(tf.io.fromMemory(saved!));
const loss = (model: tf.LayersModel) => (model.evaluate(xs, ys) as tf.Scalar).dataSync()[0]!;
const lossAtSave = loss(resumed);
await train(resumed, 6);

const expected = bits(straight);
console.log(
  JSON.stringify({
    optimizer: resumed.optimizer.getClassName(),
    lossAtSave,
    lossAfter: loss(resumed),
    bitIdentical: bits(resumed).every((b, i) => b === expected[i]),
    weights: bits(resumed).length,
  }),
);
