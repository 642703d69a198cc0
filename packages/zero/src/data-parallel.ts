import * as tf from '@tensorflow/tfjs-core';
import type { Collective } from './collective.js';

/**
 * The gradients averaged over every rank (unsharded data parallelism, what Horovod and PyTorch's
 * `DistributedDataParallel` do): one `allReduce` of all gradients in variable-name order, each
 * sum divided by the world size. Every rank gets the same tensors, bit for bit; the caller
 * disposes them. With a plain optimizer this is the reference a {@link ZeroRedundancyOptimizer}
 * equals bit for bit.
 *
 * @example
 * ```ts
 * const { grads } = tf.variableGrads(() => loss(xSlice, ySlice));
 * const averaged = await averageGradients(collective, grads);
 * optimizer.applyGradients(averaged);
 * tf.dispose([grads, averaged]);
 * ```
 */
export async function averageGradients(
  collective: Collective,
  grads: tf.NamedTensorMap,
): Promise<tf.NamedTensorMap> {
  const names = Object.keys(grads).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const tensors = names.map((name) => {
    const grad = grads[name];
    if (!(grad instanceof tf.Tensor) || grad.isDisposed || grad.dtype !== 'float32') {
      throw new TypeError(`averageGradients: the gradient of '${name}' is not a live float32 tensor`);
    }
    return grad;
  });
  const flat = new Float32Array(tensors.reduce((a, t) => a + t.size, 0));
  let offset = 0;
  for (const t of tensors) {
    flat.set((await t.data()) as Float32Array, offset);
    offset += t.size;
  }
  const sum = await collective.allReduce(flat);
  const out: tf.NamedTensorMap = {};
  offset = 0;
  tensors.forEach((t, i) => {
    const values = sum.subarray(offset, offset + t.size);
    offset += t.size;
    out[names[i]!] = tf.tidy(() => tf.div(tf.tensor(values, t.shape, 'float32'), collective.worldSize));
  });
  return out;
}

/**
 * The rows of a batch of `batchSize` examples that `rank` of `worldSize` trains on: contiguous
 * slices of equal size (`batchSize` must divide evenly, so that the average over ranks is the
 * average over the batch).
 *
 * @example
 * ```ts
 * const { start, size } = batchSlice(collective.rank, collective.worldSize, 64);
 * const xs = x.slice([start, 0], [size, -1]);
 * ```
 */
export function batchSlice(
  rank: number,
  worldSize: number,
  batchSize: number,
): { start: number; size: number } {
  if (!Number.isInteger(batchSize) || batchSize <= 0 || batchSize % worldSize !== 0) {
    throw new RangeError(
      `batchSlice: batch size ${String(batchSize)} does not split evenly over ${worldSize} ranks`,
    );
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`batchSlice: invalid rank ${String(rank)} of ${worldSize}`);
  }
  const size = batchSize / worldSize;
  return { start: rank * size, size };
}
