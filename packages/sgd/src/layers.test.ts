import { resumeThroughLayers, tensorsLeakedBySaving } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { sgd } from './index.js';

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

const fitOptions = { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 } as const;

describe('tfjs-layers integration', () => {
  it('model.fit → save with the optimizer → loadLayersModel → fit equals an uninterrupted run', async () => {
    const { xs, ys } = data();
    const options = { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 };
    const run = await resumeThroughLayers({
      makeModel,
      compile: (model) => model.compile({ optimizer: sgd(options), loss: 'meanSquaredError' }),
      xs,
      ys,
      fit: fitOptions,
      load: (artifacts) => tf.loadLayersModel(tf.io.fromMemory(artifacts)),
    });
    const { first, loaded, artifacts } = run;
    const optimizerConfig = artifacts.trainingConfig!.optimizer_config as { class_name: string };
    expect(optimizerConfig.class_name).toBe('OptimkitSGD');
    const optimizerSpecs = artifacts.weightSpecs!.filter((s) => s.group === 'optimizer');
    expect(optimizerSpecs[0]!.name).toBe('iter');
    // one bookkeeping entry and one momentum buffer per trainable weight
    expect(optimizerSpecs).toHaveLength(1 + 2 * first.trainableWeights.length);

    // Same process: the loaded model's variables get new names, so the state binds by position.
    const names = (model: tf.LayersModel) =>
      model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    expect(names(loaded)).not.toEqual(names(first));
    expect(loaded.optimizer.getClassName()).toBe('OptimkitSGD');
    expect(loaded.optimizer.iterations).toBe(12);
    expect(loaded.optimizer.getConfig()).toMatchObject(options);
    expect(await run.resume()).toEqual(run.expected);

    tf.dispose([xs, ys]);
    run.dispose();
  });

  it('a save with includeOptimizer leaks no tensor (tensorflow/tfjs#8238)', async () => {
    const { xs, ys } = data();
    const model = makeModel();
    model.compile({ optimizer: sgd({ learningRate: 0.01, momentum: 0.9 }), loss: 'meanSquaredError' });
    await model.fit(xs, ys, { ...fitOptions, epochs: 1 });
    expect(await tensorsLeakedBySaving(model)).toBe(0);
    tf.dispose([xs, ys]);
    model.optimizer.dispose();
    model.dispose();
  });
});
