import { describe, expect, it } from 'vitest';
import { bundleFixture } from './fixtures/bundle.js';
import type { TrainResult, TrainTask } from './fixtures/train-rank.js';
import { train } from './fixtures/train-rank.js';
import { createInProcessGroup } from './in-process.js';
import { runWorkers, WorkerRankError } from './node.js';

async function workers(worldSize: number, task: TrainTask, timeoutMs = 120_000): Promise<TrainResult[]> {
  const script = await bundleFixture(new URL('./fixtures/worker-rank.ts', import.meta.url));
  return runWorkers<TrainResult>(script, { worldSize, timeoutMs, data: { task } });
}

describe('ZeRO on worker_threads + SharedArrayBuffer', () => {
  it('every family on 2 ranks (stage 2), two on 3 ranks (stage 1): bit-identical to unsharded data parallelism', async () => {
    for (const [worldSize, stage, families] of [
      [2, 2, undefined],
      [3, 1, ['adamw', 'lamb']],
    ] as const) {
      const task: TrainTask = { stage, steps: 10, ...(families ? { families: [...families] } : {}) };
      const results = await workers(worldSize, task);
      // The whole state, as one rank keeps it.
      const reference = (await train(createInProcessGroup(1)[0]!, { ...task, families: ['adamw'] })).adamw!;
      for (const [family, result] of Object.entries(results[0]!)) {
        expect(result.sharded, family).toEqual(result.unsharded);
        expect(result.leaked, family).toBe(0);
        for (const other of results.slice(1)) expect(other[family]!.sharded, family).toEqual(result.sharded);
      }
      const total = Object.values(results.map((r) => r.adamw!.stateBytes)).reduce((a, b) => a + b, 0);
      expect(total).toBe(reference.stateBytes);
    }
  }, 180_000);

  it('a rank that dies makes the others fail at once with a clear error', async () => {
    const error = await workers(2, { stage: 2, steps: 6, families: ['adamw'], fault: 'die' }).catch((e) => e);
    expect(error).toBeInstanceOf(WorkerRankError);
    expect(String(error)).toMatch(/rank 1 exited with code 3/);
    expect(String(error)).toMatch(/rank 0 failed: .*aborted \(rank 1 exited with code 3/);
  });

  it('a rank that stops responding makes the others fail within the timeout, never hang', async () => {
    const started = Date.now();
    const error = await workers(2, { stage: 2, steps: 6, families: ['sgd'], fault: 'stall' }, 1500).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(WorkerRankError);
    expect(String(error)).toMatch(
      /rank 0 failed: .*timed out on rank 0 of 2 after 1500 ms: rank 1 did not join/,
    );
    expect(Date.now() - started).toBeGreaterThan(1500);
  });
});
