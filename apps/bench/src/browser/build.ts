import { fileURLToPath } from 'node:url';
import { build, defaultClientConditions } from 'vite';

/** The page's sources: `index.html` and `page.ts` beside this file. */
export const PAGE_ROOT = fileURLToPath(new URL('.', import.meta.url));

/** Where `pnpm bench -- --browser` builds the page (git-ignored). */
export const DEFAULT_PAGE_DIR = fileURLToPath(new URL('../../dist/browser-page/', import.meta.url));

/**
 * Builds the bench page with vite into `outDir`: the optimkit packages from their TypeScript
 * sources (the `@optimkit/source` condition, as in the tests), one tfjs-core shared by the cpu,
 * webgl and webgpu backends and the optimizers.
 */
export async function buildPage(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: PAGE_ROOT,
    base: './',
    logLevel: 'warn',
    resolve: {
      conditions: ['@optimkit/source', ...defaultClientConditions],
      dedupe: ['@tensorflow/tfjs-core'],
    },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 8192,
      reportCompressedSize: false,
    },
  });
}
