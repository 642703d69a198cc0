import { resumeThroughLayers } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { adamw } from './adamw.js';

// A dense kernel of 64 × 80 = 5120 values (8-bit moments) and biases of 80 and 1 (float32).
function makeModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ units: 80, activation: 'tanh', inputShape: [64], kernelInitializer: 'glorotUniform' }),
  );
  model.add(tf.layers.dense({ units: 1 }));
  return model;
}

const fitOptions = { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 } as const;

describe("stateDtype 'int8' through tfjs-layers", () => {
  it('fit → save with the optimizer → loadLayersModel → fit equals an uninterrupted run; codes stay int32', async () => {
    const xs = tf.tensor2d(
      Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i * 0.37)),
      [64, 64],
    );
    const ys = tf.tidy(() => tf.sum(xs, 1, true).mul(0.1) as tf.Tensor2D);
    const options = { learningRate: 1e-2, weightDecay: 0.05, stateDtype: 'int8' } as const;

    const run = await resumeThroughLayers({
      makeModel,
      compile: (model) => model.compile({ optimizer: adamw(options), loss: 'meanSquaredError' }),
      xs,
      ys,
      fit: fitOptions,
      load: (artifacts) => tf.loadLayersModel(tf.io.fromMemory(artifacts)),
    });
    const specs = run.artifacts.weightSpecs!.filter((s) => s.group === 'optimizer');
    const codes = specs.filter((s) => s.name.endsWith('/expAvgCodes'));
    expect(codes).toHaveLength(1);
    expect(codes[0]!.dtype).toBe('int32');
    expect(codes[0]!.shape).toEqual([20 * 64]);
    expect(run.loaded.optimizer.getConfig()).toMatchObject({ stateDtype: 'int8' });
    expect(await run.resume()).toEqual(run.expected);

    tf.dispose([xs, ys]);
    run.dispose();
  });
});
