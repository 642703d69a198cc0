import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { adam } from '@optimkit/adam';
import { ema, lookahead, swa } from '@optimkit/averaging';
import { sgd } from '@optimkit/sgd';
import { loadMnist } from '../src/mnist-node.js';
import { IMAGE_SIZE } from '../src/mnist.js';
import { BATCH_SIZE, epochOrder, makeMlp } from '../src/train-mnist.js';
import { quietTfjsBanner } from '../src/quiet.js';

quietTfjsBanner();
await tf.setBackend('wasm');
const data = loadMnist();
function accuracy(model: tf.Sequential): number {
  return tf.tidy(() => {
    const p = model.predict(tf.tensor2d(data.testImages, [data.testCount, IMAGE_SIZE])) as tf.Tensor;
    return tf.mean(tf.cast(tf.equal(tf.argMax(p, 1), tf.tensor1d(data.testLabels, 'int32')), 'float32')).dataSync()[0]!;
  });
}
const configs: [string, () => tf.Optimizer][] = [
  ['adam 1e-3', () => adam({ learningRate: 1e-3 })],
  ['lookahead(adam 1e-3) k5 a0.5', () => lookahead(adam({ learningRate: 1e-3 }))],
  ['sgd m0.9 lr0.05', () => sgd({ learningRate: 0.05, momentum: 0.9 })],
  ['ema(sgd m0.9 lr0.05) 0.999 warmup', () => ema(sgd({ learningRate: 0.05, momentum: 0.9 }), { decay: 0.999, warmup: true })],
  ['ema(sgd m0.9 lr0.05) 0.99', () => ema(sgd({ learningRate: 0.05, momentum: 0.9 }), { decay: 0.99 })],
  ['sgd nesterov lr0.1', () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true })],
  ['swa(sgd nesterov lr0.1) start 60 f2', () => swa(sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), { swaStart: 60, swaFrequency: 2 })],
];
const epochs = Number(process.argv[2] ?? 1);
for (const [name, make] of configs) {
  const accs: string[] = [];
  for (const seed of [1, 2, 3]) {
    const model = makeMlp(seed);
    const optimizer = make();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const images = new Float32Array(data.trainCount * IMAGE_SIZE);
    const labels = new Int32Array(data.trainCount);
    for (let epoch = 0; epoch < epochs; epoch++) {
      epochOrder(data.trainCount, seed, epoch).forEach((from, to) => {
        images.set(data.trainImages.subarray(from * IMAGE_SIZE, (from + 1) * IMAGE_SIZE), to * IMAGE_SIZE);
        labels[to] = data.trainLabels[from]!;
      });
      for (let start = 0; start < data.trainCount; start += BATCH_SIZE) {
        const end = Math.min(start + BATCH_SIZE, data.trainCount);
        const xs = tf.tensor2d(images.subarray(start * IMAGE_SIZE, end * IMAGE_SIZE), [end - start, IMAGE_SIZE]);
        const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels.subarray(start, end), 'int32'), 10));
        await model.trainOnBatch(xs, ys);
        tf.dispose([xs, ys]);
      }
    }
    const live = accuracy(model);
    const swap = optimizer as { useAverage?: () => void; useTraining?: () => void };
    let avg = Number.NaN;
    if (swap.useAverage) { swap.useAverage(); avg = accuracy(model); swap.useTraining!(); }
    accs.push(`${(live * 100).toFixed(2)}/${(avg * 100).toFixed(2)}`);
    optimizer.dispose();
    model.dispose();
  }
  console.log(`${epochs} epoch(s) ${name}: training/average accuracy per seed ${accs.join(' ')}`);
}
