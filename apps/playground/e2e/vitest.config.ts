import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The browser tests: Node drives Debian's chromium through playwright-core against the built page,
 * so they need not the shared tfjs setup; workspace packages (to make a foreign optimizer state)
 * resolve to their sources, as in the other tests.
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
