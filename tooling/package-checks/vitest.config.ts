import { defineConfig } from 'vitest/config';

// These tests drive pnpm, npm, tsc and nested vitest runs in child processes: their time is mostly
// spent waiting on installs, so the files run side by side and the timeouts are generous.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: ['./src/global-setup.ts'],
    testTimeout: 10 * 60_000,
    hookTimeout: 10 * 60_000,
    pool: 'forks',
    maxWorkers: 3,
  },
});
