import { createInProcessGroup } from '@optimkit/zero';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  type DataParallelPlan,
  identical,
  maxDifference,
  summarizeRanks,
  trainRank,
  trainSingleProcess,
  VARIABLE_NAMES,
} from './data-parallel.js';
import { loadMnist } from './mnist-node.js';

const data = loadMnist({ limit: 300 });
const plan: DataParallelPlan = { steps: 3, batchSize: 16, seed: 1 };
const PARAMETERS = 784 * 200 + 200 + 200 * 10 + 10;

describe('data-parallel training of the MLP with ZeRO (in-process ranks)', () => {
  it('one rank is single-process training bit for bit; two ranks agree and differ by rounding only', async () => {
    const single = await trainSingleProcess(data, plan);
    // AdamW keeps m and v, float32, for every parameter.
    expect(single.stateBytes).toBe(2 * 4 * PARAMETERS);
    expect(single.sizes).toEqual([156_800, 200, 2000, 10]);

    const [alone] = createInProcessGroup(1);
    const one = await trainRank(alone!, data, plan);
    expect(one.owned.sort()).toEqual([...VARIABLE_NAMES].sort());
    expect(identical(one.weights, single.weights)).toBe(true);
    expect(one.losses).toEqual(single.losses);

    const before = tf.memory().numTensors;
    const ranks = await Promise.all(createInProcessGroup(2).map((c) => trainRank(c, data, plan)));
    expect(tf.memory().numTensors).toBe(before);
    const row = summarizeRanks(ranks, single, data);
    expect(row.ranksIdentical).toBe(true);
    expect(row.stateBytes.reduce((a, b) => a + b, 0)).toBe(single.stateBytes);
    // The 784 × 200 kernel is one variable: its owner keeps its whole state.
    expect(Math.max(...row.stateBytes)).toBe(2 * 4 * 156_800);
    expect(row.owned.flat().sort()).toEqual([...VARIABLE_NAMES].sort());
    expect(row.maxDifferenceToSingle).toBeGreaterThanOrEqual(0);
    expect(row.maxDifferenceToSingle).toBeLessThan(1e-5);
    expect(row.idealBytes).toBe(single.stateBytes / 2);
    expect(row.bytesSentPerStep.every((b) => b > 0)).toBe(true);
    // The global batch's loss is the mean of the two equal slices' losses.
    for (const [s, l] of row.losses.entries()) expect(l).toBeCloseTo(single.losses[s]!, 5);
  });

  it('refuses a batch that does not split over the ranks and more steps than the digits give, before training', async () => {
    const before = tf.memory().numTensors;
    const [first] = createInProcessGroup(3);
    await expect(trainRank(first!, data, plan)).rejects.toThrow(
      'the batch of 16 does not split evenly over 3 ranks',
    );
    await expect(trainSingleProcess(data, { ...plan, steps: 1000 })).rejects.toThrow(
      `data-parallel steps: at most ${Math.floor(data.trainCount / 16)} batches of 16`,
    );
    await expect(trainSingleProcess(data, { ...plan, steps: 0 })).rejects.toThrow(
      'data-parallel steps must be a positive whole number, got 0',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('maxDifference and identical compare weight lists element by element', () => {
    const a = [new Float32Array([1, 2]), new Float32Array([3])];
    const b = [new Float32Array([1, 2.5]), new Float32Array([2])];
    expect(maxDifference(a, b)).toBe(1);
    expect(
      identical(
        a,
        a.map((x) => x.slice()),
      ),
    ).toBe(true);
    expect(identical(a, b)).toBe(false);
    expect(identical([new Float32Array([0])], [new Float32Array([-0])])).toBe(false);
  });
});
