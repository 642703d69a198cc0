import * as tf from '@tensorflow/tfjs';

/** Makes `name` the tfjs backend (registering wasm on first use) and waits until it is ready. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend could not be initialised`);
  await tf.ready();
}
