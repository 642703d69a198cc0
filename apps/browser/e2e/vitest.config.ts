import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The browser tests: Node serves the built page (`pnpm build`) and drives Debian's chromium through
 * playwright-core; workspace packages (the case catalog's optimizers) resolve to their sources.
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: { conditions: ['@optimkit/source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@optimkit/source', 'node', 'import', 'default'] } },
  test: {
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
