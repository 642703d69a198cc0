import { adam } from '@optimkit/adam';
import { sgd } from '@optimkit/sgd';
import { resumeThroughLayers, weightValues } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type AveragingOptimizer, ema, lookahead, swa } from './index.js';

function makeModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ units: 6, activation: 'tanh', inputShape: [3], kernelInitializer: 'glorotUniform' }),
  );
  model.add(tf.layers.dense({ units: 1 }));
  return model;
}

function data(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const x = Array.from({ length: 32 * 3 }, (_, i) => Math.sin(i * 0.37));
  const xs = tf.tensor2d(x, [32, 3]);
  const ys = tf.tidy(() => tf.sum(tf.mul(xs, tf.tensor1d([0.5, -1, 2])), 1, true).add(0.3) as tf.Tensor2D);
  return { xs, ys };
}

const variablesOf = (model: tf.LayersModel) => model.trainableWeights.map((w) => w.read() as tf.Variable);
const fitOptions = { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 } as const;

const cases: [string, () => AveragingOptimizer][] = [
  ['lookahead(adam)', () => lookahead(adam({ learningRate: 0.01 }), { syncPeriod: 4 })],
  ['ema(sgd)', () => ema(sgd({ learningRate: 0.05, momentum: 0.9 }), { decay: 0.9 })],
  ['swa(sgd)', () => swa(sgd({ learningRate: 0.05, momentum: 0.9 }), { swaStart: 5, swaFrequency: 2 })],
];

describe('tfjs-layers integration', () => {
  it.each(cases)(
    '%s: fit → useAverage → save with the optimizer → loadLayersModel holds the average; useTraining → fit equals an uninterrupted run',
    async (_name, create) => {
      const { xs, ys } = data();
      let averaged: number[][] = [];
      const run = await resumeThroughLayers({
        makeModel,
        compile: (model) => model.compile({ optimizer: create(), loss: 'meanSquaredError' }),
        xs,
        ys,
        fit: fitOptions,
        load: (artifacts) => tf.loadLayersModel(tf.io.fromMemory(artifacts)),
        beforeSave: async (model) => {
          (model.optimizer as unknown as AveragingOptimizer).useAverage();
          averaged = await weightValues(model);
        },
      });
      const { first, loaded } = run;
      expect(variablesOf(loaded).map((v) => v.name)).not.toEqual(variablesOf(first).map((v) => v.name));
      const restored = loaded.optimizer as unknown as AveragingOptimizer;
      expect(restored.getClassName()).toBe(first.optimizer.getClassName());
      expect(restored.usingAverage).toBe(true);
      expect(await weightValues(loaded)).toEqual(averaged);
      // The loaded model's variables are renamed: the restored state binds to them by position.
      restored.useTraining(variablesOf(loaded));
      expect(await run.resume()).toEqual(run.expected);

      tf.dispose([xs, ys]);
      run.dispose();
    },
  );
});
