import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { catalog, classicExperiment } from './catalog.js';

const run = promisify(execFile);
const APP = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
const temporary: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'optimkit-playground-'));
  temporary.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of temporary) await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function playground(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@optimkit/source', cli, ...args],
      { cwd: APP, timeout: 400_000, env: { ...process.env, ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const tableRows = (markdown: string, heading: string) => {
  const section = markdown.split('\n## ').find((s) => s.startsWith(heading)) ?? '';
  return section.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| optimizer'));
};

describe('playground CLI', () => {
  it('--quick runs the classic experiment, every optimizer and the surfaces, and writes the report', async () => {
    const out = await tempDir();
    const { code, stdout, stderr } = await playground(['--quick', '--out', out]);
    expect(stderr).not.toMatch(/error|warn/i);
    expect(stderr).not.toContain('looks like you are running TensorFlow.js in Node.js');
    expect(stderr).toMatch(new RegExp(`optimizer ${catalog.length} of ${catalog.length}`));
    expect(stderr).toContain('ETA');
    expect(code).toBe(0);
    for (const entry of [...classicExperiment, ...catalog])
      expect(stdout).toContain(`${entry.label}: test accuracy`);
    expect(stdout).toContain(`report: ${join(out, 'README.md')}`);

    const report = await readFile(join(out, 'README.md'), 'utf8');
    expect(report).toContain('Its accuracies and rankings mean nothing');
    const classic = tableRows(report, 'The classic experiment');
    expect(classic).toHaveLength(classicExperiment.length);
    expect(report).toContain('| SGD | learningRate 0.01 |');
    expect(report).toContain('| RMSProp | learningRate 1e-3, alpha 0.9 |');
    const every = tableRows(report, 'Every optimizer');
    expect(every).toHaveLength(catalog.length);
    // mean ± standard deviation over the two seeds of --quick, for every optimizer
    for (const row of every) expect(row).toMatch(/\| \d+\.\d\d ± \d+\.\d\d \|/);
    // tf.train.momentum is optimkit's Nesterov SGD step for step: found, and said
    expect(report).toMatch(/\*\*SGD \+ Nesterov\*\* and \*\*tf\.train\.momentum\*\* coincide/);
    expect(report).toContain('### Rosenbrock');
    expect(report).toContain('## Data-parallel training with ZeRO: 2 rank(s) on worker threads');

    const plots = await readdir(join(out, 'plots'));
    expect(plots.sort()).toEqual(
      [
        'classic-accuracy.svg',
        'classic-loss.svg',
        'mnist-accuracy.svg',
        'mnist-loss.svg',
        'surface-beale.svg',
        'surface-bowl.svg',
        'surface-rosenbrock.svg',
        'surface-saddle.svg',
      ].sort(),
    );
    const svg = await readFile(join(out, 'plots', 'mnist-loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('tf.train.momentum ≡ SGD + Nesterov');
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.files.sort()).toEqual(['README.md', ...plots.map((p) => `plots/${p}`)].sort());
    const adamw = results.comparison.runs.filter((r: { optimizer: string }) => r.optimizer === 'adamw');
    expect(adamw.map((r: { seed: number }) => r.seed)).toEqual([1, 2]);
    for (const r of adamw) {
      expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0]);
      expect(r.epochAccuracy).toHaveLength(1);
    }
  }, 400_000);

  it('--data-parallel --quick trains the MLP on 2 worker threads with ZeRO and reports a consistent table', async () => {
    const out = await tempDir();
    const { code, stdout, stderr } = await playground(['--data-parallel', '--quick', '--out', out]);
    expect(stderr).not.toMatch(/error|warn/i);
    expect(stderr).toContain('data-parallel: 2 rank(s) on worker threads');
    expect(code).toBe(0);
    expect(stdout).toContain('at 2 rank(s) on worker threads (quick: its figures mean nothing)');
    expect(stdout).toMatch(/2 rank\(s\): state \d+ \+ \d+ bytes, .*ranks identical: yes/);

    const report = await readFile(join(out, 'README.md'), 'utf8');
    for (const other of ['## The classic experiment', '## Every optimizer', '## Trajectories'])
      expect(report).not.toContain(other);
    const section = report.split('\n## ').find((s) => s.startsWith('Data-parallel training with ZeRO')) ?? '';
    expect(section).toContain('Its times, losses and accuracies mean nothing');
    const rows = section
      .split('\n')
      .filter((l) => /^\| (\d|one process)/.test(l))
      .map((l) => l.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '')));
    expect(rows.map((r) => r[0])).toEqual(['2', 'one process']);
    const [two, one] = rows as [string[], string[]];
    // The two ranks' state adds up to the single process's unsharded AdamW state.
    expect(two[1]!.split(' · ')).toHaveLength(2);
    expect(two[2]).toBe(one[1]);
    expect(two[9]).toBe('yes (bit for bit)');

    const { dataParallel } = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    const parameters = dataParallel.single.sizes.reduce((a: number, b: number) => a + b, 0);
    expect(parameters).toBe(784 * 200 + 200 + 200 * 10 + 10);
    expect(dataParallel.single.stateBytes).toBe(2 * 4 * parameters);
    const [row] = dataParallel.rows;
    expect(dataParallel.rows).toHaveLength(1);
    expect(row.worldSize).toBe(2);
    expect(row.stateBytes.reduce((a: number, b: number) => a + b, 0)).toBe(dataParallel.single.stateBytes);
    expect(Math.max(...row.stateBytes)).toBe(2 * 4 * 784 * 200);
    expect(row.owned.flat().sort()).toEqual(['hidden/bias', 'hidden/kernel', 'output/bias', 'output/kernel']);
    expect(row.ranksIdentical).toBe(true);
    expect(row.maxDifferenceToSingle).toBeLessThan(1e-5);
    expect(row.losses).toHaveLength(dataParallel.plan.steps);
    expect(row.losses.every(Number.isFinite)).toBe(true);
    expect(row.bytesSentPerStep.every((b: number) => b > 0)).toBe(true);
    expect(row.bytesReceivedPerStep.every((b: number) => b > 0)).toBe(true);
  }, 400_000);

  it('--out is relative to where the user stands (INIT_CWD); a rerun replaces its own files only', async () => {
    const user = await tempDir();
    const first = await playground(['--classic', '--quick', '--seeds', '1', '--out', 'my-report'], {
      INIT_CWD: user,
    });
    expect(first.code).toBe(0);
    const dir = join(user, 'my-report');
    expect(first.stdout).toContain(`report: ${join(dir, 'README.md')}`);
    expect((await readdir(join(dir, 'plots'))).sort()).toEqual(['classic-accuracy.svg', 'classic-loss.svg']);
    await writeFile(join(dir, 'notes.txt'), 'mine');

    const second = await playground(['--quick', '--no-classic', '--no-mnist', '--out', 'my-report'], {
      INIT_CWD: user,
    });
    expect(second.code).toBe(0);
    const plots = await readdir(join(dir, 'plots'));
    expect(plots.some((p) => p.startsWith('classic'))).toBe(false);
    expect(plots).toContain('surface-bowl.svg');
    expect(await readFile(join(dir, 'README.md'), 'utf8')).not.toContain('classic experiment');
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  }, 400_000);

  it('refuses to write into a non-empty folder that holds no report, in one line', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'src'));
    const { code, stderr } = await playground(['--quick', '--classic', '--seeds', '1', '--out', dir]);
    expect(code).not.toBe(0);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error')),
    ).toEqual([`error: ${dir} is not empty and holds no playground report: choose another --out`]);
  }, 400_000);

  it('the README command `pnpm --filter @optimkit/playground start -- --help` prints the help', async () => {
    const { stdout } = await run('pnpm', ['--filter', '@optimkit/playground', 'start', '--', '--help'], {
      cwd: join(APP, '..', '..'),
      timeout: 300_000,
    });
    expect(stdout).toContain('Usage: optimkit-playground');
    expect(stdout).toContain('--seeds <n>');
    expect(stdout).toContain('--classic');
  }, 400_000);

  it('an unknown optimizer is a one-line error naming the valid choices, with a non-zero exit', async () => {
    const { code, stderr } = await playground(['--optimizers', 'adamw,nope', '--no-surfaces', '--quick']);
    expect(code).not.toBe(0);
    const lines = stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(lines).toEqual([`error: unknown optimizer nope; valid: ${catalog.map((e) => e.name).join(', ')}`]);
  });

  it('invalid flags are one-line errors with a non-zero exit', async () => {
    for (const args of [
      ['--epochs', '0'],
      ['--seeds', '0'],
      ['--backend', 'gpu'],
      ['--frobnicate'],
      ['--classic', '--data-parallel'],
    ]) {
      const { code, stderr } = await playground(args);
      expect(code).not.toBe(0);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^error: /);
    }
  });
});
