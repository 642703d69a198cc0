import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic } from '@optimkit/browser-harness';
import { expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist', import.meta.url));

it('trains with adamw on WebGL in Chromium, and resumes from saved state', async () => {
  if (!existsSync(`${dist}/index.html`)) throw new Error(`${dist} has no page: run \`vite build\` first`);
  const server = await serveStatic(dist);
  const browser = await launchChromium();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    // The page trains as soon as its module runs, which can hold back the load event on a busy
    // machine: navigation is done once the response arrives, and the wait below has the budget.
    await page.goto(server.url, { waitUntil: 'commit' });
    await page.waitForFunction(() => document.querySelector('#status')?.textContent !== 'Training…', null, {
      timeout: 180_000,
    });
    const result = JSON.parse((await page.textContent('#result')) ?? '{}');
    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    expect(result.backend).toBe('webgl');
    expect(result.fused).toBe(true);
    expect(result.className).toBe('OptimkitAdamW');
    expect(result.iterations).toBe(300);
    expect(result.stateBytes).toBeGreaterThan(8 * (32 + 32 + 32 + 1));
    expect(result.finalLoss).toBeLessThan(result.initialLoss / 10);
    expect(result.leaked).toBe(0);
  } finally {
    await browser.close();
    await server.close();
  }
});
