import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { catalog } from './catalog.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));

async function playground(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@optimkit/source', cli, ...args],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 240_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('playground CLI', () => {
  it('--quick runs every optimizer and writes the report', async () => {
    const out = await mkdtemp(join(tmpdir(), 'optimkit-report-'));
    const { code, stdout, stderr } = await playground(['--quick', '--out', out]);
    // stderr carries the progress bars (and tfjs's banner), but no error or warning
    expect(stderr).not.toMatch(/error|warn/i);
    expect(code).toBe(0);
    for (const entry of catalog) expect(stdout).toContain(`${entry.label}: test accuracy`);
    const report = await readFile(join(out, 'README.md'), 'utf8');
    const rows = report.split('\n').filter((line) => /^\| .* \| [\d.]+ \| [\d.]+ % \|/.test(line));
    expect(rows).toHaveLength(catalog.length);
    const plots = await readdir(join(out, 'plots'));
    expect(plots.sort()).toEqual(
      [
        'mnist-loss.svg',
        'surface-beale.svg',
        'surface-bowl.svg',
        'surface-rosenbrock.svg',
        'surface-saddle.svg',
      ].sort(),
    );
    const svg = await readFile(join(out, 'plots', 'surface-rosenbrock.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('AdaBelief (plugin)');
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    const adamw = results.mnist.find((r: { optimizer: string }) => r.optimizer === 'adamw');
    expect(adamw.losses[adamw.losses.length - 1]).toBeLessThan(adamw.losses[0]);
    await rm(out, { recursive: true });
  });

  it('an unknown optimizer is a one-line error naming the valid choices, with a non-zero exit', async () => {
    const { code, stderr } = await playground(['--optimizers', 'adamw,nope', '--no-surfaces', '--quick']);
    expect(code).not.toBe(0);
    const lines = stderr.split('\n').filter((l) => l.startsWith('error'));
    expect(lines).toEqual([`error: unknown optimizer nope; valid: ${catalog.map((e) => e.name).join(', ')}`]);
  });

  it('invalid flags are one-line errors with a non-zero exit', async () => {
    for (const args of [['--epochs', '0'], ['--backend', 'gpu'], ['--frobnicate']]) {
      const { code, stderr } = await playground(args);
      expect(code).not.toBe(0);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^error: /);
    }
  });
});
