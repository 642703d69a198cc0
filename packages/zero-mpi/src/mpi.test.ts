import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFixture } from '../../zero/src/fixtures/bundle.js';
import type { TrainResult, TrainTask } from '../../zero/src/fixtures/train-rank.js';

interface Job {
  code: number | null;
  stdout: string;
  stderr: string;
  results: TrainResult[];
}

/** Runs the fixture on `np` processes with mpirun and collects each rank's result. */
async function mpirun(np: number, task: TrainTask & { timeoutMs?: number }): Promise<Job> {
  const script = await bundleFixture(
    new URL('./fixtures/mpi-rank.ts', import.meta.url),
    new URL('../', import.meta.url),
  );
  const resultDir = mkdtempSync(join(tmpdir(), 'zero-mpi-'));
  const job = JSON.stringify({ ...task, resultDir });
  const args = ['-np', String(np), '--oversubscribe', '--allow-run-as-root', process.execPath, script, job];
  return new Promise((resolve, reject) => {
    const child = spawn('mpirun', args, {
      // Containers often forbid the cross-memory-attach single copy; plain shared memory works everywhere.
      env: { ...process.env, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const results: TrainResult[] = [];
      for (let r = 0; r < np; r++) {
        const file = join(resultDir, `rank-${r}.json`);
        if (existsSync(file)) results[r] = JSON.parse(readFileSync(file, 'utf8')) as TrainResult;
      }
      rmSync(resultDir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, results });
    });
  });
}

describe('ZeRO over MPI (mpirun)', () => {
  it('every family on 2 processes (stage 2) and two on 4 (stage 1): bit-identical to unsharded data parallelism', async () => {
    for (const [np, stage, families] of [
      [2, 2, undefined],
      [4, 1, ['adamw', 'lamb']],
    ] as const) {
      const job = await mpirun(np, { stage, steps: 10, ...(families ? { families: [...families] } : {}) });
      expect(job.code, job.stderr).toBe(0);
      expect(job.results.filter(Boolean).length).toBe(np);
      for (const [family, result] of Object.entries(job.results[0]!)) {
        expect(result.sharded, family).toEqual(result.unsharded);
        expect(result.leaked, family).toBe(0);
        for (const other of job.results.slice(1))
          expect(other[family]!.sharded, family).toEqual(result.sharded);
      }
    }
  }, 180_000);

  it('a rank that dies ends the job with an error that names it', async () => {
    const job = await mpirun(2, { stage: 2, steps: 6, families: ['sgd'], fault: 'die', timeoutMs: 5000 });
    expect(job.code).not.toBe(0);
    expect(job.results.filter(Boolean).length).toBe(0);
    expect(job.stderr).toMatch(/exited with non-zero status[\s\S]*Exit code:\s+3/);
  });

  it('a rank that stops responding makes the others fail within the timeout, and the job ends', async () => {
    const job = await mpirun(3, { stage: 2, steps: 6, families: ['sgd'], fault: 'stall', timeoutMs: 1500 });
    expect(job.code).not.toBe(0);
    expect(job.stderr).toMatch(
      /RANK [02] ERROR .*timed out on rank [02] of 3 after 1500 ms: another rank is dead or stalled/,
    );
  });
});
