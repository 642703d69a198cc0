import { adamw } from '@optimkit/adam';
import { loadOptimizer, type OptimkitOptimizer } from '@optimkit/core';
import { oneCycle, reduceOnPlateau, scheduleCallback, warmupCosine } from '@optimkit/schedules';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

function regression() {
  const x = tf.tidy(() => tf.randomUniform([96, 4], -1, 1, 'float32', 3));
  const y = tf.tidy(() => tf.add(tf.matMul(x, tf.tensor2d([[0.5], [-1], [2], [0.25]])), 0.1));
  return { x, y };
}

function model(seed = 5) {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        units: 8,
        activation: 'tanh',
        inputShape: [4],
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

describe('schedules with optimizers, end to end', () => {
  it("the README's warmup-cosine AdamW (no decay for biases) trains through model.fit", async () => {
    const { x, y } = regression();
    const net = model();
    // ---- README example ----
    const optimizer = adamw({
      learningRate: warmupCosine({ initValue: 0, peakValue: 1e-2, warmupSteps: 12, decaySteps: 120 }),
      weightDecay: 0.01,
      paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }],
    });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    const history = await net.fit(x, y, { epochs: 10, batchSize: 8, shuffle: false, verbose: 0 });
    // ----
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.5);
    expect(optimizer.iterations).toBe(120);
    expect(optimizer.hyperparametersAt(0)[0]!.learningRate).toBe(0);
    expect(optimizer.hyperparametersAt(12)[0]!.learningRate).toBeCloseTo(1e-2, 12);
    expect(optimizer.hyperparametersAt(120)[1]!.weightDecay).toBe(0);
    tf.dispose([x, y]);
    optimizer.dispose();
    net.dispose();
  });

  it('one-cycle anneals the learning rate and beta1 inversely, as PyTorch OneCycleLR', () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 100, maxValue: 0.01 });
    const optimizer = adamw({ learningRate, beta1: momentum });
    const h = (step: number) => optimizer.hyperparametersAt(step)[0]!;
    expect(h(0).learningRate).toBeCloseTo(0.01 / 25, 12);
    expect(h(0).beta1).toBeCloseTo(0.95, 12);
    expect(h(29).learningRate).toBeCloseTo(0.01, 12);
    expect(h(29).beta1).toBeCloseTo(0.85, 12);
    expect(h(99).beta1).toBeCloseTo(0.95, 12);
    optimizer.dispose();
  });

  it('a plateau controller driven by the layers callback lowers the rate and logs it per epoch', async () => {
    const { x, y } = regression();
    const net = model();
    const plateau = reduceOnPlateau({ initValue: 0.05, patience: 0, factor: 0.5, threshold: 0.5 });
    const logged: [number, number][] = [];
    const callback = scheduleCallback({
      schedules: { learningRate: plateau },
      monitor: 'loss',
      log: (epoch, values) => logged.push([epoch, values.learningRate]),
    });
    const optimizer = sgd({ learningRate: plateau.schedule, momentum: 0.9 });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    await net.fit(x, y, { epochs: 6, batchSize: 16, shuffle: false, verbose: 0, callbacks: callback });
    expect(logged.map(([epoch]) => epoch)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(logged[logged.length - 1]![1]).toBeLessThan(0.05);
    expect(logged.map(([, lr]) => lr)).toEqual(callback.history.map((e) => e.learningRate));
    expect(optimizer.hyperparametersAt(optimizer.iterations)[0]!.learningRate).toBe(plateau.value);
    tf.dispose([x, y]);
    optimizer.dispose();
    net.dispose();
  });

  it('save → load continues bit-identically with a schedule, plateau state and a half-full accumulation', async () => {
    const v = tf.variable(
      tf.tensor2d([
        [0.5, -1],
        [2, 0.25],
      ]),
      true,
      'integration/schedules/w',
    );
    const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, 'integration/schedules/b');
    const initial = [v.clone(), b.clone()] as const;
    const grads = (i: number) => ({
      [v.name]: tf.tensor2d([
        [Math.sin(i), Math.cos(i)],
        [0.3 * i - 1, 0.5],
      ]),
      [b.name]: tf.tensor1d([Math.cos(2 * i), -0.1 * i]),
    });
    const make = () => {
      const plateau = reduceOnPlateau({ initValue: 0.01, patience: 1, factor: 0.5 });
      const optimizer = adamw({
        learningRate: plateau.schedule,
        beta1: warmupCosine({ initValue: 0.5, peakValue: 0.9, warmupSteps: 2, decaySteps: 10 }),
        accumulateSteps: 3,
        clipGradNorm: 1,
        paramGroups: [{ params: [b], weightDecay: 0 }],
      });
      return { plateau, optimizer };
    };
    const run = (o: ReturnType<typeof make>, from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const g = grads(i);
        o.optimizer.applyGradients(g);
        tf.dispose(Object.values(g));
        if (i % 3 === 2) o.plateau.step(10 - (i % 2)); // a metric that plateaus
      }
    };
    const straight = make();
    run(straight, 0, 20);
    const expected = [Array.from(v.dataSync()), Array.from(b.dataSync())];
    const expectedLr = straight.plateau.value;
    straight.optimizer.dispose();

    v.assign(initial[0]);
    b.assign(initial[1]);
    const first = make();
    run(first, 0, 10); // 3 updates + 1 accumulated call
    expect(first.optimizer.accumulatedSteps).toBe(1);
    const bytes = await first.optimizer.saveState();
    first.optimizer.dispose();

    const second = make();
    await second.optimizer.loadState(bytes);
    expect(second.plateau.value).toBe(first.plateau.value);
    expect(second.plateau.epochs).toBe(first.plateau.epochs);
    run(second, 10, 20);
    expect([Array.from(v.dataSync()), Array.from(b.dataSync())]).toEqual(expected);
    expect(second.plateau.value).toBe(expectedLr);
    second.optimizer.dispose();

    // loadOptimizer without the schedules given again rebuilds them from the state, the plateau
    // controller's schedule at its saved value, without a warning.
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (m: string) => warnings.push(m);
    const restored = (await loadOptimizer(bytes)) as OptimkitOptimizer;
    console.warn = warn;
    expect(warnings.filter((w) => w.startsWith('optimkit'))).toEqual([]);
    expect(restored.hyperparametersAt(10)[0]).toMatchObject({ learningRate: first.plateau.value });
    restored.dispose();
    tf.dispose([v, b, ...initial]);
  });
});
