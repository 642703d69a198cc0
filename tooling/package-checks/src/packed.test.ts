import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, inject, it } from 'vitest';
import { checksDir, EXPECTED_PUBLISHED, listFiles, NATIVE, run, TFJS_FREE, userEnv } from './workspace.js';

type Manifest = Record<string, unknown> & {
  name: string;
  version: string;
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  publishConfig?: Record<string, unknown>;
};

const packed = inject('packed');

/** The exports map with the dev-only `@optimkit/source` condition removed. */
function withoutSource(exports: Manifest['exports']): Manifest['exports'] {
  return Object.fromEntries(
    Object.entries(exports).map(([subpath, target]) => [
      subpath,
      typeof target === 'string'
        ? target
        : Object.fromEntries(
            Object.entries(target).filter(([condition]) => condition !== '@optimkit/source'),
          ),
    ]),
  );
}

it('packs every package the design publishes, and only those', () => {
  expect(packed.map((p) => p.name).sort()).toEqual([...EXPECTED_PUBLISHED].sort());
});

describe.each(packed)('$name, as packed', (pkg) => {
  const readManifest = async () =>
    JSON.parse(await readFile(join(pkg.extracted, 'package.json'), 'utf8')) as Manifest;

  it('ships dist, README and LICENSE, and no sources or tests', async () => {
    const files = await listFiles(pkg.extracted);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js']));
    expect(files.filter((f) => f.endsWith('.d.ts')).length).toBeGreaterThan(0);
    const unwanted = files.filter(
      (f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json', 'CHANGELOG.md'].includes(f),
    );
    expect(unwanted).toEqual([]);
    expect(files.filter((f) => /\.(test|spec)\.|test-(helpers|support)|zz-explore/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.(ts|tsx|mts)$/.test(f) && !/\.d\.m?ts$/.test(f))).toEqual([]);
  });

  it('has a manifest without dev-only conditions or workspace ranges', async () => {
    const manifest = await readManifest();
    const text = JSON.stringify(manifest);
    expect(text).not.toContain('@optimkit/source');
    expect(text).not.toContain('workspace:');
    expect(text).not.toContain('./src/');
    expect(manifest.publishConfig?.exports).toBeUndefined();
    expect(manifest.type).toBe('module');
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.license).toBe('MIT');
    expect(manifest.engines).toEqual({ node: '>=20.19' });
    // The published exports are the workspace's, minus the source condition: nothing forgotten.
    const workspace = JSON.parse(await readFile(join(pkg.dir, 'package.json'), 'utf8')) as Manifest;
    expect(manifest.exports).toEqual(withoutSource(workspace.exports));
  });

  it('has an exports map with types first, pointing at files it ships', async () => {
    const manifest = await readManifest();
    const files = new Set(await listFiles(pkg.extracted));
    expect(Object.keys(manifest.exports)).toContain('.');
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') {
        expect(files.has(target.replace(/^\.\//, '')), `${subpath} → ${target}`).toBe(true);
        continue;
      }
      expect(Object.keys(target)[0], `first condition of ${subpath}`).toBe('types');
      expect(Object.keys(target)).toEqual(['types', 'default']);
      for (const file of Object.values(target)) {
        expect(files.has(file.replace(/^\.\//, '')), `${subpath} → ${file}`).toBe(true);
      }
    }
  });

  it('depends on @optimkit/core at most, with tfjs-core as a peer never bundled (or no tfjs at all)', async () => {
    const manifest = await readManifest();
    const dependencies = Object.keys(manifest.dependencies ?? {});
    const native = NATIVE.get(pkg.name);
    expect(dependencies.filter((d) => d !== '@optimkit/core' && d !== native?.build)).toEqual([]);
    if (native) expect(Object.keys(manifest.peerDependencies ?? {})).toContain(native.peer);
    const distJs = await Promise.all(
      (await listFiles(pkg.extracted))
        .filter((f) => f.startsWith('dist/') && f.endsWith('.js'))
        .map((f) => readFile(join(pkg.extracted, f), 'utf8')),
    );
    // Static (`from "x"`, `import "x"`) and dynamic (`import("x")`) imports of bare specifiers.
    const imported = new Set(
      distJs.flatMap((code) =>
        [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)"((?:@[\w.-]+\/)?\w[\w.-]*(?:\/[\w.-]+)*)"/g)].map(
          (m) => m[1],
        ),
      ),
    );
    if (TFJS_FREE.has(pkg.name)) {
      expect(manifest.peerDependencies ?? {}).toEqual({});
      expect(dependencies).toEqual([]);
      expect([...imported].filter((s) => s?.startsWith('@tensorflow/'))).toEqual([]);
    } else {
      expect(manifest.peerDependencies?.['@tensorflow/tfjs-core']).toBe('^4.22.0');
      // Core imports tfjs-core; a family of rules needs it only through core. Neither bundles it
      // (tfjs-core's kernel registry would come with it).
      if (pkg.name === '@optimkit/core') expect(imported.has('@tensorflow/tfjs-core')).toBe(true);
      expect(distJs.filter((code) => code.includes('kernelRegistry'))).toEqual([]);
      if (pkg.name !== '@optimkit/core' && !native) {
        expect(manifest.dependencies?.['@optimkit/core']).toBe(
          `^${packed.find((p) => p.name === '@optimkit/core')?.version}`,
        );
      }
    }
    // tfjs is imported, never bundled; and only from tfjs-core (never the full @tensorflow/tfjs).
    const bare = [...imported].filter((s): s is string => s !== undefined && !s.startsWith('node:'));
    const allowed = new Set([
      '@tensorflow/tfjs-core',
      '@optimkit/core',
      ...(pkg.name === '@optimkit/testing' ? ['vitest'] : []),
      ...(native ? [native.peer] : []),
    ]);
    expect(bare.filter((s) => !allowed.has(s))).toEqual([]);
  });

  it('is clean under publint (every level, strict)', async () => {
    const tarball = await readFile(pkg.tarball);
    const { messages, pkg: linted } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(linted.name).toBe(pkg.name);
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, linted) ?? m.code}`)).toEqual([]);
  });

  it('is clean under @arethetypeswrong/cli (ESM-only profile)', async () => {
    const attw = join(checksDir, 'node_modules/.bin/attw');
    const { code, stdout, stderr } = await run(
      attw,
      [pkg.tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'json'],
      { cwd: checksDir, env: userEnv(), allowFailure: true },
    );
    const report = JSON.parse(stdout) as {
      analysis: {
        types: unknown;
        entrypoints: Record<string, unknown>;
        problems: { kind: string; entrypoint: string; resolutionKind?: string }[];
      };
    };
    expect(report.analysis.types).not.toBe(false);
    const manifest = await readManifest();
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(Object.keys(manifest.exports).sort());
    // The ESM-only profile ignores node10 (no exports support) and require() from CommonJS.
    const problems = report.analysis.problems.filter(
      (p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs',
    );
    expect(problems).toEqual([]);
    expect(code, stderr).toBe(0);
  });
});
