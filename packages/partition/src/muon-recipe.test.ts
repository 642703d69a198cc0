import { adamw } from '@optimkit/adam';
import { fusedKernelName } from '@optimkit/core';
import { muon } from '@optimkit/muon';
import {
  fusedUpdates,
  recordKernelCalls,
  resumeThroughLayers,
  tensorsLeakedBySaving,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type Partition, partition } from './index.js';

// The recipe of packages/muon/README.md: Muon for the hidden matrices, AdamW for the embedding,
// the head, biases and gains.
const hiddenMatrix = (v: tf.Variable) => v.rank === 2 && !/embed|head/.test(v.name);

function recipe(): Partition {
  return partition(
    {
      muon: muon({ learningRate: 0.02, weightDecay: 0.01 }),
      adamw: adamw({ learningRate: 3e-3, weightDecay: 0.01 }),
    },
    (v) => (hiddenMatrix(v) ? 'muon' : 'adamw'),
  );
}

/** An MLP over 8 inputs: two hidden layers (one with layer normalisation) and a 3-class head. */
function makeModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 16, activation: 'tanh', inputShape: [8], name: 'hidden1' }));
  model.add(tf.layers.layerNormalization({ name: 'norm' }));
  model.add(tf.layers.dense({ units: 16, activation: 'relu', name: 'hidden2' }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  return model;
}

function data(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const n = 48;
  const x = Array.from({ length: n * 8 }, (_, i) => Math.sin(i * 0.61) + 0.3 * Math.cos(i * 1.7));
  const xs = tf.tensor2d(x, [n, 8]);
  const classes = Array.from({ length: n }, (_, r) => {
    const row = x.slice(r * 8, r * 8 + 8);
    const score = row[0]! + row[1]! - row[2]!;
    return score > 0.5 ? 0 : score < -0.5 ? 1 : 2;
  });
  const ys = tf.oneHot(tf.tensor1d(classes, 'int32'), 3) as tf.Tensor2D;
  return { xs, ys };
}

const variableName = (w: tf.LayerVariable) => (w.read() as tf.Variable).name;

const fitOptions = { epochs: 3, batchSize: 16, shuffle: false, verbose: 0 } as const;

describe('Muon for hidden matrices, AdamW for the rest, in one optimizer', () => {
  it('trains an MLP: the hidden kernels go through Muon, everything else through AdamW', async () => {
    const { xs, ys } = data();
    const model = makeModel();
    const optimizer = recipe();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const loss = () => tf.tidy(() => (model.evaluate(xs, ys) as tf.Scalar).dataSync()[0]!);
    const before = loss();
    await model.fit(xs, ys, { ...fitOptions, epochs: 30 });
    expect(loss()).toBeLessThan(0.5 * before);

    const names = model.trainableWeights.map(variableName);
    const hidden = names.filter((n) => /hidden\d\/kernel/.test(n));
    expect(hidden).toHaveLength(2);
    expect([...optimizer.optimizers.muon!.variableSteps().keys()].sort()).toEqual([...hidden].sort());
    // Biases, the norm's gain and offset, and the head's kernel and bias.
    expect([...optimizer.optimizers.adamw!.variableSteps().keys()].sort()).toEqual(
      names.filter((n) => !hidden.includes(n)).sort(),
    );

    // One step, its kernels recorded: Muon's fused momentum and update for each hidden kernel with
    // the Newton–Schulz matrix products between, AdamW's fused update for the other six variables.
    const { grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(ys, model.predict(xs) as tf.Tensor) as tf.Scalar,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const calls = recordKernelCalls(() => optimizer.applyGradients(grads));
    tf.dispose(Object.values(grads));
    expect(fusedUpdates(calls, fusedKernelName('OptimkitMuonMomentum'))).toBe(2);
    expect(fusedUpdates(calls, fusedKernelName('OptimkitMuon'))).toBe(2);
    expect(fusedUpdates(calls, fusedKernelName('OptimkitAdamW'))).toBe(names.length - 2);
    // 5 Newton–Schulz iterations of 3 products for each of the two matrices.
    expect(calls.filter((c) => c.name === 'BatchMatMul')).toHaveLength(2 * 5 * 3);

    tf.dispose([xs, ys]);
    optimizer.dispose();
    model.dispose();
  });

  it('model.fit → save with the optimizer → loadLayersModel → fit equals an uninterrupted run', async () => {
    const { xs, ys } = data();
    const run = await resumeThroughLayers({
      makeModel,
      compile: (model) => model.compile({ optimizer: recipe(), loss: 'categoricalCrossentropy' }),
      xs,
      ys,
      fit: fitOptions,
      load: (artifacts) => tf.loadLayersModel(tf.io.fromMemory(artifacts)),
    });
    const { first, loaded, artifacts } = run;
    const optimizerConfig = artifacts.trainingConfig!.optimizer_config as { class_name: string };
    expect(optimizerConfig.class_name).toBe('OptimkitPartition');
    const specs = artifacts.weightSpecs!.filter((s) => s.group === 'optimizer').map((s) => s.name);
    expect(specs[0]).toBe('iter');
    expect(specs.filter((n) => n.startsWith('muon/')).length).toBeGreaterThan(0);
    expect(specs.filter((n) => n.startsWith('adamw/')).length).toBeGreaterThan(0);

    // Same process: the loaded model's variables are renamed, and the optimizer, rebuilt from its
    // config without the label function, routes them by position and binds their state so too.
    const names = (model: tf.LayersModel) => model.trainableWeights.map(variableName);
    expect(names(loaded)).not.toEqual(names(first));
    const restored = loaded.optimizer as unknown as Partition;
    expect(restored.getClassName()).toBe('OptimkitPartition');
    expect(restored.iterations).toBe(9);
    expect(restored.optimizers.muon!.iterations).toBe(9);
    expect(await run.resume()).toEqual(run.expected);
    const labels = restored.labels();
    for (const [i, name] of names(loaded).entries()) {
      expect(labels.get(name)).toBe((first.optimizer as unknown as Partition).labels().get(names(first)[i]!));
    }
    expect(restored.variableSteps().get(names(loaded)[0]!)).toBe(18);

    tf.dispose([xs, ys]);
    run.dispose();
  });

  it('a save with includeOptimizer leaks no tensor', async () => {
    const { xs, ys } = data();
    const model = makeModel();
    model.compile({ optimizer: recipe(), loss: 'categoricalCrossentropy' });
    await model.fit(xs, ys, { ...fitOptions, epochs: 1 });
    expect(await tensorsLeakedBySaving(model)).toBe(0);
    tf.dispose([xs, ys]);
    model.optimizer.dispose();
    model.dispose();
  });
});
