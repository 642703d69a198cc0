/**
 * A page that trains a small model with adamw on tfjs's WebGL backend (optimkit's fused WebGL
 * kernels), saves the optimizer's state, restores it with loadOptimizer and trains on; it writes
 * what happened into #result as JSON.
 */

import { adamw } from '@optimkit/adam';
import { fusedKernelsActive, loadOptimizer } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs';

async function main() {
  await tf.setBackend('webgl');
  await tf.ready();
  // y = sin(3x), fitted by a 1-32-1 tanh network.
  const xs = tf.linspace(-1, 1, 128).reshape([128, 1]);
  const ys = xs.mul(3).sin();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 32, activation: 'tanh', inputShape: [1] }),
      tf.layers.dense({ units: 1 }),
    ],
  });
  const loss = () => tf.losses.meanSquaredError(ys, model.predict(xs) as tf.Tensor) as tf.Scalar;
  const initialLoss = tf.tidy(() => loss().dataSync()[0]!);

  const optimizer = adamw({ learningRate: 0.02, weightDecay: 1e-4 });
  for (let i = 0; i < 150; i++) optimizer.minimize(loss);
  const fused = fusedKernelsActive();
  const bytes = await optimizer.saveState();
  optimizer.dispose();

  const restored = await loadOptimizer(bytes);
  const tensorsBefore = tf.memory().numTensors;
  for (let i = 0; i < 150; i++) restored.minimize(loss);
  const finalLoss = tf.tidy(() => loss().dataSync()[0]!);

  const result = {
    backend: tf.getBackend(),
    fused,
    className: restored.getClassName(),
    iterations: restored.iterations,
    stateBytes: bytes.length,
    initialLoss,
    finalLoss,
    leaked: tf.memory().numTensors - tensorsBefore,
  };
  document.querySelector('#result')!.textContent = JSON.stringify(result);
  document.querySelector('#status')!.textContent = 'Done';
}

main().catch((error: unknown) => {
  document.querySelector('#result')!.textContent = JSON.stringify({ error: String(error) });
  document.querySelector('#status')!.textContent = 'Failed';
});
