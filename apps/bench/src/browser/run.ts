/**
 * The browser mode of the bench: builds the page, serves it, and runs it in Debian's chromium once
 * per backend (a fresh browser each: WebGL through SwiftShader with the harness's flags, WebGPU
 * with `WEBGPU_ARGS`), then gathers the rows and evaluates the browser targets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHROMIUM_ARGS, launchChromium, serveStatic, WEBGPU_ARGS } from '@optimkit/browser-harness';
import { describeMachine, type Machine } from '../machine.js';
import type { Repetitions } from '../measure.js';
import type { Target } from '../targets.js';
import { buildPage, DEFAULT_PAGE_DIR } from './build.js';
import {
  matrixProblem,
  type ProblemShapes,
  TRANSFORMER,
  type TransformerSize,
  transformerProblem,
} from './problems.js';
import type { BrowserBackend, PageRequest, PageResult, PageRow } from './protocol.js';
import { evaluateBrowserTargets } from './targets.js';

export interface BrowserConfig {
  /** Names the results files: `<name>.md`, `<name>.json`. */
  name: string;
  backends: BrowserBackend[];
  /** Catalog names (see `optimizers.ts`); empty for all. */
  optimizers: string[];
  matrix: [number, number];
  transformer: TransformerSize;
  reps: Repetitions;
  /** Steps over which launches are counted. */
  countSteps: number;
}

export const BROWSER_FULL_CONFIG: BrowserConfig = {
  name: 'browser',
  backends: ['webgl', 'webgpu'],
  optimizers: [],
  matrix: [1000, 1000],
  transformer: TRANSFORMER,
  reps: { warmupMs: 300, sampleMs: 100, minSamples: 5, maxSamples: 15, budgetMs: 1000 },
  countSteps: 3,
};

/**
 * A few seconds of measuring per backend: the three optimizers the targets name, on a 9e4-parameter
 * matrix and a 40-variable transformer set of 72,224 parameters, one step per sample.
 */
export const BROWSER_QUICK_CONFIG: BrowserConfig = {
  ...BROWSER_FULL_CONFIG,
  name: 'browser-quick',
  optimizers: ['sgd-momentum', 'adam', 'adamw'],
  matrix: [300, 300],
  transformer: { vocab: 1000, context: 64, dModel: 32, layers: 3 },
  reps: { warmupMs: 0, sampleMs: 0, minSamples: 3, maxSamples: 3, budgetMs: 0 },
  countSteps: 1,
};

/** One backend's page run, with the browser that ran it. */
export interface BrowserBackendResult extends PageResult {
  chromium: string;
  flags: string[];
}

export interface BrowserResults {
  kind: 'browser';
  machine: Machine;
  config: BrowserConfig;
  problems: ProblemShapes[];
  durationSec: number;
  backends: BrowserBackendResult[];
  rows: PageRow[];
  targets: Target[];
}

export function browserProblems(config: BrowserConfig): ProblemShapes[] {
  return [matrixProblem(config.matrix), transformerProblem(config.transformer)];
}

export interface RunOptions {
  log?: (line: string) => void;
  /** Where to build the page; a temporary directory (removed afterwards) when `null`. */
  pageDir?: string | null;
}

/** Builds the page, runs it on every configured backend and evaluates the targets. */
export async function runBrowserBench(
  config: BrowserConfig,
  options: RunOptions = {},
): Promise<BrowserResults> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const temporary =
    options.pageDir === null ? await mkdtemp(path.join(tmpdir(), 'optimkit-bench-page-')) : null;
  const pageDir = temporary ?? options.pageDir ?? DEFAULT_PAGE_DIR;
  try {
    const buildStarted = performance.now();
    await buildPage(pageDir);
    log(`built the bench page in ${((performance.now() - buildStarted) / 1000).toFixed(1)} s: ${pageDir}`);
    const server = await serveStatic(path.resolve(pageDir));
    const problems = browserProblems(config);
    const backends: BrowserBackendResult[] = [];
    try {
      for (const backend of config.backends) {
        const flags = [...(backend === 'webgpu' ? WEBGPU_ARGS : CHROMIUM_ARGS)];
        backends.push(await runBackend(server.url, backend, flags, { config, problems, log }));
      }
    } finally {
      await server.close();
    }
    const rows = backends.flatMap((b) => b.rows);
    return {
      kind: 'browser',
      machine: await describeMachine([]),
      config,
      problems,
      durationSec: (performance.now() - started) / 1000,
      backends,
      rows,
      targets: evaluateBrowserTargets(backends, problems),
    };
  } finally {
    if (temporary) await rm(temporary, { recursive: true, force: true });
  }
}

async function runBackend(
  url: string,
  backend: BrowserBackend,
  flags: string[],
  {
    config,
    problems,
    log,
  }: { config: BrowserConfig; problems: ProblemShapes[]; log: (line: string) => void },
): Promise<BrowserBackendResult> {
  const browser = await launchChromium({ args: flags });
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith('[bench] ')) log(text.slice('[bench] '.length));
      // ANGLE's performance notes ("GPU stall due to ReadPixels") are expected: the bench reads back.
      else if (
        (message.type() === 'error' || message.type() === 'warning') &&
        !text.includes('GL Driver Message')
      ) {
        log(`page ${message.type()}: ${text}`);
      }
    });
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForSelector('#status[data-ready="true"]', { timeout: 180_000 }).catch((error: unknown) => {
      throw new Error(`the bench page did not load: ${errors.join('; ') || String(error)}`);
    });
    const request: PageRequest = {
      backend,
      optimizers: config.optimizers,
      problems,
      reps: config.reps,
      countSteps: config.countSteps,
    };
    const result = await page.evaluate((r) => window.optimkitBench!.run(r), request);
    const chromium = browser.context.browser()?.version() ?? 'unknown';
    return { ...result, chromium, flags };
  } finally {
    await browser.close();
  }
}
