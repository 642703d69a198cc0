/**
 * The page in Debian's chromium, driven by playwright-core, as users open it: the built page
 * (`pnpm build`) under the real `vite preview` server (trajectories, MNIST training, save, reload,
 * restore and continue, bad state files, the data-parallel demo on Web Workers and in the page, a
 * 420 px wide window, the WebGL and WebGPU backends), and the sources under the real Vite dev
 * server. The steps share one browser and run in order, as a user would; a failing step leaves a
 * screenshot in test-results/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { launchChromium, WEBGPU_ARGS } from '@optimkit/browser-harness';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { createServer, preview } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MNIST_ASSET_NAME } from '../src/web/mnist-format.js';

const APP = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(APP, 'dist');
const RESULTS = join(APP, 'test-results');
let server: { url: string; close: () => Promise<void> };
let context: BrowserContext;
let closeBrowser: (() => Promise<void>) | undefined;
let page: Page;
let downloads: string;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} has no built page: run \`pnpm --filter @optimkit/playground build\` first`);
  }
  server = await startPreview();
  downloads = mkdtempSync(join(tmpdir(), 'optimkit-downloads-'));
  ({ context, close: closeBrowser } = await launchChromium({
    acceptDownloads: true,
    viewport: { width: 1280, height: 1600 },
  }));
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => console.error('page error:', error));
});

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && page) {
    mkdirSync(RESULTS, { recursive: true });
    const file = join(RESULTS, `${task.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of the failure: ${file}`);
  }
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.close();
  if (downloads) rmSync(downloads, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

/** `vite preview` on the built page, with this app's config, on a free port. */
async function startPreview(): Promise<{ url: string; close: () => Promise<void> }> {
  const previewServer = await preview({
    root: APP,
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const url = previewServer.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not say where it listens');
  return { url, close: () => previewServer.close() };
}

/** The Vite dev server on the sources, with this app's config, on a free port. */
async function startDev(): Promise<{ url: string; close: () => Promise<void> }> {
  const devServer = await createServer({
    root: APP,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: false, open: false, hmr: false },
  });
  await devServer.listen();
  const url = devServer.resolvedUrls?.local[0];
  if (!url) throw new Error('the vite dev server did not say where it listens');
  return { url, close: () => devServer.close() };
}

/**
 * The digits as a browser receives them from `url`: fetch undoes any transport encoding the server
 * adds (vite preview compresses every response; a server that took a `.gz` name for a precompressed
 * file would label the page's own gzip as transport encoding, and the browser would strip it), so
 * the body must still be the page's gzip layer, and inflate to the OKMN asset.
 */
async function checkDigitsAsset(url: string): Promise<void> {
  const response = await fetch(`${url}${MNIST_ASSET_NAME}`, { headers: { 'Accept-Encoding': 'gzip, br' } });
  expect(response.status).toBe(200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
  expect(gunzipSync(bytes).subarray(0, 4).toString('latin1')).toBe('OKMN');
}

async function waitReady(on: Page = page, timeout = 180_000): Promise<void> {
  await on.waitForSelector('#status[data-ready="true"], #status[data-ready="error"]', { timeout });
  expect(await on.getAttribute('#status', 'data-ready'), (await on.textContent('#status')) ?? '').toBe(
    'true',
  );
}

/** Trains `n` steps on `on` from a fresh run and returns the recorded losses. */
async function trainFresh(on: Page, n: number): Promise<number[]> {
  await on.click('#mnist-new');
  await on.waitForSelector('#mnist-progress[data-step="0"]');
  await on.fill('#mnist-steps', String(n));
  await on.click('#mnist-train');
  await on.waitForSelector(`#mnist-progress[data-training="false"][data-step="${n}"]`, { timeout: 180_000 });
  return JSON.parse((await on.getAttribute('#loss-canvas', 'data-losses')) ?? '[]');
}

/** Whether the page's browser has a WebGPU adapter. */
function adapterIn(on: Page): Promise<boolean> {
  return on.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    return gpu ? (await gpu.requestAdapter().catch(() => null)) != null : false;
  });
}

async function step(): Promise<number> {
  return Number(await page.getAttribute('#mnist-progress', 'data-step'));
}

async function losses(): Promise<{ losses: number[]; offset: number }> {
  const canvas = page.locator('#loss-canvas');
  return {
    losses: JSON.parse((await canvas.getAttribute('data-losses')) ?? '[]'),
    offset: Number(await canvas.getAttribute('data-loss-offset')),
  };
}

/** Clicks Train for `n` steps and waits until training stops at `from + n`. */
async function train(n: number): Promise<void> {
  const from = await step();
  await page.fill('#mnist-steps', String(n));
  await page.click('#mnist-train');
  await page.waitForSelector(`#mnist-progress[data-training="false"][data-step="${from + n}"]`, {
    timeout: 180_000,
  });
}

/** The message next to the buttons of one group: `mnist-train-message`, `save-message`, `restore-message`… */
async function message(id: string): Promise<{ kind: string | null; text: string }> {
  const element = page.locator(`#${id}`);
  return { kind: await element.getAttribute('data-kind'), text: (await element.textContent()) ?? '' };
}

async function saveDownload(download: Download): Promise<string> {
  const file = join(downloads, download.suggestedFilename());
  await download.saveAs(file);
  return file;
}

/** A valid optimkit state, but of another model: SGD with momentum after one step on a variable 'other/w'. */
async function otherModelsState(): Promise<Buffer> {
  await tf.setBackend('cpu');
  const w = tf.variable(tf.ones([3]), true, 'other/w');
  const optimizer = sgd({ learningRate: 0.1, momentum: 0.9 });
  optimizer.minimize(() => tf.sum(tf.square(w)), false, [w]);
  const bytes = Buffer.from(await optimizer.saveState());
  optimizer.dispose();
  w.dispose();
  return bytes;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

// ---------------------------------------------------------------------------------------------

describe('the playground page in chromium', () => {
  let trained: number[] = [];
  let resumed: number[] = [];
  let stateFile = '';
  let modelFiles: string[] = [];

  it('loads with every optimizer of the catalog, the plugin and the tf.train baselines', async () => {
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await checkDigitsAsset(server.url);
    await page.goto(server.url, { waitUntil: 'commit' });
    await waitReady();
    expect(errors).toEqual([]);
    const options = await page
      .locator('#mnist-optimizer option')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    const rows = await page
      .locator('#traj-optimizers tbody tr')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.optimizer));
    // The menu groups them by source (optimkit, plugin, tf.train); the table keeps the catalog's order.
    expect([...options].sort()).toEqual([...rows].sort());
    expect(options).toEqual(
      expect.arrayContaining(['sgd', 'adamw', 'lion', 'came', 'adabelief', 'tf-sgd', 'tf-adam']),
    );
  });

  it('runs two optimizers over a surface and draws their paths', async () => {
    await page.selectOption('#surface', 'bowl');
    await page.click('#traj-none');
    await page.check('#traj-use-adamw');
    await page.check('#traj-use-adabelief');
    await page.fill('#traj-adamw-learningRate', '0.3');
    await page.fill('#traj-steps', '150');
    await page.click('#traj-run');
    await page.waitForSelector('#trajectories[data-state="done"], #trajectories[data-state="error"]', {
      timeout: 180_000,
    });
    expect(await page.textContent('#traj-message')).toBe('');
    const results = await page.locator('#traj-results tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({
        optimizer: (row as HTMLElement).dataset.optimizer,
        finalValue: Number((row as HTMLElement).dataset.finalValue),
        diverged: (row as HTMLElement).dataset.diverged,
        cells: Array.from((row as HTMLTableRowElement).cells, (c) => c.textContent),
      })),
    );
    expect(results.map((r) => r.optimizer)).toEqual(['adamw', 'adabelief']);
    const start = 0.5 * (4 ** 2 + 50 * 1 ** 2); // the bowl ½(x² + 50y²) at its start (-4, 1)
    for (const r of results) {
      expect(r.diverged).toBe('false');
      expect(r.finalValue).toBeLessThan(start / 10);
    }
    expect(results[0]!.cells[1]).toBe('0.3');
    expect(results[0]!.cells[2]).toBe('150');
    // Both paths are on the canvas, in their legend colours.
    const painted = await page.evaluate(() => {
      const canvas = document.getElementById('traj-canvas') as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      const count = (rgb: string) => {
        const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
        let n = 0;
        for (let p = 0; p < data.length; p += 4) {
          if (Math.abs(data[p]! - r!) + Math.abs(data[p + 1]! - g!) + Math.abs(data[p + 2]! - b!) < 24) n++;
        }
        return n;
      };
      return ['adamw', 'adabelief'].map((name) => {
        const swatch = document.querySelector(`#traj-optimizers tr[data-optimizer="${name}"] .swatch`)!;
        return count(getComputedStyle(swatch).backgroundColor);
      });
    });
    for (const pixels of painted) expect(pixels).toBeGreaterThan(100);
  });

  it('trains the MLP with the plugin optimizer at an edited learning rate, and the loss falls', async () => {
    await page.selectOption('#mnist-optimizer', 'adabelief');
    await page.fill('#mnist-learningRate', '0.002');
    await page.click('#mnist-new');
    await expect
      .poll(() => page.textContent('#mnist-run'))
      .toContain('AdaBelief (plugin) (learning rate 0.002');
    expect(await step()).toBe(0);
    await train(20);
    const { losses: history, offset } = await losses();
    expect(offset).toBe(0);
    expect(history).toHaveLength(20);
    expect(history.every(Number.isFinite)).toBe(true);
    expect(mean(history.slice(-5))).toBeLessThan(0.7 * mean(history.slice(0, 5)));
    trained = history;

    await page.click('#mnist-evaluate');
    await expect
      .poll(async () => (await message('mnist-train-message')).text)
      .toMatch(/^Test accuracy at step 20: [\d.]+%/);
    const accuracy = Number((await message('mnist-train-message')).text.match(/([\d.]+)%/)![1]);
    expect(accuracy).toBeGreaterThan(30); // chance is 10%
  });

  it('saves to IndexedDB and downloads the optimizer state and the model', async () => {
    await page.click('#save-idb');
    await expect.poll(async () => (await message('save-message')).text).toContain('Saved step 20');
    expect((await message('save-message')).kind).toBe('info');

    const [stateDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-state')]);
    stateFile = await saveDownload(stateDownload);
    expect(stateFile).toMatch(/optimkit-mnist-adabelief-step20\.optk$/);
    expect(readFileSync(stateFile).subarray(0, 4).toString('latin1')).toBe('OPTK');

    const twoDownloads = new Promise<Download[]>((resolve) => {
      const seen: Download[] = [];
      const onDownload = (d: Download) => {
        seen.push(d);
        if (seen.length === 2) {
          page.off('download', onDownload);
          resolve(seen);
        }
      };
      page.on('download', onDownload);
    });
    await page.click('#download-model');
    modelFiles = await Promise.all((await twoDownloads).map(saveDownload));
    expect(modelFiles.map((f) => f.replace(/^.*\//, '')).sort()).toEqual([
      'optimkit-mnist-adabelief-step20.json',
      'optimkit-mnist-adabelief-step20.weights.bin',
    ]);
  });

  it('after a reload, restores from IndexedDB and continues at the same step', async () => {
    await page.reload();
    await waitReady();
    expect(await step()).toBe(0);
    await expect.poll(() => page.textContent('#checkpoint-info')).toContain('AdaBelief (plugin) at step 20');
    await page.click('#restore-idb');
    await expect
      .poll(async () => (await message('restore-message')).text)
      .toContain('Restored AdaBelief (plugin) at step 20');
    expect(await step()).toBe(20);
    expect(await page.inputValue('#mnist-optimizer')).toBe('adabelief');
    expect(await page.inputValue('#mnist-learningRate')).toBe('0.002');
    expect((await losses()).losses).toEqual(trained);

    await train(10);
    const { losses: history } = await losses();
    expect(history).toHaveLength(30);
    expect(history.slice(0, 20)).toEqual(trained);
    resumed = history.slice(20);
    // Continuing, not starting over: the loss stays near where it stopped, far below the first steps'.
    expect(mean(resumed)).toBeLessThan(0.7 * mean(trained.slice(0, 5)));
    expect(Math.abs(mean(resumed) - mean(trained.slice(-5)))).toBeLessThan(0.5 * mean(trained.slice(-5)));
  });

  it('shows the StateFormatError of foreign and corrupt state files, and the running session keeps its state', async () => {
    const before = await step();
    await page.fill('#mnist-steps', '40');
    await page.click('#mnist-train');
    await page.waitForSelector('#mnist-progress[data-training="true"]');

    await page.setInputFiles('#restore-files', {
      name: 'holiday.optk',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from('GIF89a: not an optimizer state at all'),
    });
    await expect.poll(async () => (await message('restore-message')).text).toContain('StateFormatError');
    const foreign = await message('restore-message');
    expect(foreign.kind).toBe('error');
    expect(foreign.text).toContain('Not an optimkit optimizer state: the magic tag "OPTK" is missing');
    expect(foreign.text).toContain('the current run is unchanged');
    expect(await page.isVisible('#restore-message')).toBe(true);
    // Next to the restore controls that caused it, not at the bottom of the section.
    const [messageBox, restoreBox] = await Promise.all([
      page.locator('#restore-message').boundingBox(),
      page.locator('#restore-idb').boundingBox(),
    ]);
    expect(messageBox!.y - (restoreBox!.y + restoreBox!.height)).toBeLessThan(60);

    // Training went on through the error, to the end of its 40 steps, without a restore.
    await page.waitForSelector(`#mnist-progress[data-training="false"][data-step="${before + 40}"]`, {
      timeout: 180_000,
    });
    const { losses: history } = await losses();
    expect(history).toHaveLength(before + 40);
    expect(history.slice(0, trained.length)).toEqual(trained);
    expect(mean(history.slice(-5))).toBeLessThan(mean(trained.slice(-5)));

    const corrupt = readFileSync(stateFile);
    corrupt[corrupt.length - 100]! ^= 0xff;
    await page.setInputFiles('#restore-files', {
      name: 'flipped.optk',
      mimeType: 'application/octet-stream',
      buffer: corrupt,
    });
    await expect.poll(async () => (await message('restore-message')).text).toContain('flipped.optk');
    expect((await message('restore-message')).kind).toBe('error');
    expect((await message('restore-message')).text).toContain(
      'StateFormatError: flipped.optk: Optimizer state is corrupt or truncated',
    );
    expect(await step()).toBe(before + 40);
    expect((await losses()).losses).toEqual(history);

    await page.setInputFiles('#restore-files', {
      name: 'other-model.optk',
      mimeType: 'application/octet-stream',
      buffer: await otherModelsState(),
    });
    await expect.poll(async () => (await message('restore-message')).text).toContain('other-model.optk');
    expect((await message('restore-message')).kind).toBe('error');
    expect((await message('restore-message')).text).toContain(
      "StateFormatError: other-model.optk: Optimizer state has no live variable 'other/w'",
    );
    expect(await step()).toBe(before + 40);
    expect(await page.getAttribute('#mnist-run', 'data-optimizer')).toBe('adabelief');
    await train(5);
    expect((await losses()).losses.slice(0, before + 40)).toEqual(history);
  });

  it('restores from the downloaded files and continues exactly as the IndexedDB restore did', async () => {
    await page.setInputFiles('#restore-files', [stateFile, ...modelFiles]);
    await expect
      .poll(async () => (await message('restore-message')).text)
      .toContain('and the model weights at step 20');
    expect(await step()).toBe(20);
    // The loss history came back with the state, from the model's JSON.
    expect(await losses()).toEqual({ losses: trained, offset: 0 });
    await train(10);
    expect((await losses()).losses).toEqual([...trained, ...resumed]);
  });

  it('gives the same losses after save, reload and restore as an uninterrupted run', async () => {
    await page.selectOption('#mnist-optimizer', 'adabelief');
    await page.fill('#mnist-learningRate', '0.002');
    await page.click('#mnist-new');
    await expect.poll(step).toBe(0);
    await train(30);
    const { losses: history } = await losses();
    expect(history.slice(0, 20)).toEqual(trained);
    expect(history.slice(20)).toEqual(resumed);
  });

  it('explains that a tf.train baseline has no optimkit state to save', async () => {
    await page.selectOption('#mnist-optimizer', 'tf-adam');
    await page.click('#mnist-new');
    await expect.poll(() => page.getAttribute('#mnist-run', 'data-optimizer')).toBe('tf-adam');
    await train(3);
    expect(await page.isDisabled('#save-idb')).toBe(true);
    expect(await page.isDisabled('#download-state')).toBe(true);
    expect(await page.isDisabled('#download-model')).toBe(false);
    expect(await page.textContent('#save-note')).toContain('tf.train keeps no optimkit state');
  });

  it('trains the data-parallel demo on 2 Web Worker ranks: the state is sharded and the ranks agree', async () => {
    // The preview server isolates the page, so the ranks can share memory across workers.
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.inputValue('#dp-mode')).toBe('workers');
    expect(
      await page
        .locator('#dp-mode option')
        .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value)),
    ).toEqual(['workers', 'page']);
    expect(
      await page
        .locator('#dp-world-size option')
        .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value)),
    ).toEqual(['1', '2', '4']);
    await page.fill('#dp-steps', '0');
    await page.click('#dp-run');
    expect(await page.textContent('#dp-message')).toMatch(/^Steps must be a whole number from 1 to \d+/);
    expect(await page.getAttribute('#dp-message', 'data-kind')).toBe('error');

    await page.selectOption('#dp-world-size', '2');
    await page.fill('#dp-steps', '3');
    await page.click('#dp-run');
    await page.waitForSelector('#data-parallel[data-state="done"], #data-parallel[data-state="error"]', {
      timeout: 180_000,
    });
    const message = (await page.textContent('#dp-message')) ?? '';
    expect(await page.getAttribute('#data-parallel', 'data-state'), message).toBe('done');
    expect(message).toBe('Trained 3 step(s) on 2 rank(s) (2 Web Worker(s)) and once in one process.');

    const summary = page.locator('#dp-summary');
    const bytes: number[] = JSON.parse((await summary.getAttribute('data-state-bytes')) ?? '[]');
    const parameters = 784 * 200 + 200 + 200 * 10 + 10;
    // AdamW's m and v in float32: the two ranks' shares add up to the one process's state, and
    // the 784 × 200 kernel's owner keeps all of that variable's.
    expect(Number(await summary.getAttribute('data-single-state-bytes'))).toBe(2 * 4 * parameters);
    expect(bytes).toHaveLength(2);
    expect(bytes[0]! + bytes[1]!).toBe(2 * 4 * parameters);
    expect(Math.max(...bytes)).toBe(2 * 4 * 784 * 200);
    const rows = await page.locator('#dp-ranks tbody tr').evaluateAll((els) =>
      els.map((e) => ({
        bytes: Number((e as HTMLElement).dataset.stateBytes),
        owns: e.children[1]!.textContent,
      })),
    );
    expect(rows.map((r) => r.bytes)).toEqual(bytes);
    expect(rows.flatMap((r) => r.owns!.split(', ')).sort()).toEqual([
      'hidden/bias',
      'hidden/kernel',
      'output/bias',
      'output/kernel',
    ]);
    expect(await summary.getAttribute('data-ranks-identical')).toBe('true');
    expect(await summary.textContent()).toContain('are identical, bit for bit');
    const difference = Number(await summary.getAttribute('data-max-difference'));
    expect(difference).toBeGreaterThanOrEqual(0);
    expect(difference).toBeLessThan(1e-5);
    expect(Number.isFinite(Number(await summary.getAttribute('data-loss')))).toBe(true);
  });

  it('fits a 420 px wide window: nothing wider than the window, the canvases scaled down', async () => {
    const narrow = await context.newPage();
    try {
      await narrow.setViewportSize({ width: 420, height: 900 });
      await narrow.goto(server.url, { waitUntil: 'commit' });
      await waitReady(narrow);
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
      // The data-parallel demo's table filled: one step on 4 ranks, in the page's thread.
      await narrow.selectOption('#dp-mode', 'page');
      await narrow.selectOption('#dp-world-size', '4');
      await narrow.fill('#dp-steps', '1');
      await narrow.click('#dp-run');
      await narrow.waitForSelector('#data-parallel[data-state="done"]', { timeout: 180_000 });
      expect(await narrow.locator('#dp-ranks tbody tr').count()).toBe(4);
      expect(await narrow.getAttribute('#dp-summary', 'data-mode')).toBe('page');
      expect(await narrow.getAttribute('#dp-summary', 'data-ranks-identical')).toBe('true');
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
      for (const id of [
        'traj-canvas',
        'loss-canvas',
        'traj-run',
        'mnist-train',
        'save-idb',
        'restore-idb',
        'dp-mode',
        'dp-run',
        'dp-message',
        'dp-summary',
      ]) {
        const box = await narrow.locator(`#${id}`).boundingBox();
        expect(box, id).not.toBeNull();
        expect(box!.x, id).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width, id).toBeLessThanOrEqual(420);
      }
    } finally {
      await narrow.close();
    }
  });

  it('switches to the WebGL backend from the menu and trains there', async () => {
    await Promise.all([page.waitForNavigation(), page.selectOption('#backend', 'webgl')]);
    await waitReady();
    expect(await page.getAttribute('#backend', 'data-backend')).toBe('webgl');
    expect(await page.textContent('#status')).toContain('webgl backend');
    await page.selectOption('#mnist-optimizer', 'adamw');
    const history = await trainFresh(page, 5);
    expect(history).toHaveLength(5);
    expect(history.every(Number.isFinite)).toBe(true);
  });

  it('offers WebGPU exactly when the browser has an adapter, and trains there when it has one', async () => {
    expect(await page.isDisabled('#backend option[value="webgpu"]')).toBe(!(await adapterIn(page)));
    const gpu = await launchChromium({ args: WEBGPU_ARGS });
    try {
      const gpuPage = gpu.context.pages()[0] ?? (await gpu.context.newPage());
      await gpuPage.goto(`${server.url}?backend=webgpu`, { waitUntil: 'commit' });
      await waitReady(gpuPage);
      const adapter = await adapterIn(gpuPage);
      expect(await gpuPage.isDisabled('#backend option[value="webgpu"]')).toBe(!adapter);
      if (adapter) {
        expect(await gpuPage.getAttribute('#backend', 'data-backend')).toBe('webgpu');
        const history = await trainFresh(gpuPage, 5);
        expect(history).toHaveLength(5);
        expect(history.every(Number.isFinite)).toBe(true);
      } else {
        expect(await gpuPage.textContent('#status')).toContain('no WebGPU adapter');
      }
    } finally {
      await gpu.close();
    }
  });
});

describe('the page under the Vite dev server', () => {
  it('serves the digits as they are, starts without errors, and runs trajectories and training', async () => {
    const dev = await startDev();
    const devPage = await context.newPage();
    const errors: string[] = [];
    devPage.on('pageerror', (error) => errors.push(String(error)));
    devPage.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    try {
      await checkDigitsAsset(dev.url);
      await devPage.goto(`${dev.url}?backend=cpu`, { waitUntil: 'commit' });
      await waitReady(devPage, 300_000);
      await devPage.selectOption('#surface', 'bowl');
      await devPage.click('#traj-none');
      await devPage.check('#traj-use-adam');
      await devPage.fill('#traj-steps', '50');
      await devPage.click('#traj-run');
      await devPage.waitForSelector('#trajectories[data-state="done"], #trajectories[data-state="error"]');
      expect(await devPage.getAttribute('#trajectories', 'data-state')).toBe('done');
      const history = await trainFresh(devPage, 3);
      expect(history.every(Number.isFinite)).toBe(true);
      // The dev server isolates the page too: the demo's rank workers (served unbundled) run.
      expect(await devPage.evaluate(() => crossOriginIsolated)).toBe(true);
      await devPage.fill('#dp-steps', '1');
      await devPage.click('#dp-run');
      await devPage.waitForSelector('#data-parallel[data-state="done"], #data-parallel[data-state="error"]', {
        timeout: 300_000,
      });
      expect(
        await devPage.getAttribute('#data-parallel', 'data-state'),
        (await devPage.textContent('#dp-message')) ?? '',
      ).toBe('done');
      expect(await devPage.getAttribute('#dp-summary', 'data-ranks-identical')).toBe('true');
      expect(errors).toEqual([]);
    } finally {
      await devPage.close();
      await dev.close();
    }
  }, 480_000);
});
