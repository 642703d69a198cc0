import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, relative, sep } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, inject, it } from 'vitest';
import {
  checksDir,
  EXPECTED_PUBLISHED,
  GITHUB,
  listFiles,
  NATIVE,
  privateWorkspacePackages,
  repoRoot,
  run,
  TFJS_FREE,
  userEnv,
} from './workspace.js';

type Manifest = Record<string, unknown> & {
  name: string;
  version: string;
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  publishConfig?: Record<string, unknown>;
};

/** Packages without a CommonJS form: the conformance kit runs inside vitest, which is ESM-only. */
const ESM_ONLY = new Set(['@optimkit/testing']);

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

  it('ships dist, README, LICENSE and CHANGELOG, and no sources or tests', async () => {
    const files = await listFiles(pkg.extracted);
    expect(files).toEqual(
      expect.arrayContaining([
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        ...(ESM_ONLY.has(pkg.name) ? [] : ['dist/index.cjs', 'dist/index.d.cts']),
      ]),
    );
    expect(await readFile(join(pkg.extracted, 'CHANGELOG.md'), 'utf8')).toMatch(
      new RegExp(`^# ${pkg.name}\n`),
    );
    // Each subpath's `<subpath>/package.json` (a family's `register`, zero's `node`) points node10
    // resolution (no `exports`) at its entry; a native addon ships what its install builds from.
    const manifest = await readManifest();
    const stubs = Object.keys(manifest.exports)
      .filter((subpath) => subpath !== '.' && subpath !== './package.json')
      .map((subpath) => `${subpath.slice(2)}/package.json`);
    const nativeSources = NATIVE.has(pkg.name) ? /^(native\/|scripts\/[\w-]+\.mjs$|binding\.gyp$)/ : /^$/;
    const unwanted = files.filter(
      (f) =>
        !f.startsWith('dist/') &&
        !nativeSources.test(f) &&
        !['LICENSE', 'README.md', 'package.json', 'CHANGELOG.md', ...stubs].includes(f),
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
    // Only import-time registration is a side effect: a family's register entry, core's placeholders
    // and the schedules' registration; zero and its MPI transport register nothing. Each listed
    // file ships.
    const files = new Set(await listFiles(pkg.extracted));
    for (const pattern of Array.isArray(manifest.sideEffects) ? (manifest.sideEffects as string[]) : []) {
      // `*` matches within one directory, as bundlers' globs do.
      const source = pattern.replace(/^\.\//, '').replace(/\./g, '\\.').replace(/\*/g, '[^/]*');
      const glob = new RegExp(`^${source}$`);
      expect(
        [...files].some((f) => glob.test(f)),
        pattern,
      ).toBe(true);
    }
    const expected: Record<string, string[] | false> = {
      // core's placeholders run in whichever chunk holds the registry.
      '@optimkit/core': ['./dist/*.js', './dist/*.cjs'],
      '@optimkit/testing': false,
      '@optimkit/schedules': ['./dist/index.js', './dist/index.cjs'],
      '@optimkit/zero': false,
      '@optimkit/zero-mpi': false,
    };
    expect(manifest.sideEffects).toEqual(expected[pkg.name] ?? ['./dist/register.js', './dist/register.cjs']);
    expect(manifest.license).toBe('MIT');
    expect(manifest.engines).toEqual({ node: '>=20.19' });
    // The published exports are the workspace's, minus the source condition: nothing forgotten.
    const workspace = JSON.parse(await readFile(join(pkg.dir, 'package.json'), 'utf8')) as Manifest;
    expect(manifest.exports).toEqual(withoutSource(workspace.exports));
  });

  it('has an exports map with ESM and CommonJS forms, types first, pointing at files it ships', async () => {
    const manifest = await readManifest();
    const files = new Set(await listFiles(pkg.extracted));
    const ships = (file: string) => files.has(file.replace(/^\.\//, ''));
    expect(Object.keys(manifest.exports)).toContain('.');
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') {
        expect(ships(target), `${subpath} → ${target}`).toBe(true);
        continue;
      }
      // The conformance kit runs inside vitest, which is ESM-only.
      const conditions = ESM_ONLY.has(pkg.name) ? ['import'] : ['import', 'require'];
      expect(Object.keys(target), subpath).toEqual(conditions);
      for (const condition of conditions) {
        const form = (target as unknown as Record<string, Record<string, string>>)[condition]!;
        expect(Object.keys(form), `${subpath} ${condition}`).toEqual(['types', 'default']);
        const [types, code] = [form.types!, form.default!];
        expect(code).toMatch(condition === 'import' ? /\.js$/ : /\.cjs$/);
        expect(types).toBe(code.replace(/\.js$/, '.d.ts').replace(/\.cjs$/, '.d.cts'));
        expect(ships(types) && ships(code), `${subpath} ${condition}`).toBe(true);
      }
    }
    // Resolvers without `exports` (TypeScript's node10, old bundlers) find both forms too (an
    // ESM-only package, its one form).
    if (ESM_ONLY.has(pkg.name)) {
      expect([manifest.main, manifest.module, manifest.types]).toEqual([
        undefined,
        './dist/index.js',
        './dist/index.d.ts',
      ]);
      return;
    }
    expect([manifest.main, manifest.module, manifest.types]).toEqual([
      './dist/index.cjs',
      './dist/index.js',
      './dist/index.d.cts',
    ]);
  });

  it('has complete npm metadata and no devDependency the registry lacks', async () => {
    const manifest = await readManifest();
    const directory = relative(repoRoot, pkg.dir).split(sep).join('/');
    expect(manifest.repository).toEqual({ type: 'git', url: `git+${GITHUB}.git`, directory });
    expect(manifest.homepage).toBe(`${GITHUB}/tree/main/${directory}#readme`);
    expect(manifest.bugs).toEqual({ url: `${GITHUB}/issues` });
    expect(manifest.description).toMatch(/\w/);
    const privateNames = await privateWorkspacePackages();
    const dangling = Object.keys({
      ...(manifest.devDependencies as Record<string, string> | undefined),
    }).filter((name) => privateNames.has(name));
    expect(dangling).toEqual([]);
    // The workspace does depend on them: the packer removed them.
    const workspace = JSON.parse(await readFile(join(pkg.dir, 'package.json'), 'utf8')) as Manifest;
    expect(Object.keys(workspace.devDependencies ?? {}).some((name) => privateNames.has(name))).toBe(true);
  });

  it('has a README whose links work on the registry page (absolute, no relative paths)', async () => {
    const readme = await readFile(join(pkg.extracted, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((link) => !/^(https?:|mailto:|#)/.test(link))).toEqual([]);
  });

  it('depends on @optimkit/core at most, with tfjs-core as a peer never bundled (or no tfjs at all)', async () => {
    const manifest = await readManifest();
    const dependencies = Object.keys(manifest.dependencies ?? {});
    const native = NATIVE.get(pkg.name);
    expect(dependencies.filter((d) => d !== '@optimkit/core' && d !== native?.build)).toEqual([]);
    if (native) expect(Object.keys(manifest.peerDependencies ?? {})).toContain(native.peer);
    const distJs = await Promise.all(
      (await listFiles(pkg.extracted))
        .filter((f) => f.startsWith('dist/') && /\.c?js$/.test(f))
        .map((f) => readFile(join(pkg.extracted, f), 'utf8')),
    );
    // Static (`from "x"`, `import "x"`), dynamic (`import("x")`) and CommonJS (`require("x")`)
    // imports of bare specifiers.
    const imported = new Set(
      distJs.flatMap((code) =>
        [
          ...code.matchAll(
            /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\(\s*)"((?:@[\w.-]+\/)?\w[\w.-]*(?:\/[\w.-]+)*)"/g,
          ),
        ].map((m) => m[1]),
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
    // Node's built-ins count as `node:` ones (the CommonJS build's `import.meta.url` shim requires
    // `url`).
    const bare = [...imported].filter((s): s is string => s !== undefined && !isBuiltin(s));
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

  it('is clean under @arethetypeswrong/cli (strict profile: node10, node16 CJS and ESM, bundler)', async () => {
    const attw = join(checksDir, 'node_modules/.bin/attw');
    // The conformance kit (vitest's world, ESM-only) is checked under attw's ESM-only profile.
    const profile = ESM_ONLY.has(pkg.name) ? 'esm-only' : 'strict';
    const { code, stdout, stderr } = await run(
      attw,
      [pkg.tarball, '--profile', profile, '--no-definitely-typed', '--format', 'json'],
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
    // Under the ESM-only profile attw still reports the CommonJS resolutions it ignores.
    const ignored = ESM_ONLY.has(pkg.name) ? new Set(['node10', 'node16-cjs']) : new Set<string>();
    expect(report.analysis.problems.filter((p) => !ignored.has(p.resolutionKind ?? ''))).toEqual([]);
    expect(code, stderr).toBe(0);
  });
});
