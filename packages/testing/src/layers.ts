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
