import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // Workspace packages are used from their TypeScript sources, as in the tests: no prior build. One
  // tfjs-core is shared by the optimizers and the cpu, webgl and webgpu backends.
  resolve: {
    conditions: ['@optimkit/source', ...defaultClientConditions],
    dedupe: ['@tensorflow/tfjs-core'],
  },
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 8192, reportCompressedSize: false },
});
