/** One rank of the ZeRO bench (see zero.ts): times ZeRO and unsharded data-parallel AdamW. */
import { adamw } from '@optimkit/adam';
import { averageGradients, zero } from '@optimkit/zero';
import { reportResult, workerCollective, workerContext } from '@optimkit/zero/node';
import * as tf from '@tensorflow/tfjs';
import type { ZeroBenchConfig, ZeroRankResult } from './zero.js';

await tf.setBackend('cpu');
const config = workerContext().data as ZeroBenchConfig;
const collective = workerCollective();
const shapes = Array.from({ length: config.layers }, (_, i) => [
  [`layer${i}/kernel`, [config.width, config.width]],
  [`layer${i}/bias`, [config.width]],
]).flat() as [string, number[]][];

function setup(prefix: string) {
  const variables = shapes.map(([name, shape], i) =>
    tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, 0.05, 'float32', i), true, prefix + name)),
  );
  // A fixed gradient per rank (its slice of the batch), the same every step.
  const grads: tf.NamedTensorMap = Object.fromEntries(
    variables.map((v, i) => [v.name, tf.randomNormal(v.shape, 0, 1, 'float32', 1000 * collective.rank + i)]),
  );
  return { variables, grads };
}

async function time(steps: number, step: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const start = performance.now();
    await step();
    if (s > 0) times.push(performance.now() - start);
  }
  return [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] ?? Number.NaN;
}

const sharded = setup('zero/');
const optimizer = zero(adamw({ learningRate: 1e-3 }), { collective, variables: sharded.variables });
let sent = 0;
let received = 0;
const zeroMs = await time(config.steps, async () => {
  const report = await optimizer.step(sharded.grads);
  sent += report.bytesSent;
  received += report.bytesReceived;
});
const zeroStateBytes = optimizer.stateBytes();

const plain = setup('plain/');
const plainOptimizer = adamw({ learningRate: 1e-3 });
const plainMs = await time(config.steps, async () => {
  const averaged = await averageGradients(collective, plain.grads);
  plainOptimizer.applyGradients(averaged);
  tf.dispose(Object.values(averaged));
});
const result: ZeroRankResult = {
  rank: collective.rank,
  zeroStateBytes,
  plainStateBytes: plainOptimizer.stateBytes(),
  bytesSentPerStep: sent / config.steps,
  bytesReceivedPerStep: received / config.steps,
  zeroMsPerStep: zeroMs,
  plainMsPerStep: plainMs,
};
reportResult(result);
