import { adamw } from '@optimkit/adam';
import { decodeState, loadOptimizer, readTensorEntry } from '@optimkit/core';
import { sgd } from '@optimkit/sgd';
import { expectClose } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { Collective } from './collective.js';
import { averageGradients } from './data-parallel.js';
import { createInProcessGroup } from './in-process.js';
import { consolidate, rewriteState, shardInfo } from './shards.js';
import {
  averagedGradients,
  createVariables,
  disposeVariables,
  FAMILIES,
  rankGradients,
  SHAPES,
  snapshot,
} from './test-support.js';
import { type AnyOptimkitOptimizer, ZeroRedundancyOptimizer, zero } from './zero-optimizer.js';

const NAMES = Object.keys(SHAPES);

interface Rank {
  collective: Collective;
  variables: Record<string, tf.Variable>;
  optimizer: ZeroRedundancyOptimizer;
}

let run = 0;

/** `worldSize` in-process ranks, each with its own copy of the variables and a ZeRO optimizer. */
function shardedRanks(
  worldSize: number,
  create: () => AnyOptimkitOptimizer,
  stage: 1 | 2 = 2,
  collectives = createInProcessGroup(worldSize, { timeoutMs: 5000 }),
): Rank[] {
  run += 1;
  return collectives.map((collective) => {
    const variables = createVariables(`run${run}/rank${collective.rank}/`);
    const optimizer = zero(create(), {
      collective,
      stage,
      variables: Object.values(variables),
      names: NAMES,
    });
    return { collective, variables, optimizer };
  });
}

async function stepAll(ranks: Rank[], step: number, poison = -1): Promise<boolean[]> {
  return Promise.all(
    ranks.map(async ({ collective, variables, optimizer }) => {
      const grads = rankGradients(
        variables,
        collective.rank,
        collective.worldSize,
        step,
        collective.rank === poison,
      );
      try {
        return (await optimizer.step(grads)).skipped;
      } finally {
        tf.dispose(Object.values(grads));
      }
    }),
  );
}

/** Unsharded data parallelism on the same collective: every rank averages and steps everything. */
async function unshardedRun(
  worldSize: number,
  create: () => AnyOptimkitOptimizer,
  steps: number,
  poisonAt = -1,
): Promise<Record<string, number[]>> {
  run += 1;
  const collectives = createInProcessGroup(worldSize, { timeoutMs: 5000 });
  const ranks = collectives.map((collective) => ({
    collective,
    variables: createVariables(`run${run}/plain${collective.rank}/`),
    optimizer: create(),
  }));
  for (let t = 0; t < steps; t++) {
    await Promise.all(
      ranks.map(async ({ collective, variables, optimizer }) => {
        const grads = rankGradients(
          variables,
          collective.rank,
          worldSize,
          t,
          t === poisonAt && collective.rank === 1,
        );
        const averaged = await averageGradients(collective, grads);
        optimizer.applyGradients(averaged);
        tf.dispose([...Object.values(grads), ...Object.values(averaged)]);
      }),
    );
  }
  for (const r of ranks.slice(1)) expect(snapshot(r.variables)).toEqual(snapshot(ranks[0]!.variables));
  const out = snapshot(ranks[0]!.variables);
  for (const r of ranks) {
    r.optimizer.dispose();
    disposeVariables(r.variables);
  }
  return out;
}

function disposeRanks(ranks: Rank[]): void {
  for (const r of ranks) {
    r.optimizer.dispose();
    disposeVariables(r.variables);
  }
}

function expectSameOnEveryRank(ranks: Rank[]): Record<string, number[]> {
  const first = snapshot(ranks[0]!.variables);
  for (const r of ranks.slice(1)) expect(snapshot(r.variables)).toEqual(first);
  return first;
}

const STEPS = 15;

describe('ZeRO on in-process ranks', () => {
  for (const family of FAMILIES) {
    it(`${family.name}: stages 1 and 2 on 2 and 4 ranks are bit-identical to unsharded data parallelism`, async () => {
      for (const [worldSize, stage] of [
        [2, 2],
        [4, 2],
        [4, 1],
      ] as const) {
        const ranks = shardedRanks(worldSize, family.create, stage);
        for (let t = 0; t < STEPS; t++) await stepAll(ranks, t);
        const sharded = expectSameOnEveryRank(ranks);
        expect(ranks.map((r) => r.optimizer.iterations)).toEqual(new Array(worldSize).fill(STEPS));
        // The shards hold disjoint states whose union is every variable's.
        const owned = ranks.map((r) => [...r.optimizer.local.variableSteps().keys()].sort());
        expect(owned.flat().length).toBe(NAMES.length);
        disposeRanks(ranks);
        expect(sharded).toEqual(await unshardedRun(worldSize, family.create, STEPS));
      }
    });
  }

  it('matches single-process training on the whole batch within float32 tolerance', async () => {
    for (const family of FAMILIES.filter((f) => ['adamw', 'lamb', 'adafactor', 'sgd'].includes(f.name))) {
      const ranks = shardedRanks(4, family.create);
      for (let t = 0; t < STEPS; t++) await stepAll(ranks, t);
      const sharded = snapshot(ranks[0]!.variables);
      disposeRanks(ranks);
      run += 1;
      const variables = createVariables(`run${run}/single/`);
      const optimizer = family.create();
      for (let t = 0; t < STEPS; t++) {
        // The whole batch's mean gradient, computed by tfjs in one process.
        const grads = rankGradients(variables, 0, 1, t);
        optimizer.applyGradients(grads);
        tf.dispose(Object.values(grads));
      }
      const single = snapshot(variables);
      for (const name of NAMES) expectClose(sharded[name]!, single[name]!, `${family.name} ${name}`);
      optimizer.dispose();
      disposeVariables(variables);
    }
  });

  it('keeps about 1/N of the optimizer state per rank', async () => {
    const ranks = shardedRanks(4, () => adamw({ learningRate: 0.01 }));
    await stepAll(ranks, 0);
    const perRank = ranks.map((r) => r.optimizer.stateBytes());
    const total = Object.values(SHAPES).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) * 2 * 4;
    expect(perRank.reduce((a, b) => a + b, 0)).toBe(total);
    // Greedy whole-variable partition: no rank holds more than its share plus the largest variable.
    for (const bytes of perRank) expect(bytes).toBeLessThanOrEqual(total / 4 + 30 * 2 * 4);
    disposeRanks(ranks);
  });

  it('clips by the global norm across shards and skips non-finite steps on every rank together', async () => {
    const create = () =>
      adamw({ learningRate: 0.01, clipGradNorm: 0.5, clipGradValue: 0.8, skipNonFinite: true });
    const ranks = shardedRanks(4, create);
    const skipped: boolean[][] = [];
    for (let t = 0; t < 12; t++) skipped.push(await stepAll(ranks, t, t === 5 ? 1 : -1));
    expect(skipped[5]).toEqual([true, true, true, true]);
    expect(skipped.filter((s) => s.some(Boolean)).length).toBe(1);
    expect(ranks.map((r) => r.optimizer.skippedSteps)).toEqual([1, 1, 1, 1]);
    expect(ranks.map((r) => r.optimizer.iterations)).toEqual([11, 11, 11, 11]);
    const sharded = expectSameOnEveryRank(ranks);
    disposeRanks(ranks);
    expect(sharded).toEqual(await unshardedRun(4, create, 12, 5));
  });

  it('needs schedules and match groups again when it rebuilds an optimizer that clips by norm', async () => {
    const scheduled = () => adamw({ learningRate: (step) => 0.01 / (1 + step), clipGradNorm: 0.5 });
    const collective = createInProcessGroup(1)[0]!;
    const variables = Object.values(createVariables(`run${++run}/check/`));
    expect(() => zero(scheduled(), { collective, variables })).toThrow(
      /'learningRate' is a schedule.*overrides/,
    );
    const grouped = () =>
      adamw({ clipGradNorm: 0.5, paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }] });
    expect(() => zero(grouped(), { collective, variables })).toThrow(/paramGroups\[0\].*overrides/);
    expect(() => zero(adamw({ accumulateSteps: 2 }), { collective, variables })).toThrow(/accumulateSteps/);
    expect(() => zero(adamw({ clipGradNorm: 1, centralize: true }), { collective, variables })).toThrow(
      /centralize together with clipGradNorm/,
    );
    for (const v of variables) v.dispose();
    // With the schedule given again, the rebuilt optimizer follows it: bit-identical to unsharded.
    const schedule = (step: number) => 0.01 / (1 + step);
    run += 1;
    const rebuilt = createInProcessGroup(2).map((c) => {
      const vars = createVariables(`run${run}/sched${c.rank}/`);
      const optimizer = zero(adamw({ learningRate: schedule, clipGradNorm: 0.5 }), {
        collective: c,
        variables: Object.values(vars),
        names: NAMES,
        overrides: { learningRate: schedule },
      });
      return { collective: c, variables: vars, optimizer };
    });
    for (let t = 0; t < 10; t++) await stepAll(rebuilt, t);
    const sharded = expectSameOnEveryRank(rebuilt);
    disposeRanks(rebuilt);
    expect(sharded).toEqual(await unshardedRun(2, () => zeroless(schedule), 10));
  });

  it('refuses ranks that disagree at the first step, saying what differs', async () => {
    const collectives = createInProcessGroup(3, { timeoutMs: 5000 });
    run += 1;
    const ranks = collectives.map((collective) => {
      const variables = createVariables(`run${run}/mismatch${collective.rank}/`);
      const list = Object.values(variables);
      const names = [...NAMES];
      // Rank 1: another learning rate; rank 2: one variable less.
      const optimizer = zero(adamw({ learningRate: collective.rank === 1 ? 0.02 : 0.01 }), {
        collective,
        variables: collective.rank === 2 ? list.slice(1) : list,
        names: collective.rank === 2 ? names.slice(1) : names,
      });
      return { collective, variables, optimizer };
    });
    const results = await Promise.allSettled(
      ranks.map(({ collective, variables, optimizer }) => {
        const grads = rankGradients(variables, collective.rank, 3, 0);
        if (collective.rank === 2) delete grads[variables['dense/kernel']!.name];
        return optimizer.step(grads).finally(() => tf.dispose(Object.values(grads)));
      }),
    );
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const message = String((result as PromiseRejectedResult).reason);
      expect(message).toMatch(
        /rank 1 differs from rank 0 in optimizer config \(learningRate: 0.01 vs 0.02\)/,
      );
      expect(message).toMatch(/rank 2 differs from rank 0 in variables \('dense\/kernel' missing\)/);
    }
    // Nothing changed on any rank.
    for (const r of ranks) expect(r.optimizer.iterations).toBe(0);
    disposeRanks(ranks);
  });

  it('refuses a rank that reports another world size or stage', async () => {
    const collectives = createInProcessGroup(2, { timeoutMs: 5000 });
    const liar: Collective = Object.create(collectives[1]!, { worldSize: { value: 3 } });
    run += 1;
    const ranks = [collectives[0]!, liar].map((collective, i) => {
      const variables = createVariables(`run${run}/liar${i}/`);
      const optimizer = new ZeroRedundancyOptimizer(sgd({ learningRate: 0.1 }), {
        collective,
        variables: Object.values(variables),
        names: NAMES,
        stage: i === 0 ? 2 : 1,
      });
      return { collective, variables, optimizer };
    });
    const results = await Promise.allSettled(
      ranks.map(({ variables, optimizer }, i) => {
        const grads = rankGradients(variables, i, 2, 0);
        return optimizer.step(grads).finally(() => tf.dispose(Object.values(grads)));
      }),
    );
    const messages = results.map((r) => String((r as PromiseRejectedResult).reason));
    expect(messages[0]).toMatch(
      /rank 1 differs from rank 0 in world size \(2 vs 3\); stage \(2 vs 1\); partition/,
    );
    disposeRanks(ranks);
  });

  it('rejects bad gradients before any communication, naming the variable', async () => {
    const ranks = shardedRanks(1, () => sgd({ learningRate: 0.1 }));
    const { variables, optimizer } = ranks[0]!;
    const before = snapshot(variables);
    const good = rankGradients(variables, 0, 1, 0);
    const kernel = variables['dense/kernel']!.name;
    await expect(optimizer.step({ ...good, [kernel]: tf.zeros([2, 2]) })).rejects.toThrow(
      /gradient of 'dense\/kernel' has shape \[2, 2\], the variable \[6, 5\]/,
    );
    const { [kernel]: _dropped, ...missing } = good;
    await expect(optimizer.step(missing)).rejects.toThrow(/gradient of 'dense\/kernel' is missing/);
    await expect(optimizer.step({ ...good, stranger: tf.zeros([1]) })).rejects.toThrow(
      /'stranger' is not among/,
    );
    expect(snapshot(variables)).toEqual(before);
    expect(ranks[0]!.collective.stats.operations).toBe(0);
    tf.dispose(Object.values(good));
    expect(() => zero(sgd(), { collective: ranks[0]!.collective, variables: [], names: [] })).toThrow(
      /variables/,
    );
    expect(() =>
      zero(sgd(), { collective: ranks[0]!.collective, variables: Object.values(variables), stage: 3 as 2 }),
    ).toThrow(/Invalid ZeRO stage: 3/);
    disposeRanks(ranks);
  });

  it('leaks no tensor per step and frees its state on dispose', async () => {
    const before = tf.memory().numTensors;
    const ranks = shardedRanks(3, () => adamw({ learningRate: 0.01, clipGradNorm: 1, skipNonFinite: true }));
    await stepAll(ranks, 0);
    const afterFirst = tf.memory().numTensors;
    for (let t = 1; t < 10; t++) await stepAll(ranks, t, t === 4 ? 0 : -1);
    expect(tf.memory().numTensors).toBe(afterFirst);
    disposeRanks(ranks);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** adamw with a scheduled learning rate and clipping, as a plain (unsharded) optimizer. */
function zeroless(schedule: (step: number) => number): AnyOptimkitOptimizer {
  return adamw({ learningRate: schedule, clipGradNorm: 0.5 });
}

describe('ZeRO shard checkpoints', () => {
  const create = () =>
    adamw({ learningRate: 0.01, paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }] });

  /** A plain optimizer trained in one process on the data-parallel gradients of `worldSizes[t]`. */
  async function reference(
    worldSizes: number[],
  ): Promise<{ values: Record<string, number[]>; state: Uint8Array }> {
    run += 1;
    const variables = createVariables(`run${run}/reference/`);
    const optimizer = create();
    worldSizes.forEach((n, t) => {
      const grads = averagedGradients(variables, n, t);
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
    });
    const out = { values: snapshot(variables), state: await optimizer.saveState() };
    optimizer.dispose();
    disposeVariables(variables);
    return out;
  }

  it('save on 4 ranks → consolidate → continue in 1 process and on 2 ranks: identical to never stopping', async () => {
    const ranks = shardedRanks(4, create);
    for (let t = 0; t < 10; t++) await stepAll(ranks, t);
    const shards = await Promise.all(ranks.map((r) => r.optimizer.saveState()));
    const values = snapshot(ranks[0]!.variables);
    expect(shards.map((s) => shardInfo(s)?.rank)).toEqual([0, 1, 2, 3]);
    // Never stopping: 10 more steps on the same 4 ranks.
    for (let t = 10; t < 20; t++) await stepAll(ranks, t);
    const never = expectSameOnEveryRank(ranks);
    disposeRanks(ranks);
    const full = consolidate([shards[2]!, shards[0]!, shards[3]!, shards[1]!]);
    expect(shardInfo(full)).toBeNull();
    const expected = await reference(new Array(20).fill(4));
    expect(never).toEqual(expected.values);

    // 1 process: a plain optimizer loads the consolidated state.
    run += 1;
    const prefix = `run${run}/`;
    const single = createVariables(prefix, Float32ArrayRecord(values));
    const plain = await loadOptimizer(
      renameState(full, (n) => prefix + n),
      {
        paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0 }],
      },
    );
    for (let t = 10; t < 20; t++) {
      const grads = averagedGradients(single, 4, t);
      plain.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    expect(snapshot(single)).toEqual(never);
    plain.dispose();
    disposeVariables(single);

    // 2 ranks: each takes its part of the full state (re-sharding), then trains on 2 ranks.
    const resumed = shardedRanks(2, create);
    for (const r of resumed) {
      for (const [name, v] of Object.entries(r.variables)) v.assign(tf.tensor(values[name]!, v.shape));
      await r.optimizer.loadState(full);
    }
    expect(resumed.map((r) => r.optimizer.iterations)).toEqual([10, 10]);
    for (let t = 10; t < 20; t++) await stepAll(resumed, t);
    const continued = expectSameOnEveryRank(resumed);
    const expected2 = await reference([...new Array(10).fill(4), ...new Array(10).fill(2)]);
    expect(continued).toEqual(expected2.values);
    // And its consolidated state is the plain optimizer's state, bit for bit.
    const again = consolidate(await Promise.all(resumed.map((r) => r.optimizer.saveState())));
    expect(stateContents(again)).toEqual(stateContents(expected2.state, /^run\d+\/reference\//));
    disposeRanks(resumed);
  });

  it('refuses the shard of another rank or another world size, and bad shard sets', async () => {
    const ranks = shardedRanks(2, create);
    await stepAll(ranks, 0);
    const shards = await Promise.all(ranks.map((r) => r.optimizer.saveState()));
    await expect(ranks[0]!.optimizer.loadState(shards[1]!)).rejects.toThrow(
      /belongs to rank 1, not to rank 0/,
    );
    const four = shardedRanks(4, create);
    await expect(four[0]!.optimizer.loadState(shards[0]!)).rejects.toThrow(
      /saved on 2 ranks and this run has 4: consolidate\(\) the shards/,
    );
    expect(() => consolidate([shards[0]!])).toThrow(/2 shards are needed.*missing rank\(s\) 1/);
    expect(() => consolidate([shards[0]!, shards[0]!])).toThrow(/two shards of rank 0/);
    await stepAll(ranks, 1);
    const later = await ranks[1]!.optimizer.saveState();
    expect(() => consolidate([shards[0]!, later])).toThrow(/differ in step \(iterations\) \(1 vs 2\)/);
    const full = consolidate(shards);
    expect(() => consolidate([full])).toThrow(/full optimizer state, not a ZeRO shard/);
    // A failed load leaves the state as it was.
    const before = ranks[0]!.optimizer.local.variableSteps();
    const corrupt = shards[0]!.slice();
    corrupt[corrupt.length - 10]! ^= 1;
    await expect(ranks[0]!.optimizer.loadState(corrupt)).rejects.toThrow(/checksum/);
    expect(ranks[0]!.optimizer.local.variableSteps()).toEqual(before);
    disposeRanks(ranks);
    disposeRanks(four);
  });
});

function Float32ArrayRecord(values: Record<string, number[]>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Float32Array.from(v)]));
}

/** The state with every variable name passed through `rename` (for a process with other names). */
function renameState(bytes: Uint8Array, rename: (name: string) => string): Uint8Array {
  return rewriteForTest(bytes, rename);
}

/** What a state holds, by variable name (without a run prefix), independent of entry order. */
function stateContents(bytes: Uint8Array, prefix = /^$/): unknown {
  const { header, payload } = decodeState(bytes);
  return {
    className: header.className,
    iterations: header.iterations,
    skipped: header.extra.skippedSteps,
    variables: header.variables
      .map((v) => ({
        name: v.name.replace(prefix, ''),
        step: v.step,
        group: v.group,
        slots: Object.fromEntries(
          Object.entries(v.slots).map(([k, e]) => [k, Array.from(readTensorEntry(payload, e))]),
        ),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

function rewriteForTest(bytes: Uint8Array, rename: (name: string) => string): Uint8Array {
  return rewriteState(
    decodeState(bytes),
    () => true,
    () => ({}),
    rename,
  );
}
