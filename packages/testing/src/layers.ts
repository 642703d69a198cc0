import * as tf from '@tensorflow/tfjs-core';

/**
 * `model.save(…, { includeOptimizer: true })` into memory: the artifacts tfjs-layers writes (a
 * tfjs-layers model, typed structurally so that this package needs only tfjs-core).
 */
export async function saveWithOptimizer(model: {
  save(handler: tf.io.IOHandler, config?: tf.io.SaveConfig): Promise<unknown>;
}): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  return artifacts!;
}

/**
 * The tensors left behind by `times` saves with the optimizer after a first one (which may cache):
 * 0 when saving leaks nothing (tensorflow/tfjs#8238).
 *
 * @example
 * ```ts
 * expect(await tensorsLeakedBySaving(model)).toBe(0);
 * ```
 */
export async function tensorsLeakedBySaving(
  model: Parameters<typeof saveWithOptimizer>[0],
  times = 3,
): Promise<number> {
  await saveWithOptimizer(model);
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) await saveWithOptimizer(model);
  return tf.memory().numTensors - before;
}

/** A tfjs-layers model as {@link resumeThroughLayers} uses it (structural: this package needs only tfjs-core). */
export interface LayersModelLike {
  /** The model's weights. */
  getWeights(): tf.Tensor[];
  /** Sets the model's weights. */
  setWeights(weights: tf.Tensor[]): void;
  /** `model.fit`. */
  fit(x: tf.Tensor, y: tf.Tensor, args: object): Promise<unknown>;
  /** `model.save`. */
  save(handler: tf.io.IOHandler, config?: tf.io.SaveConfig): Promise<unknown>;
  /** The compiled optimizer. */
  optimizer: tf.Optimizer;
  /** Frees the model's weights. */
  dispose(): unknown;
}

/** The values of a model's weights, in order. */
export async function weightValues(model: Pick<LayersModelLike, 'getWeights'>): Promise<number[][]> {
  return Promise.all(model.getWeights().map(async (w) => Array.from(await w.data())));
}

/** What {@link resumeThroughLayers} trains and saves. */
export interface ResumeCase<M extends LayersModelLike, L extends LayersModelLike = M> {
  /** A new model of the architecture under test. */
  makeModel(): M;
  /** Compiles a model with a fresh optimizer (and the loss). */
  compile(model: M): void;
  /** Inputs and targets of every fit. */
  xs: tf.Tensor;
  ys: tf.Tensor;
  /** `fit` arguments of each half of the run (`epochs` of them); the uninterrupted run takes twice. */
  fit: { epochs: number; batchSize: number; shuffle?: boolean; verbose?: 0 | 1 };
  /** Loads saved artifacts: `(a) => tf.loadLayersModel(tf.io.fromMemory(a))`. */
  load(artifacts: tf.io.ModelArtifacts): Promise<L>;
  /** Runs on the interrupted model just before it is saved. */
  beforeSave?(model: M): void | Promise<void>;
}

/** The models of a {@link resumeThroughLayers} run, for the test's own checks. */
export interface ResumeRun<M extends LayersModelLike, L extends LayersModelLike = M> {
  /** The uninterrupted model, and its weights after both halves. */
  straight: M;
  expected: number[][];
  /** The model trained for the first half and saved, and what it saved. */
  first: M;
  artifacts: tf.io.ModelArtifacts;
  /** The model loaded from the artifacts (its variables renamed, in the same process). */
  loaded: L;
  /** Trains the loaded model for the second half and returns its weights. */
  resume(): Promise<number[][]>;
  /** Frees the three models and their optimizers. */
  dispose(): void;
}

/**
 * The tfjs-layers resume check: one model trained for two halves without stopping; another from
 * the same initial weights trained for the first half, saved with `includeOptimizer: true` and
 * loaded again. `resume()` trains the loaded one for the second half: its weights must equal the
 * uninterrupted run's, bit for bit.
 *
 * @example
 * ```ts
 * const run = await resumeThroughLayers({ makeModel, compile: (m) => m.compile({ optimizer: adamw(), loss: 'meanSquaredError' }),
 *   xs, ys, fit: { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 }, load: (a) => tf.loadLayersModel(tf.io.fromMemory(a)) });
 * expect(await run.resume()).toEqual(run.expected);
 * run.dispose();
 * ```
 */
export async function resumeThroughLayers<M extends LayersModelLike, L extends LayersModelLike = M>(
  spec: ResumeCase<M, L>,
): Promise<ResumeRun<M, L>> {
  const fit = { shuffle: false, verbose: 0, ...spec.fit };
  const straight = spec.makeModel();
  const initial = straight.getWeights().map((w) => w.clone());
  spec.compile(straight);
  await straight.fit(spec.xs, spec.ys, { ...fit, epochs: 2 * fit.epochs });
  const expected = await weightValues(straight);

  const first = spec.makeModel();
  first.setWeights(initial);
  tf.dispose(initial);
  spec.compile(first);
  await first.fit(spec.xs, spec.ys, fit);
  await spec.beforeSave?.(first);
  const artifacts = await saveWithOptimizer(first);
  const loaded = await spec.load(artifacts);
  return {
    straight,
    expected,
    first,
    artifacts,
    loaded,
    resume: async () => {
      await loaded.fit(spec.xs, spec.ys, fit);
      return weightValues(loaded);
    },
    dispose: () => {
      for (const model of [straight, first, loaded]) {
        model.optimizer.dispose();
        model.dispose();
      }
    },
  };
}
