import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checksDir, listFiles, makeTempDir, repoRoot, run, userEnv } from './workspace.js';

const packed = inject('packed');
const core = packed.find((p) => p.name === '@optimkit/core');
const testing = packed.find((p) => p.name === '@optimkit/testing');
const cli = join(repoRoot, 'tooling/create-optimizer/index.mjs');

let temp = '';
afterAll(async () => {
  if (temp) await rm(temp, { recursive: true, force: true });
});

describe('create-optimizer: a third-party plugin from zero to a passing package', () => {
  const env = userEnv();
  let dir = '';

  it('refuses bad names and unknown flags', async () => {
    temp = await makeTempDir('plugin');
    const bad = await run('node', [cli, join(temp, 'bad'), '--name', 'SignSGD'], {
      cwd: temp,
      env,
      allowFailure: true,
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--name must be kebab-case/);
    const unknown = await run('node', [cli, join(temp, 'bad'), '--nme', 'x'], {
      cwd: temp,
      env,
      allowFailure: true,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Unknown option `--nme`/);
    const taken = await run('node', [cli, join(temp, 'bad'), '--name', 'adam'], {
      cwd: temp,
      env,
      allowFailure: true,
    });
    expect(taken.stderr).toMatch(/--class-name 'Adam' is taken/);
  });

  it('generates the package', async () => {
    if (!core) throw new Error('@optimkit/core was not packed');
    if (!testing) throw new Error('@optimkit/testing was not packed');
    dir = join(temp, 'optimkit-sign-momentum');
    const { stdout } = await run(
      'node',
      [
        cli,
        dir,
        '--name',
        'sign-momentum',
        '--core',
        `file:${core.tarball}`,
        '--testing',
        `file:${testing.tarball}`,
      ],
      {
        cwd: temp,
        env,
      },
    );
    expect(stdout).toContain('npm test');
    expect(await listFiles(dir)).toEqual(
      [
        '.gitignore',
        'LICENSE',
        'README.md',
        'package.json',
        'src/index.ts',
        'src/sign-momentum.test.ts',
        'src/sign-momentum.ts',
        'tsconfig.build.json',
        'tsconfig.json',
        'vitest.config.ts',
        'vitest.setup.ts',
      ].sort(),
    );
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    expect(manifest.name).toBe('optimkit-sign-momentum');
    expect(manifest.peerDependencies).toEqual({
      '@optimkit/core': `^${core.version}`,
      '@tensorflow/tfjs-core': '^4.22.0',
    });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.devDependencies['@optimkit/testing']).toBe(`file:${testing.tarball}`);
    expect(manifest.sideEffects).toBe(false);
    expect(Object.keys(manifest.exports['.'])).toEqual(['types', 'default']);
    const source = await readFile(join(dir, 'src/sign-momentum.ts'), 'utf8');
    expect(source).toMatch(/export const SignMomentum = \/\* @__PURE__ \*\/ defineOptimizer\(/);
    expect(source).toContain("className: 'SignMomentum'");
    expect(source).toMatch(/export function signMomentum\(/);
    // A rule (fused by core), not a tfjs-ops update.
    expect(source).toMatch(/^ {2}rule\(\{ param, grad, slots, s, op, v \}\) \{$/m);
    expect(source).not.toMatch(/^ {2}update\(/m);
    expect(source).not.toContain('@tensorflow/tfjs-core');
    const test = await readFile(join(dir, 'src/sign-momentum.test.ts'), 'utf8');
    expect(test).toContain("from '@optimkit/testing'");
    expect(test).toContain('describeFusedEquivalence<SignMomentumOptions>({');
  });

  it('installs against the packed @optimkit/core and passes its own tests out of the box', async () => {
    expect(dir, 'the package was generated').not.toBe('');
    await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, env });
    const installedCore = JSON.parse(
      await readFile(join(dir, 'node_modules/@optimkit/core/package.json'), 'utf8'),
    );
    expect(installedCore.version).toBe(core?.version);
    const { stdout } = await run('npm', ['test', '--', '--reporter=verbose'], { cwd: dir, env });
    const tests = /Tests\s+(\d+) passed \((\d+)\)/.exec(stdout);
    expect(tests, stdout).not.toBeNull();
    // Every test ran and passed ("N passed (N)", no skipped or todo in between): hand-derived
    // steps and the whole conformance suite.
    expect(tests?.[1]).toBe(tests?.[2]);
    expect(Number(tests?.[1])).toBeGreaterThanOrEqual(20);
    expect(stdout).toMatch(/signMomentum: optimkit conformance > converges on Rosenbrock/);
    expect(stdout).toMatch(/signMomentum > takes hand-derived steps/);
    // The fused kernels ran, and equal the composite tfjs ops bit for bit on cpu and wasm.
    expect(stdout).toMatch(/signMomentum: fused > runs one fused kernel per variable on cpu/);
    for (const backend of ['cpu', 'wasm']) {
      expect(stdout).toMatch(
        new RegExp(`signMomentum: fused kernel ≡ composite ops on ${backend} > bit-identical for \\{\\}`),
      );
    }
    await run('npm', ['run', 'typecheck'], { cwd: dir, env });
  });

  it('packs to a clean ESM package with types (publint, attw)', async () => {
    expect(dir, 'the package was installed').not.toBe('');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', temp], { cwd: dir, env });
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    if (!info) throw new Error(`npm pack printed no result:\n${stdout}`);
    expect(info.files.map((f) => f.path).sort()).toEqual(
      [
        'LICENSE',
        'README.md',
        'dist/index.d.ts',
        'dist/index.js',
        'dist/sign-momentum.d.ts',
        'dist/sign-momentum.js',
        'package.json',
      ].sort(),
    );
    const tarball = join(temp, info.filename);
    const bytes = await readFile(tarball);
    const { messages, pkg } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => formatMessage(m, pkg) ?? m.code)).toEqual([]);
    const attw = await run(
      join(checksDir, 'node_modules/.bin/attw'),
      [tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'ascii'],
      { cwd: temp, env, allowFailure: true },
    );
    expect(attw.code, attw.stdout + attw.stderr).toBe(0);
  });
});
