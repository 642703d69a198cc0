import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // Workspace packages from their TypeScript sources (no prior build); one tfjs-core for all.
  resolve: {
    conditions: ['@optimkit/source', ...defaultClientConditions],
    dedupe: ['@tensorflow/tfjs-core'],
  },
  build: { outDir: 'dist', target: 'es2022', chunkSizeWarningLimit: 8192, reportCompressedSize: false },
});
