/** What the browser tests share: the built page (`pnpm build`), served, opened in fresh chromium sessions. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic } from '@optimkit/browser-harness';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const DIST = join(fileURLToPath(new URL('..', import.meta.url)), 'dist');

/** A chromium session on the page, ready (its `#status` says so). */
export interface Session {
  page: Page;
  close: () => Promise<void>;
}

/**
 * Serves the built page while the calling test file runs (its `beforeAll`/`afterAll`), and returns
 * the function that opens it in a fresh chromium launched with `args`, `query` appended to its URL.
 */
export function servedPage(): (args: readonly string[], query?: string) => Promise<Session> {
  let server: Awaited<ReturnType<typeof serveStatic>> | undefined;
  beforeAll(async () => {
    if (!existsSync(join(DIST, 'index.html'))) {
      throw new Error(`${DIST} has no built page: run \`pnpm --filter @optimkit/browser build\` first`);
    }
    server = await serveStatic(DIST);
  });
  afterAll(async () => {
    await server?.close();
  });
  return async (args, query = '') => {
    if (!server) throw new Error('the page is served from beforeAll on');
    const browser = await launchChromium({ args });
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(`${server.url}${query}`, { waitUntil: 'commit' });
    await page.waitForSelector('#status[data-ready="true"]', { timeout: 180_000 });
    return { page, close: browser.close };
  };
}
