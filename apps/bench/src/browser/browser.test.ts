import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parameterCount, TRANSFORMER, transformerProblem } from './problems.js';
import type { Measure } from './protocol.js';
import { BROWSER_COLUMNS, writeBrowserResults } from './report.js';
import { type BrowserConfig, type BrowserResults, runBrowserBench } from './run.js';

// The browser mode end to end in a tiny configuration: vite builds the page, headless chromium runs
// it on WebGL (SwiftShader), and the report must be complete. No timing is asserted.
const config: BrowserConfig = {
  name: 'browser-ci',
  backends: ['webgl'],
  optimizers: ['sgd-momentum', 'adamw'],
  matrix: [64, 64],
  transformer: { vocab: 64, context: 16, dModel: 16, layers: 3 },
  reps: { warmupMs: 0, sampleMs: 0, minSamples: 2, maxSamples: 2, budgetMs: 0 },
  countSteps: 1,
};

describe('the transformer set', () => {
  it('has 40 variables of about 1e6 parameters in the full configuration', () => {
    const problem = transformerProblem(TRANSFORMER);
    expect(problem.variables).toHaveLength(40);
    expect(parameterCount(problem)).toBe(995_456);
    expect(new Set(problem.variables.map((v) => v.name)).size).toBe(40);
  });
});

describe('browser bench (tiny configuration, webgl)', () => {
  let dir: string;
  let results: BrowserResults;
  let markdown: string;
  let json: BrowserResults;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'optimkit-browser-bench-'));
    results = await runBrowserBench(config, { pageDir: null });
    const written = await writeBrowserResults(results, dir);
    markdown = await readFile(written.markdown, 'utf8');
    json = JSON.parse(await readFile(written.json, 'utf8')) as BrowserResults;
  }, 480_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ran webgl in chromium and says on what', () => {
    expect(json.backends).toHaveLength(1);
    const [webgl] = json.backends;
    expect(webgl?.unavailable).toBeNull();
    expect(webgl?.failures).toEqual([]);
    expect(webgl?.chromium).toMatch(/^\d+\.\d+/);
    expect(webgl?.info?.kind).toBe('webgl');
    if (webgl?.info?.kind === 'webgl') {
      expect(webgl.info.renderer).not.toBe('');
      expect(webgl.info.version).toBeGreaterThanOrEqual(1);
    }
    expect(webgl?.launchCounters).toContain('WebGL2RenderingContext.drawElements');
    expect(json.machine.cores).toBeGreaterThan(0);
    expect(markdown).toContain(`Chromium ${webgl?.chromium}`);
    expect(markdown).toContain(webgl?.info?.kind === 'webgl' ? webgl.info.renderer : '?');
  });

  it('measures every optimizer on both problems with every figure', () => {
    expect(json.rows.map((r) => `${r.problem} ${r.optimizer}`)).toEqual([
      'matrix sgd-momentum',
      'matrix adamw',
      'transformer sgd-momentum',
      'transformer adamw',
    ]);
    expect(json.rows.map((r) => r.tfTrain?.name)).toEqual([
      'tf.train.momentum',
      'tf.train.adam',
      'tf.train.momentum',
      'tf.train.adam',
    ]);
    const check = (m: Measure | null | undefined) => {
      expect(m).toBeTruthy();
      expect(Number.isFinite(m!.msPerStep) && m!.msPerStep > 0).toBe(true);
      expect(m!.samples).toBe(2);
      expect(m!.kernelsPerStep).toBeGreaterThan(0);
      expect(m!.launchesPerStep).toBeGreaterThan(0);
      expect(Object.values(m!.kernelNames).reduce((a, b) => a + b, 0)).toBe(m!.kernelsPerStep);
      expect([m!.gpuErrors, m!.gpuError]).toEqual([0, null]);
    };
    for (const row of json.rows) {
      check(row.optimkit);
      check(row.composite);
      check(row.tfTrain);
      // Fused kernels off means none of them ran.
      expect(row.composite?.fusedKernelsPerStep).toBe(0);
      expect(row.tfTrain?.fusedKernelsPerStep).toBe(0);
    }
    const matrix = json.rows.filter((r) => r.problem === 'matrix');
    const transformer = json.rows.filter((r) => r.problem === 'transformer');
    for (const row of matrix) expect([row.variables, row.parameters]).toEqual([1, 64 * 64]);
    for (const row of transformer) {
      expect(row.variables).toBe(40);
      expect(row.parameters).toBe(parameterCount(json.problems[1]!));
    }
  });

  it('leaks no tensor per step and has no GPU error', () => {
    for (const row of json.rows) {
      expect(row.optimkit.tensorsPerStep).toBe(0);
      expect(row.composite?.tensorsPerStep).toBe(0);
    }
    expect(json.targets.find((t) => t.id === 'browser-no-leaks')?.met).toBe(true);
    expect(json.targets.find((t) => t.id === 'browser-no-gpu-errors')?.met).toBe(true);
  });

  it('evaluates the targets, and says webgpu was not run', () => {
    expect(json.targets.map((t) => t.id)).toEqual([
      'webgl-adamw-matrix-speed',
      'webgl-adamw-matrix-launches',
      'webgl-adamw-transformer-speed',
      'webgpu-adamw-speed',
      'browser-no-leaks',
      'browser-no-gpu-errors',
    ]);
    for (const target of json.targets.filter((t) => t.id.startsWith('webgl'))) {
      expect(typeof target.met).toBe('boolean');
      expect(target.figure).toMatch(/\d×/);
    }
    const webgpu = json.targets.find((t) => t.id === 'webgpu-adamw-speed');
    expect(webgpu).toMatchObject({ met: null, figure: 'webgpu was not run' });
  });

  it('writes the markdown tables with every column', () => {
    const lines = markdown.split('\n');
    const cells = (line: string) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
    const headers = BROWSER_COLUMNS.map((c) => c.header).join('|');
    const start = lines.findIndex((line) => cells(line).join('|') === headers);
    expect(start).toBeGreaterThanOrEqual(0);
    const body: string[][] = [];
    for (const line of lines.slice(start + 2)) {
      if (!line.startsWith('|')) break;
      body.push(cells(line));
    }
    expect(body).toHaveLength(4);
    for (const row of body) {
      expect(row).toHaveLength(BROWSER_COLUMNS.length);
      for (const cell of row) expect(cell).not.toBe('');
    }
    expect(body.map((row) => row[1])).toEqual([
      '`sgd({ momentum: 0.9 })`',
      '`adamw()`',
      '`sgd({ momentum: 0.9 })`',
      '`adamw()`',
    ]);
    expect(markdown).toContain('## Targets (browser)');
    for (const target of json.targets) expect(markdown).toContain(target.target);
    expect(markdown).toContain('## webgl backend');
  });
});
