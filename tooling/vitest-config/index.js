import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The shared vitest configuration: workspace packages resolve to their TypeScript sources through
 * the `@optimkit/source` export condition, so tests never need a prior build, and every test file
 * starts with the full tfjs (cpu backend, gradients, layers) loaded once.
 */
export function optimkitVitestConfig(overrides = {}) {
  return defineConfig({
    resolve: { conditions: ['@optimkit/source', 'module', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@optimkit/source', 'node', 'import', 'default'] } },
    test: {
      setupFiles: [fileURLToPath(new URL('./setup-tfjs.js', import.meta.url))],
      // Hang guards, not thresholds: CI machines run several packages' suites at once.
      testTimeout: 300_000,
      hookTimeout: 300_000,
      pool: 'forks',
      ...overrides,
    },
  });
}
