/** The tfjs backends the page offers, registered on demand (the page's and the rank workers'). */
import * as tf from '@tensorflow/tfjs';

export const BACKENDS = ['wasm', 'cpu', 'webgl', 'webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Loads `name`'s backend module (wasm with its binaries' URLs); cpu and webgl come with tfjs. */
export async function registerBackend(name: BackendName): Promise<void> {
  if (name === 'wasm') {
    const [wasm, plain, simd, threaded] = await Promise.all([
      import('@tensorflow/tfjs-backend-wasm'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url'),
      import('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url'),
    ]);
    // Cross-origin isolation (which the data-parallel demo's Web Workers need) would make the
    // wasm backend pick its multi-threaded build; keep the single-threaded one the page had.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setWasmPaths({
      'tfjs-backend-wasm.wasm': plain.default,
      'tfjs-backend-wasm-simd.wasm': simd.default,
      'tfjs-backend-wasm-threaded-simd.wasm': threaded.default,
    });
  } else if (name === 'webgpu') {
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  // cpu and webgl come with @tensorflow/tfjs.
}
