import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo's root directory. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** This package's directory. */
export const checksDir = fileURLToPath(new URL('../', import.meta.url));

/** The packages the design says are published; every one of them must be found and checked. */
export const EXPECTED_PUBLISHED = [
  '@optimkit/core',
  '@optimkit/sgd',
  '@optimkit/adaptive',
  '@optimkit/adam',
  '@optimkit/layerwise',
  '@optimkit/lion',
  '@optimkit/factored',
  '@optimkit/multi-momentum',
  '@optimkit/muon',
  '@optimkit/partition',
  '@optimkit/schedule-free',
  '@optimkit/prodigy',
  '@optimkit/averaging',
  '@optimkit/schedules',
  '@optimkit/testing',
  '@optimkit/zero',
  '@optimkit/zero-mpi',
];

/**
 * Packages with a native addon built when they are installed: the build tool is their one
 * dependency besides optimkit's, and they build on another optimkit package, a peer.
 */
export const NATIVE: ReadonlyMap<string, { build: string; peer: string }> = new Map([
  ['@optimkit/zero-mpi', { build: 'node-gyp', peer: '@optimkit/zero' }],
]);

/**
 * The repository's GitHub address in every manifest and README: a placeholder organisation
 * (`optimkit/optimkit`) until the repository is published under its real one.
 */
export const GITHUB = 'https://github.com/optimkit/optimkit';

/** The names of the private workspace packages (configs, tooling, apps): never on the registry. */
export async function privateWorkspacePackages(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const group of ['packages', 'apps', 'tooling', 'examples']) {
    for (const entry of await readdir(join(repoRoot, group), { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      try {
        const manifest = JSON.parse(
          await readFile(join(repoRoot, group, entry.name, 'package.json'), 'utf8'),
        );
        if (manifest.private) names.add(manifest.name as string);
      } catch {}
    }
  }
  return names;
}

/** Packages with no TensorFlow.js at all (neither dependency nor import). */
export const TFJS_FREE = new Set(['@optimkit/schedules']);

export interface WorkspacePackage {
  name: string;
  /** Absolute directory. */
  dir: string;
  manifest: Record<string, unknown> & { name: string; version: string; private?: boolean };
}

/** Every non-private package under packages/: what `changeset publish` would publish. */
export async function publishedPackages(): Promise<WorkspacePackage[]> {
  const packagesDir = join(repoRoot, 'packages');
  const found: WorkspacePackage[] = [];
  for (const entry of await readdir(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(packagesDir, entry.name);
    let text: string;
    try {
      text = await readFile(join(dir, 'package.json'), 'utf8');
    } catch {
      continue;
    }
    const manifest = JSON.parse(text) as WorkspacePackage['manifest'];
    if (!manifest.private) found.push({ name: manifest.name, dir, manifest });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** A new empty directory in the OS's temporary directory, never inside the workspace. */
export async function makeTempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `optimkit-${label}-`));
  const rel = relative(repoRoot, dir);
  if (!rel.startsWith(`..${sep}`) && rel !== '..') {
    throw new Error(`The temporary directory ${dir} is inside the workspace; set TMPDIR elsewhere`);
  }
  return dir;
}

/**
 * The environment for child processes that act as a user outside the workspace: without the
 * variables pnpm, turbo and vitest set for this run (npm_config_*, VITEST_*, NODE_ENV, …), which
 * would otherwise leak into npm and into nested vitest runs.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const upper = key.toUpperCase();
    if (
      upper.startsWith('NPM_') ||
      upper.startsWith('PNPM_') ||
      upper.startsWith('VITEST') ||
      upper.startsWith('TURBO_') ||
      ['NODE_ENV', 'NODE_OPTIONS', 'TEST', 'INIT_CWD', 'COREPACK_ROOT'].includes(upper)
    ) {
      continue;
    }
    env[key] = value;
  }
  // The registry (and its cache) as configured for this run, if any, stays in effect.
  for (const key of ['npm_config_registry', 'NPM_CONFIG_REGISTRY', 'npm_config_cache', 'NPM_CONFIG_CACHE']) {
    if (process.env[key]) env[key] = process.env[key];
  }
  return {
    ...env,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    FORCE_COLOR: '0',
    NO_COLOR: '1',
    ...extra,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

/** Runs a command without a shell and collects its output; rejects on a non-zero exit. */
export function run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 8 * 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code === 0 || options.allowFailure) resolve(result);
      else {
        reject(
          new Error(
            `${command} ${args.join(' ')} (in ${options.cwd}) exited with ${code ?? signal}\n` +
              `--- stdout\n${stdout.slice(-8000)}\n--- stderr\n${stderr.slice(-8000)}`,
          ),
        );
      }
    });
  });
}

/** The last line of `output` that parses as a JSON object (tfjs prints a banner before it). */
export function lastJsonLine<T>(output: string): T {
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`No JSON line in output:\n${output}`);
  return JSON.parse(line) as T;
}

/** Every file under `dir`, as '/'-separated paths relative to it. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}
