import { copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPECTED_PUBLISHED, makeTempDir, repoRoot, run, userEnv } from './workspace.js';

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

type Bump = 'major' | 'minor' | 'patch';

/** The releases a changeset file asks for, from its front matter. */
function releasesOf(text: string): Map<string, Bump> {
  const frontMatter = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
  const releases = new Map<string, Bump>();
  for (const match of frontMatter.matchAll(/^\s*["']?([^"':]+)["']?\s*:\s*(major|minor|patch)\s*$/gm)) {
    releases.set(match[1]!, match[2] as Bump);
  }
  return releases;
}

function atLeast(before: string, after: string, bump: Bump): boolean {
  const [a0, a1, a2] = before.split('.').map(Number) as [number, number, number];
  const [b0, b1, b2] = after.split('.').map(Number) as [number, number, number];
  if (bump === 'major') return b0 > a0;
  if (bump === 'minor') return b0 > a0 || (b0 === a0 && b1 > a1);
  return b0 > a0 || (b0 === a0 && (b1 > a1 || (b1 === a1 && b2 > a2)));
}

/** package.json of every workspace package, by relative path. */
async function workspaceManifests(root: string): Promise<Map<string, Record<string, unknown>>> {
  const manifests = new Map<string, Record<string, unknown>>();
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const entry of await readdir(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = `${group}/${entry.name}/package.json`;
      try {
        manifests.set(path, JSON.parse(await readFile(join(root, path), 'utf8')));
      } catch {
        // a directory without a package.json is not a workspace package
      }
    }
  }
  return manifests;
}

describe('pnpm version-packages (changeset version)', () => {
  it('bumps versions and writes changelogs from the pending changesets, in a copy of the repo', async () => {
    const copy = await makeTempDir('version');
    temps.push(copy);
    const before = await workspaceManifests(repoRoot);
    for (const path of [...before.keys(), 'package.json', 'pnpm-workspace.yaml']) {
      await mkdir(dirname(join(copy, path)), { recursive: true });
      await copyFile(join(repoRoot, path), join(copy, path));
    }
    await mkdir(join(copy, '.changeset'));
    const changesetFiles = (await readdir(join(repoRoot, '.changeset'))).filter(
      (f) => f.endsWith('.md') || f === 'config.json',
    );
    for (const file of changesetFiles)
      await copyFile(join(repoRoot, '.changeset', file), join(copy, '.changeset', file));
    // One changeset of our own, so that the check never runs on nothing.
    const marker = 'Package checks: a patch release of lion made by the release-flow test.';
    await writeFile(
      join(copy, '.changeset', 'zz-package-checks.md'),
      `---\n"@optimkit/lion": patch\n---\n\n${marker}\n`,
    );
    // The changelog generator is resolved from the copy: give it the workspace's node_modules.
    await symlink(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
    const git = [
      '-c',
      'user.name=checks',
      '-c',
      'user.email=checks@example.invalid',
      '-c',
      'commit.gpgsign=false',
    ];
    await run('git', ['init', '-q', '-b', 'main'], { cwd: copy });
    await writeFile(join(copy, '.gitignore'), 'node_modules\n');
    await run('git', ['add', '.'], { cwd: copy });
    await run('git', [...git, 'commit', '-q', '-m', 'snapshot'], { cwd: copy });

    const pending = new Map<string, { bump: Bump; summaries: string[] }>();
    for (const file of (await readdir(join(copy, '.changeset'))).filter(
      (f) => f.endsWith('.md') && f !== 'README.md',
    )) {
      const text = await readFile(join(copy, '.changeset', file), 'utf8');
      const summary =
        text
          .replace(/^---\n[\s\S]*?\n---\n/, '')
          .trim()
          .split('\n')[0] ?? '';
      for (const [name, bump] of releasesOf(text)) {
        const entry = pending.get(name) ?? { bump, summaries: [] };
        if (bump === 'major' || (bump === 'minor' && entry.bump === 'patch')) entry.bump = bump;
        entry.summaries.push(summary);
        pending.set(name, entry);
      }
    }
    expect(pending.get('@optimkit/lion')?.summaries).toContain(marker);

    await run(join(repoRoot, 'node_modules/.bin/changeset'), ['version'], { cwd: copy, env: userEnv() });

    const after = await workspaceManifests(copy);
    expect((await readdir(join(copy, '.changeset'))).filter((f) => f.endsWith('.md'))).toEqual(['README.md']);
    for (const [path, manifest] of before) {
      const name = manifest.name as string;
      const next = after.get(path)!;
      const dir = join(copy, dirname(path));
      const release = pending.get(name);
      if (manifest.private) {
        expect(next.version, `${name} is private`).toBe(manifest.version);
        continue;
      }
      expect(EXPECTED_PUBLISHED).toContain(name);
      if (release) {
        expect(
          atLeast(manifest.version as string, next.version as string, release.bump),
          `${name} ${release.bump}`,
        ).toBe(true);
        const changelog = await readFile(join(dir, 'CHANGELOG.md'), 'utf8');
        expect(changelog).toContain(`## ${next.version}`);
        for (const summary of release.summaries) expect(changelog).toContain(summary);
      }
      // Internal dependencies keep the workspace protocol (pnpm replaces it when packing).
      const deps = (next.dependencies ?? {}) as Record<string, string>;
      for (const [dep, range] of Object.entries(deps)) {
        if (dep.startsWith('@optimkit/')) expect(range).toBe('workspace:^');
      }
    }
  });
});

describe('pnpm release, as a dry run', () => {
  let server: Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('would publish exactly the public packages, and writes nothing to any registry', async () => {
    // A stand-in registry on localhost: every package is unpublished (404), and any write would be
    // recorded and refused. The empty user config keeps any credentials out of the run.
    const requests: string[] = [];
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.statusCode = req.method === 'GET' || req.method === 'HEAD' ? 404 : 403;
      res.setHeader('content-type', 'application/json');
      res.end('{"error":"not found"}');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const temp = await makeTempDir('publish');
    temps.push(temp);
    await writeFile(join(temp, 'npmrc'), '');
    const registry = `http://127.0.0.1:${port}/`;
    const { stdout, stderr } = await run(
      'pnpm',
      ['-r', 'publish', '--dry-run', '--no-git-checks', '--access', 'public'],
      {
        cwd: repoRoot,
        env: userEnv({ npm_config_registry: registry, npm_config_userconfig: join(temp, 'npmrc') }),
      },
    );
    const output = stdout + stderr;
    const published = [...output.matchAll(/^\+ (@optimkit\/[a-z-]+)@(\S+)$/gm)].map((m) => m[1]);
    expect(published.sort()).toEqual([...EXPECTED_PUBLISHED].sort());
    expect(output.match(/\(dry-run\)$/gm)?.length).toBeGreaterThanOrEqual(EXPECTED_PUBLISHED.length);
    expect(output).not.toMatch(
      /@optimkit\/(playground|package-checks|create-optimizer|tsconfig|vitest-config)@/,
    );
    expect(output).toContain(`Publishing to ${registry}`);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => !r.startsWith('GET ') && !r.startsWith('HEAD '))).toEqual([]);
  });
});
