import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, serveStatic } from '@optimkit/browser-harness';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checksDir, lastJsonLine, makeTempDir, run, userEnv } from './workspace.js';

/**
 * Downstream projects as users make them, from the packed tarballs and the npm registry: CommonJS
 * without require(esm), both module formats in one process, jest 29, TypeScript in every
 * resolution mode, a Vite production build run in Chromium, and the dist files loaded natively by
 * Chromium through an import map (no bundler). One npm install serves them all.
 */
const packed = inject('packed');
const TOOLS = ['@tensorflow/tfjs@4.22.0', 'jest@29.7.0', 'typescript@5.9.3', 'vite@7.3.8'];
const FAMILIES = packed
  .map((p) => p.name)
  .filter((n) => !['@optimkit/core', '@optimkit/schedules'].includes(n));

let project = '';
const env = userEnv();
const temps: string[] = [];

beforeAll(async () => {
  project = await makeTempDir('consumers');
  temps.push(project);
  await cp(join(checksDir, 'fixtures/consumers'), project, { recursive: true });
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumers', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  await run('npm', ['install', '--no-audit', '--no-fund', ...packed.map((p) => p.tarball), ...TOOLS], {
    cwd: project,
    env,
  });
});

afterAll(async () => {
  const { rm } = await import('node:fs/promises');
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

const node = async (args: string[]) => (await run('node', args, { cwd: project, env })).stdout;

describe('CommonJS', () => {
  it('require() works without require(esm): trains, saves, resumes bit-identically, restores the schedule', async () => {
    const report = lastJsonLine<Record<string, unknown>>(
      await node(['--no-experimental-require-module', 'require.cjs']),
    );
    expect(report).toEqual({
      resolved: '@optimkit/adam/dist/index.cjs',
      className: 'OptimkitAdamW',
      instanceOfAdamW: true,
      instanceOfBase: true,
      schedule: 'warmupCosine',
      resumed: true,
      savedMidway: true,
    });
  });

  it('an ESM and a CommonJS copy of core share one registry and instanceof (the dual-package hazard)', async () => {
    const report = lastJsonLine<Record<string, unknown>>(await node(['dual.mjs']));
    expect(report).toEqual({
      twoCopiesOfCore: true,
      twoCopiesOfAdam: true,
      lionThroughCjsCore: 'OptimkitLion',
      lionIterations: 3,
      esmLionIsCjsBase: true,
      cjsAdamWIsEsmAdamW: true,
      cjsAdamWIsEsmBase: true,
      restoredAdamWIsCjsAdamW: true,
      restoredAdamWIsEsmAdamW: true,
      lionIsNotAdamW: true,
      sameRegistry: true,
    });
  });

  it('a jest 29 project requires the packages and passes', async () => {
    const { stdout, stderr } = await run('node', ['node_modules/jest/bin/jest.js', '--ci'], {
      cwd: project,
      env: { ...env, CI: 'true' },
    });
    expect(`${stdout}\n${stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
  });
});

describe('first-party classes before their package is imported', () => {
  it('every optimizer of every family has a tfjs serialization placeholder naming its package', async () => {
    const { before, defined } = lastJsonLine<{
      before: Record<string, string>;
      defined: Record<string, string>;
    }>(await node(['placeholders.mjs', JSON.stringify(FAMILIES)]));
    expect(Object.keys(defined).length).toBeGreaterThanOrEqual(FAMILIES.length);
    for (const [className, pkg] of Object.entries(defined)) {
      expect(before[className], className).toContain(`defined by ${pkg}; import '${pkg}'`);
      expect(before[className], className).toContain(`import '${pkg}/register'`);
    }
  });
});

describe('TypeScript in every resolution mode', () => {
  const modes = [
    {
      name: 'node10',
      module: 'commonjs',
      moduleResolution: 'node10',
      type: 'commonjs',
      types: 'index.d.cts',
    },
    {
      name: 'node16-cjs',
      module: 'node16',
      moduleResolution: 'node16',
      type: 'commonjs',
      types: 'index.d.cts',
    },
    { name: 'node16-esm', module: 'node16', moduleResolution: 'node16', type: 'module', types: 'index.d.ts' },
    { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', type: 'module', types: 'index.d.ts' },
  ];
  it.concurrent.each(modes)('$name: the published types resolve ($types) and check', async (mode) => {
    const dir = join(project, 'ts', mode.name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: mode.type }));
    await writeFile(join(dir, 'check.ts'), await readFile(join(project, 'ts/check.ts'), 'utf8'));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: mode.module,
          moduleResolution: mode.moduleResolution,
          target: 'es2022',
          lib: ['es2022', 'dom'],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const { code, stdout } = await run(
      'node',
      ['node_modules/typescript/bin/tsc', '-p', dir, '--listFiles'],
      {
        cwd: project,
        env,
        allowFailure: true,
      },
    );
    expect(stdout.split('\n').filter((l) => l.includes('error TS'))).toEqual([]);
    expect(code).toBe(0);
    for (const pkg of ['adam', 'core', 'schedules']) {
      expect(stdout, `${pkg} in ${mode.name}`).toContain(`node_modules/@optimkit/${pkg}/dist/${mode.types}`);
    }
    expect(stdout).toContain(`node_modules/@optimkit/adam/dist/register.${mode.types.replace('index.', '')}`);
  });
});

/** What the page at `url` sets as `window.__result` (a fixture page's report), read in a new tab. */
async function pageResult(
  browser: Awaited<ReturnType<typeof launchChromium>>,
  url: string,
): Promise<Record<string, unknown>> {
  const tab = await browser.context.newPage();
  await tab.goto(url, { waitUntil: 'commit' });
  await tab.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, {
    timeout: 300_000,
  });
  const value = await tab.evaluate(() => (window as { __result?: unknown }).__result);
  await tab.close();
  return value as Record<string, unknown>;
}

describe('a Vite production build in Chromium', () => {
  it('restores a saved tfjs-layers model and a saved optimizer, and names the package when unregistered', async () => {
    const saved = join(project, 'web/public');
    await mkdir(saved, { recursive: true });
    const { iterations } = lastJsonLine<{ iterations: number }>(await node(['make-saved.mjs', saved]));
    await run('node', ['node_modules/vite/bin/vite.js', 'build', 'web'], { cwd: project, env });
    const server = await serveStatic(join(project, 'web-dist'));
    const browser = await launchChromium();
    try {
      const restored = await pageResult(browser, new URL('index.html', server.url).href);
      expect(restored).toEqual({
        className: 'OptimkitAdamW',
        iterations,
        schedule: expect.objectContaining({
          schedule: 'warmupCosine',
          package: '@optimkit/schedules',
          step: iterations,
        }),
        modelResumed: true,
        lionClass: 'OptimkitLion',
        lionResumed: true,
      });
      const unregistered = await pageResult(browser, new URL('unregistered.html', server.url).href);
      expect(unregistered.loadOptimizer).toContain(
        "'OptimkitLion', which is not registered: import '@optimkit/lion' and use its classes, or import '@optimkit/lion/register'",
      );
      expect(unregistered.loadLayersModel).toContain(
        "The optimizer 'OptimkitAdamW' is not registered: it is defined by @optimkit/adam; import '@optimkit/adam'",
      );
      expect(unregistered.loadLayersModel).toContain("import '@optimkit/adam/register'");
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

/** Entry points that are for Node only: they import Node's built-in modules or a test runner. */
const NODE_ONLY = ['@optimkit/testing', '@optimkit/zero-mpi', '@optimkit/zero/node'];

/** The ESM file each published export subpath resolves to, as a browser's import map states it. */
async function importMap(): Promise<Record<string, string>> {
  const imports: Record<string, string> = {
    '@tensorflow/tfjs-core': '/native/tfjs-core.js',
  };
  for (const { name } of packed) {
    const manifest = JSON.parse(
      await readFile(join(project, 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      exports: Record<string, string | { import?: string | { default: string } }>;
    };
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (subpath === './package.json') continue;
      const esm = typeof target === 'string' ? target : target.import;
      const file = typeof esm === 'string' ? esm : esm?.default;
      if (!file) throw new Error(`${name} exports ${subpath} without an ESM file`);
      imports[`${name}${subpath.slice(1)}`] = `/node_modules/${name}/${file.replace(/^\.\//, '')}`;
    }
  }
  return imports;
}

describe('native ES modules in Chromium (no bundler, no Node globals)', () => {
  it('every browser entry point loads as published, and adamw trains fused, bit-identical to its composite path, and resumes', async () => {
    const site = join(project, 'native');
    // tfjs-core and its cpu backend are the page's one bundle (tfjs publishes CommonJS dependencies).
    await build({
      stdin: {
        contents: "export * from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-backend-cpu';",
        resolveDir: project,
        loader: 'js',
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: join(site, 'tfjs-core.js'),
      logLevel: 'silent',
    });
    const imports = await importMap();
    const entries = Object.keys(imports).filter((s) => s.startsWith('@optimkit/') && !NODE_ONLY.includes(s));
    expect(entries.length).toBeGreaterThan(20);
    await writeFile(join(site, 'entries.json'), JSON.stringify(entries));
    await writeFile(
      join(site, 'index.html'),
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>native</title>\n<script type="importmap">${JSON.stringify({ imports })}</script>\n</head><body><script type="module" src="./main.js"></script></body></html>\n`,
    );
    const server = await serveStatic(project);
    const browser = await launchChromium();
    try {
      const report = await pageResult(browser, new URL('native/index.html', server.url).href);
      expect(report).toEqual({
        processDefined: false,
        requireDefined: false,
        imported: entries.length,
        fusedActive: true,
        fusedKernelRan: true,
        failedImports: {},
        className: 'OptimkitAdamW',
        finite: true,
        fusedBitIdenticalToComposite: true,
        resumedBitIdentical: true,
        tensorsLeft: 0,
      });
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
