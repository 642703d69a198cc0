import { loadOptimizer } from '@optimkit/core';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs';

// y = 3x − 1 with a little noise, and a one-neuron model to learn it.
const xs = tf.randomUniform([256, 1], -1, 1, 'float32', 1);
const ys = xs
  .mul(3)
  .sub(1)
  .add(tf.randomNormal([256, 1], 0, 0.05, 'float32', 2));
const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });

const optimizer = sgd({
  learningRate: 0.05,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }], // no decay for biases
});
model.compile({ optimizer, loss: 'meanSquaredError' });
await model.fit(xs, ys, { epochs: 20, batchSize: 32, verbose: 0 });

const bytes = await optimizer.saveState(); // Uint8Array: write it anywhere
const restored = await loadOptimizer(bytes); // same class, config, steps and slots
model.compile({ optimizer: restored, loss: 'meanSquaredError' });
await model.fit(xs, ys, { epochs: 5, batchSize: 32, verbose: 0 }); // continues where it stopped
console.log(JSON.stringify(model.getWeights().map((w) => Array.from(w.dataSync())))); // ≈ [[3], [−1]]
