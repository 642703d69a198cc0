import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checksDir, lastJsonLine, makeTempDir, run, userEnv } from './workspace.js';

const packed = inject('packed');
const TFJS_VERSION = '4.22.0';

/** The families installed alone next to @optimkit/core, each with options that use its slots. */
const FAMILIES = [
  { name: '@optimkit/sgd', factory: 'sgd', options: { learningRate: 0.05, momentum: 0.9, nesterov: true } },
  { name: '@optimkit/lion', factory: 'lion', options: { learningRate: 0.01, weightDecay: 0.1 } },
];
const STEPS = 40;
const SAVED_AT = 17;

interface Report {
  className: string;
  iterations: number;
  loss: number;
  initialLoss: number;
  values: Record<string, number[]>;
  restoredIterations?: number;
  restoredConfig?: Record<string, unknown>;
}

function tarballOf(name: string): string {
  const pkg = packed.find((p) => p.name === name);
  if (!pkg) throw new Error(`${name} was not packed`);
  return pkg.tarball;
}

/** Every directory named @optimkit anywhere under node_modules, with what it holds. */
async function optimkitDirectories(nodeModules: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(nodeModules, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory() && entry.name === '@optimkit') {
      const dir = join(entry.parentPath, entry.name);
      for (const child of await readdir(dir)) found.push(join(dir, child).slice(nodeModules.length + 1));
    }
  }
  return found.sort();
}

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe.each(FAMILIES)('a fresh npm project with only @optimkit/core and $name', (family) => {
  let project = '';
  const env = userEnv();
  const script = async (mode: string, steps: number, stateDir: string) =>
    lastJsonLine<Report>(
      (
        await run(
          'node',
          [
            'train.mjs',
            family.name,
            family.factory,
            JSON.stringify(family.options),
            mode,
            String(steps),
            stateDir,
          ],
          { cwd: project, env },
        )
      ).stdout,
    );

  it('installs from the tarballs and the registry, and nothing else of optimkit', async () => {
    project = await makeTempDir(`install-${family.factory}`);
    temps.push(project);
    await writeFile(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'selective-install', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        tarballOf('@optimkit/core'),
        tarballOf(family.name),
        `@tensorflow/tfjs-core@${TFJS_VERSION}`,
        `@tensorflow/tfjs-backend-cpu@${TFJS_VERSION}`,
      ],
      { cwd: project, env },
    );
    const nodeModules = join(project, 'node_modules');
    const short = family.name.replace('@optimkit/', '');
    expect(await optimkitDirectories(nodeModules)).toEqual(
      ['core', short].sort().map((n) => join('@optimkit', n)),
    );
    expect((await readdir(join(nodeModules, '@tensorflow'))).sort()).toEqual([
      'tfjs-backend-cpu',
      'tfjs-core',
    ]);
    // Both came from the tarballs (the family's dependency on core was satisfied by it).
    const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; version?: string }>;
    };
    for (const name of ['@optimkit/core', family.name]) {
      expect(lock.packages[`node_modules/${name}`]?.resolved).toMatch(/^file:.*\.tgz$/);
    }
    expect(lock.packages['node_modules/@tensorflow/tfjs-core']?.version).toBe(TFJS_VERSION);
    await copyFile(join(checksDir, 'fixtures/train.mjs'), join(project, 'train.mjs'));
  });

  it('trains, saves, resumes in a new process through loadOptimizer, and matches an uninterrupted run', async () => {
    expect(project, 'the install step ran').not.toBe('');
    const stateDir = join(project, 'state');
    await mkdir(stateDir);
    const full = await script('full', STEPS, stateDir);
    const first = await script('first', SAVED_AT, stateDir);
    const rest = await script('rest', STEPS - SAVED_AT, stateDir);

    expect(full.iterations).toBe(STEPS);
    expect(full.loss).toBeLessThan(full.initialLoss * 0.9);
    expect(first.iterations).toBe(SAVED_AT);
    expect(rest.className).toBe(full.className);
    expect(rest.className).toMatch(/^Optimkit/);
    expect(rest.restoredIterations).toBe(SAVED_AT);
    expect(rest.restoredConfig).toMatchObject(family.options);
    expect(rest.iterations).toBe(STEPS);
    // Bit for bit: the float32 values' bit patterns are compared.
    expect(rest.values).toEqual(full.values);
    expect(first.values).not.toEqual(full.values);
  });

  it('names the package to import when the state is loaded without importing the family', async () => {
    expect(project, 'the install step ran').not.toBe('');
    const { error } = lastJsonLine<{ error: string | null }>(
      (
        await run(
          'node',
          ['train.mjs', family.name, family.factory, '{}', 'unregistered', '0', join(project, 'state')],
          { cwd: project, env },
        )
      ).stdout,
    );
    expect(error).toContain(`import '${family.name}'`);
  });
});
