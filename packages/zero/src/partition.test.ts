import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { batchSlice } from './data-parallel.js';
import { createInProcessGroup } from './in-process.js';
import { averageGradients } from './index.js';
import { partitionVariables } from './partition.js';

describe('partitionVariables', () => {
  it('gives each variable, largest first (ties by name), to the rank owning the fewest elements', () => {
    const variables = [
      { name: 'b', shape: [10] }, // 10
      { name: 'w1', shape: [10, 10] }, // 100
      { name: 'w2', shape: [6, 10] }, // 60
      { name: 'a', shape: [10] }, // 10, before 'b'
      { name: 'w3', shape: [5, 10] }, // 50
      { name: 's', shape: [] }, // 1
    ];
    // 100 → r0; 60 → r1; 50 → r1 (60 < 100) = 110; a (10) → r0 = 110; b (10) → r0 (tie: lowest rank) = 120; s → r1.
    const p = partitionVariables(variables, 2);
    expect(p.byRank).toEqual([
      ['w1', 'a', 'b'],
      ['w2', 'w3', 's'],
    ]);
    expect(p.sizes).toEqual([120, 111]);
    expect(p.variables.map((v) => v.name)).toEqual(['w1', 'w2', 'w3', 'a', 'b', 's']);
    // The order the variables are listed in does not matter.
    expect(partitionVariables([...variables].reverse(), 2).byRank).toEqual(p.byRank);
    // More ranks than variables: some own nothing.
    expect(partitionVariables(variables.slice(0, 2), 3).byRank).toEqual([['w1'], ['b'], []]);
  });

  it('rejects bad input', () => {
    expect(() => partitionVariables([{ name: 'a', shape: [1] }], 0)).toThrow(/Invalid worldSize: 0/);
    expect(() =>
      partitionVariables(
        [
          { name: 'a', shape: [1] },
          { name: 'a', shape: [2] },
        ],
        2,
      ),
    ).toThrow(/'a' is given twice/);
  });
});

describe('data-parallel helpers', () => {
  it('batchSlice splits a batch evenly or refuses', () => {
    expect(batchSlice(2, 4, 64)).toEqual({ start: 32, size: 16 });
    expect(() => batchSlice(0, 3, 64)).toThrow(/does not split evenly over 3 ranks/);
    expect(() => batchSlice(4, 4, 64)).toThrow(/invalid rank 4 of 4/);
  });

  it('averageGradients gives every rank the rank-order sum divided by the world size', async () => {
    const ranks = createInProcessGroup(3);
    const averaged = await Promise.all(
      ranks.map((c) => averageGradients(c, { x: tf.tensor1d([c.rank, 1e8 * (c.rank === 1 ? -1 : 1), 3]) })),
    );
    // (0 + 1 + 2) / 3 = 1; ((1e8 − 1e8) + 1e8) / 3; 9 / 3.
    for (const a of averaged)
      expect(Array.from(a.x!.dataSync())).toEqual(Array.from(new Float32Array([1, 1e8 / 3, 3])));
    await expect(averageGradients(ranks[0]!, { x: tf.tensor1d([1], 'int32') })).rejects.toThrow(
      /'x' is not a live float32/,
    );
  });
});
