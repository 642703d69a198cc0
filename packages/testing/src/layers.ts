import * as tf from '@tensorflow/tfjs-core';

/** What {@link saveToMemory} needs of a tfjs-layers model: its `save`. */
export interface SavableModel {
  /** tfjs-layers' `LayersModel.save`. */
  save(handler: tf.io.IOHandler, config?: tf.io.SaveConfig): Promise<unknown>;
}

/**
 * Saves a tfjs-layers model with its optimizer (`model.save(…, { includeOptimizer: true })`) into
 * memory and returns the artifacts, for `tf.loadLayersModel(tf.io.fromMemory(artifacts))`.
 *
 * @example
 * ```ts
 * const artifacts = await saveToMemory(model);
 * const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
 * ```
 */
export async function saveToMemory(model: SavableModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: true },
  );
  if (!saved) throw new Error('saveToMemory: the model saved nothing');
  return saved;
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
export async function tensorsLeakedBySaving(model: SavableModel, times = 3): Promise<number> {
  await saveToMemory(model);
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) await saveToMemory(model);
  return tf.memory().numTensors - before;
}
