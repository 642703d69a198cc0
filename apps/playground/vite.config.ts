import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { buildMnistAsset } from './scripts/mnist-asset.js';
import { MNIST_ASSET_NAME } from './src/web/mnist-format.js';

/** Serves (dev) and emits (build) the compact MNIST asset made from the `mnist` package. */
function mnistAsset(): Plugin {
  let bytes: Uint8Array | null = null;
  const asset = () => {
    bytes ??= buildMnistAsset();
    return bytes;
  };
  return {
    name: 'optimkit-mnist-asset',
    configureServer(server) {
      server.middlewares.use(`/${MNIST_ASSET_NAME}`, (_req, res) => {
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(asset());
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: MNIST_ASSET_NAME, source: asset() });
    },
  };
}

/**
 * Cross-origin isolation, so that the data-parallel demo's Web Workers can share memory
 * (SharedArrayBuffer); every resource of the page is same-origin.
 */
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  // Workspace packages are used from their TypeScript sources, as in the tests: no prior build.
  resolve: {
    conditions: ['@optimkit/source', ...defaultClientConditions],
    dedupe: ['@tensorflow/tfjs-core'],
  },
  plugins: [mnistAsset()],
  server: { headers: ISOLATION },
  preview: { headers: ISOLATION },
  // The rank workers import modules dynamically (tfjs backends): an ES module worker.
  worker: { format: 'es' },
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 4096 },
});
