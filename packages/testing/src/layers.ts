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
