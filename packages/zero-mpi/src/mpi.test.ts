import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adamw } from '@optimkit/adam';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { bundleFixture } from '../../zero/src/fixtures/bundle.js';
import type { TrainResult } from '../../zero/src/fixtures/train-rank.js';
import {
  averagedGradients,
  createVariables,
  disposeVariables,
  snapshot,
} from '../../zero/src/test-support.js';

interface Job<R> {
  code: number | null;
  stdout: string;
  stderr: string;
  results: R[];
}

/** Runs a fixture on `np` processes with mpirun and collects each rank's result file. */
async function mpirun<R = TrainResult>(
  np: number,
  task: object,
  fixture = './fixtures/mpi-rank.ts',
): Promise<Job<R>> {
  const script = await bundleFixture(new URL(fixture, import.meta.url), new URL('../', import.meta.url));
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
      const results: R[] = [];
      for (let r = 0; r < np; r++) {
        const file = join(resultDir, `rank-${r}.json`);
        if (existsSync(file)) results[r] = JSON.parse(readFileSync(file, 'utf8')) as R;
      }
      rmSync(resultDir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, results });
    });
  });
}

/** A plain AdamW trained in this process on the data-parallel gradients of `worldSizes[t]`. */
async function reference(worldSizes: number[]): Promise<Record<string, number[]>> {
  const variables = createVariables('reference/');
  const optimizer = adamw({ learningRate: 0.01 });
  worldSizes.forEach((n, t) => {
    const grads = averagedGradients(variables, n, t);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
  });
  const values = snapshot(variables);
  optimizer.dispose();
  disposeVariables(variables);
  return values;
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

  it('checkpoint on 4 processes, resume on 2 (re-sharded) and on 4: identical to never stopping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zero-mpi-checkpoint-'));
    try {
      type Weights = Record<string, number[]>;
      const saved = await mpirun<Weights>(4, { phase: 'save', dir }, './fixtures/mpi-checkpoint.ts');
      expect(saved.code, saved.stderr).toBe(0);
      const resumed4 = await mpirun<Weights>(4, { phase: 'resume', dir }, './fixtures/mpi-checkpoint.ts');
      const resumed2 = await mpirun<Weights>(2, { phase: 'resume', dir }, './fixtures/mpi-checkpoint.ts');
      expect(resumed2.code, resumed2.stderr).toBe(0);
      expect(resumed4.results[0]).toEqual(saved.results[0]);
      expect(resumed4.results[3]).toEqual(saved.results[0]);
      // Never stopping, in this process: 6 steps on 4 ranks' gradients, then 6 on 2 ranks'.
      expect(resumed2.results[1]).toEqual(resumed2.results[0]);
      expect(resumed2.results[0]).toEqual(await reference([4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2]));
      expect(saved.results[0]).toEqual(await reference(new Array(12).fill(4)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
