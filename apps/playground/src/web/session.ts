/**
 * One MNIST training run in the page: the 784-200-10 MLP of `train-mnist.ts`, one optimizer, and
 * a step counter that picks the batches, so that a run restored at step n sees exactly the batches
 * an uninterrupted run would.
 */
import { loadOptimizer, OptimkitOptimizer } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs';
import { type CatalogEntry, evaluateWithAverage, type Overrides } from '../catalog.js';
import { IMAGE_SIZE, type MnistData } from '../mnist.js';
import { makeMlp } from '../train-mnist.js';
import type { Checkpoint, SavedWeight } from './storage.js';

export const BATCH_SIZE = 64;

/** What a restore brings: the optimizer state, and the weights and loss history when known. */
export interface RestoreSource {
  state: Uint8Array;
  weights?: tf.Tensor[];
  history?: { losses: number[]; lossOffset: number; restoredAt: number[] };
}

/**
 * Whether `optimizer` is an optimkit optimizer (with saveState/loadState). Not `instanceof`:
 * tf.Optimizer defines a duck-typed Symbol.hasInstance that its subclasses inherit, so every
 * optimizer would pass.
 */
export function isOptimkit(optimizer: tf.Optimizer): optimizer is OptimkitOptimizer {
  return Object.prototype.isPrototypeOf.call(OptimkitOptimizer.prototype, optimizer);
}

export class MnistSession {
  /** One model for the page's lifetime: saved optimizer state names its variables. */
  readonly model: tf.Sequential = makeMlp();
  private readonly initialWeights: tf.Tensor[];
  optimizer: tf.Optimizer;
  /** Catalog name of the optimizer ('' if unknown) and a label for people. */
  optimizerName: string;
  label: string;
  /** Completed steps; step s trains on batch s mod (batches per epoch). */
  step = 0;
  losses: number[] = [];
  lossOffset = 0;
  restoredAt: number[] = [];
  private running: Promise<void> | null = null;
  private stopRequested = false;

  constructor(
    readonly data: MnistData,
    entry: CatalogEntry,
    overrides: Overrides,
  ) {
    this.initialWeights = this.model.getWeights().map((w) => w.clone());
    this.optimizer = entry.mnist(overrides);
    this.optimizerName = entry.name;
    this.label = entry.label;
    this.compile();
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.data.trainCount / BATCH_SIZE);
  }

  get training(): boolean {
    return this.running !== null;
  }

  private compile(): void {
    this.model.compile({ optimizer: this.optimizer, loss: 'categoricalCrossentropy' });
  }

  private swapOptimizer(optimizer: tf.Optimizer): void {
    const old = this.optimizer;
    this.optimizer = optimizer;
    this.compile();
    old.dispose();
  }

  /** Starts over from the initial weights with a new optimizer; throws (changing nothing) on bad options. */
  async newRun(entry: CatalogEntry, overrides: Overrides): Promise<void> {
    const optimizer = entry.mnist(overrides);
    await this.stop();
    this.model.setWeights(this.initialWeights);
    this.swapOptimizer(optimizer);
    this.optimizerName = entry.name;
    this.label = entry.label;
    this.step = 0;
    this.losses = [];
    this.lossOffset = 0;
    this.restoredAt = [];
  }

  /** The loss history of this run, as a checkpoint keeps it. */
  history(): { losses: number[]; lossOffset: number; restoredAt: number[] } {
    return { losses: [...this.losses], lossOffset: this.lossOffset, restoredAt: [...this.restoredAt] };
  }

  /** Trains `steps` more steps (or until {@link stop}), calling `onStep` after each. */
  train(steps: number, onStep: () => void | Promise<void>): Promise<void> {
    if (this.running) throw new Error('Training is already running');
    this.stopRequested = false;
    this.running = (async () => {
      try {
        for (let i = 0; i < steps && !this.stopRequested; i++) {
          const loss = await this.trainStep();
          this.losses.push(loss);
          this.step += 1;
          await onStep();
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async trainStep(): Promise<number> {
    const { trainImages, trainLabels, trainCount } = this.data;
    const start = (this.step % this.batchesPerEpoch) * BATCH_SIZE;
    const end = Math.min(start + BATCH_SIZE, trainCount);
    const xs = tf.tensor2d(trainImages.subarray(start * IMAGE_SIZE, end * IMAGE_SIZE), [
      end - start,
      IMAGE_SIZE,
    ]);
    const ys = tf.tidy(() =>
      tf.oneHot(tf.tensor1d(Int32Array.from(trainLabels.subarray(start, end)), 'int32'), 10),
    );
    try {
      return (await this.model.trainOnBatch(xs, ys)) as number;
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  /** Asks the training loop to stop after the current step, and waits for it. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.running?.catch(() => undefined);
  }

  /** Accuracy on the held-out digits (with the average of an averaging optimizer). */
  async testAccuracy(): Promise<number> {
    const { testImages, testLabels, testCount } = this.data;
    const accuracy = evaluateWithAverage(this.optimizer, () =>
      tf.tidy(() => {
        const predictions = this.model.predict(tf.tensor2d(testImages, [testCount, IMAGE_SIZE])) as tf.Tensor;
        const correct = tf.equal(
          tf.argMax(predictions, 1),
          tf.tensor1d(Int32Array.from(testLabels), 'int32'),
        );
        return tf.mean(tf.cast(correct, 'float32'));
      }),
    );
    try {
      return (await accuracy.data())[0]!;
    } finally {
      accuracy.dispose();
    }
  }

  /** The optimizer state, weights and history; only optimkit optimizers have a state to save. */
  async checkpoint(): Promise<Checkpoint> {
    if (this.running) throw new Error('Stop training before saving');
    if (!isOptimkit(this.optimizer)) {
      throw new Error(`${this.label} is a tf.train optimizer: it has no optimkit state to save`);
    }
    const state = await this.optimizer.saveState();
    const values = this.model.getWeights();
    const weights: SavedWeight[] = [];
    for (const [i, w] of this.model.weights.entries()) {
      const value = values[i]!;
      weights.push({ name: w.name, shape: [...value.shape], values: (await value.data()) as Float32Array });
    }
    return {
      format: 1,
      savedAt: new Date().toISOString(),
      optimizer: this.optimizerName,
      label: this.label,
      step: this.step,
      losses: [...this.losses],
      lossOffset: this.lossOffset,
      restoredAt: [...this.restoredAt],
      state,
      weights,
    };
  }

  /** Tensors for the model's weights from saved values, checked against the live model. */
  weightsFrom(
    saved: readonly { shape: readonly number[]; values: Float32Array | ArrayLike<number> }[],
  ): tf.Tensor[] {
    const live = this.model.getWeights();
    if (saved.length !== live.length) {
      throw new Error(`The saved model has ${saved.length} weight tensors; this MLP has ${live.length}`);
    }
    saved.forEach((w, i) => {
      const want = live[i]!.shape;
      if (w.shape.length !== want.length || w.shape.some((d, k) => d !== want[k])) {
        throw new Error(
          `Saved weight ${i} has shape [${w.shape.join(', ')}]; this MLP has [${want.join(', ')}]`,
        );
      }
    });
    return saved.map((w) => tf.tensor(w.values, [...w.shape], 'float32'));
  }

  /**
   * Continues a saved run. Everything is checked before anything changes (the state against the
   * live variables, by `loadOptimizer`): on any error this run keeps its state and its training.
   */
  async restore(source: RestoreSource): Promise<void> {
    let optimizer: OptimkitOptimizer;
    try {
      const loaded = await loadOptimizer(source.state);
      if (!isOptimkit(loaded)) {
        loaded.dispose();
        throw new TypeError(`the saved optimizer (${loaded.getClassName()}) is not an optimkit optimizer`);
      }
      optimizer = loaded;
    } catch (error) {
      tf.dispose(source.weights ?? []);
      throw error;
    }
    await this.stop();
    if (source.weights) {
      this.model.setWeights(source.weights);
      tf.dispose(source.weights);
    }
    this.swapOptimizer(optimizer);
    this.optimizerName = '';
    this.label = optimizer.getClassName();
    this.step = optimizer.iterations;
    const history = source.history;
    // A history is kept only if it ends where the state does (files picked from different saves do not).
    if (history && history.lossOffset + history.losses.length === this.step) {
      this.losses = [...history.losses];
      this.lossOffset = history.lossOffset;
      this.restoredAt = [...history.restoredAt];
    } else {
      this.losses = [];
      this.lossOffset = this.step;
      this.restoredAt = [];
    }
    this.restoredAt.push(this.step);
  }
}
