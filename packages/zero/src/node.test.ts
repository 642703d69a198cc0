import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adamw } from '@optimkit/adam';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createInProcessGroup } from './in-process.js';
import { loadCheckpoint, readCheckpointShards, saveCheckpoint } from './node.js';
import { consolidate, shardInfo } from './shards.js';
import { createVariables, disposeVariables, rankGradients, SHAPES, snapshot } from './test-support.js';
import { zero } from './zero-optimizer.js';

const NAMES = Object.keys(SHAPES);
let run = 0;
const directories: string[] = [];

afterEach(async () => {
  for (const d of directories.splice(0)) await rm(d, { recursive: true, force: true });
});

function ranks(worldSize: number, timeoutMs = 5000) {
  run += 1;
  return createInProcessGroup(worldSize, { timeoutMs }).map((collective) => {
    const variables = createVariables(`files${run}/rank${collective.rank}/`);
    const optimizer = zero(adamw({ learningRate: 0.01 }), {
      collective,
      variables: Object.values(variables),
      names: NAMES,
    });
    return { collective, variables, optimizer };
  });
}

async function stepAll(group: ReturnType<typeof ranks>, step: number) {
  await Promise.all(
    group.map(async ({ collective, variables, optimizer }) => {
      const grads = rankGradients(variables, collective.rank, collective.worldSize, step);
      await optimizer.step(grads);
      tf.dispose(Object.values(grads));
    }),
  );
}

describe('checkpoint files', () => {
  it('saves shards and a manifest; a rank that fails while saving leaves the previous checkpoint valid', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'zero-checkpoint-'));
    directories.push(directory);
    await expect(readCheckpointShards(directory)).rejects.toThrow(
      /No complete ZeRO checkpoint.*a rank failed while saving/,
    );
    const group = ranks(2, 400);
    await stepAll(group, 0);
    await Promise.all(group.map((r) => saveCheckpoint(r.optimizer, directory)));
    const first = await readCheckpointShards(directory);
    expect(first.map((s) => shardInfo(s)?.rank)).toEqual([0, 1]);
    await stepAll(group, 1);
    // Rank 1 dies before saving: rank 0 writes its shard, then times out at the barrier.
    await expect(saveCheckpoint(group[0]!.optimizer, directory)).rejects.toThrow(/rank 1 did not join/);
    const after = await readCheckpointShards(directory);
    expect(after).toEqual(first);
    expect(consolidate(after).length).toBeGreaterThan(0);
    expect((await readdir(directory)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    for (const r of group) {
      r.optimizer.dispose();
      disposeVariables(r.variables);
    }
  });

  it('loads its own shard at the same world size and re-shards at another one', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'zero-checkpoint-'));
    directories.push(directory);
    const four = ranks(4);
    for (let t = 0; t < 3; t++) await stepAll(four, t);
    await Promise.all(four.map((r) => saveCheckpoint(r.optimizer, directory)));
    const values = snapshot(four[0]!.variables);
    for (let t = 3; t < 6; t++) await stepAll(four, t);
    const never = snapshot(four[0]!.variables);
    for (const [size, expected] of [
      [4, never],
      [2, null],
    ] as const) {
      const group = ranks(size);
      for (const r of group) {
        for (const [name, v] of Object.entries(r.variables)) v.assign(tf.tensor(values[name]!, v.shape));
        await loadCheckpoint(r.optimizer, directory);
      }
      expect(group.map((r) => r.optimizer.iterations)).toEqual(new Array(size).fill(3));
      for (let t = 3; t < 6; t++) await stepAll(group, t);
      if (expected) expect(snapshot(group[0]!.variables)).toEqual(expected);
      else expect(snapshot(group[1]!.variables)).toEqual(snapshot(group[0]!.variables));
      for (const r of group) {
        r.optimizer.dispose();
        disposeVariables(r.variables);
      }
    }
    for (const r of four) {
      r.optimizer.dispose();
      disposeVariables(r.variables);
    }
  });
});
