/**
 * Shard checkpoints: each rank's shard is an ordinary optimkit state of its own variables, with
 * `extra.zero` saying which rank of which partition it is; {@link consolidate} merges the shards
 * of one step into the state a plain, unsharded optimizer loads.
 */
import {
  type DecodedState,
  decodeState,
  PayloadWriter,
  readTensorEntry,
  StateFormatError,
  type StateHeader,
  type VariableEntry,
} from '@optimkit/core';

/** What `extra.zero` of a shard records. */
export interface ShardInfo {
  /** The rank that saved it. */
  rank: number;
  /** The world size it was saved with. */
  worldSize: number;
  /** The owner of every variable of the partition: `[name, rank]` in partition order. */
  partition: [string, number][];
  /** Steps skipped by every rank together (`skipNonFinite`). */
  skippedSteps: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shard information of saved state bytes, or null for a full (unsharded) state. */
export function shardInfo(bytes: Uint8Array): ShardInfo | null {
  return readShardInfo(decodeState(bytes));
}

export function readShardInfo(decoded: DecodedState): ShardInfo | null {
  const zero = decoded.header.extra.zero;
  if (zero === undefined) return null;
  if (
    !isRecord(zero) ||
    !Number.isInteger(zero.rank) ||
    !Number.isInteger(zero.worldSize) ||
    !Array.isArray(zero.partition) ||
    !Number.isInteger(zero.skippedSteps)
  ) {
    throw new StateFormatError(
      'ZeRO shard header is malformed: extra.zero lacks rank, worldSize, partition or skippedSteps',
    );
  }
  return zero as unknown as ShardInfo;
}

/**
 * Re-encodes a decoded state with the variables `keep` accepts and a patched header. The payload
 * entries are copied as they are, so values stay bit for bit.
 */
export function rewriteState(
  decoded: DecodedState,
  keep: (entry: VariableEntry) => boolean,
  patch: (header: StateHeader) => Partial<StateHeader>,
  rename: (name: string) => string = (name) => name,
): Uint8Array {
  const writer = new PayloadWriter();
  const kept = new Set<string>();
  const variables = decoded.header.variables.filter(keep).map((entry) => {
    const slots: VariableEntry['slots'] = {};
    for (const [slot, tensor] of Object.entries(entry.slots)) {
      slots[slot] = writer.add(readTensorEntry(decoded.payload, tensor), tensor.shape);
    }
    kept.add(entry.name);
    return { ...entry, name: rename(entry.name), slots };
  });
  const config = { ...decoded.header.config };
  if (Array.isArray(config.paramGroups)) {
    config.paramGroups = config.paramGroups.map((group: unknown) =>
      isRecord(group) && Array.isArray(group.params)
        ? { ...group, params: group.params.map((n: unknown) => (typeof n === 'string' ? rename(n) : n)) }
        : group,
    );
  }
  const header: StateHeader = {
    ...decoded.header,
    config,
    paramGroups: decoded.header.paramGroups.map((g) => ({
      variables: g.variables.filter((n) => kept.has(n)).map(rename),
    })),
    variables,
    extraTensors: {},
  };
  return writer.encode({ ...header, ...patch(header) });
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Merges the shards of one ZeRO checkpoint (one per rank, any order) into one full optimkit state:
 * the state an unsharded optimizer of the same class keeps after the same steps, which
 * `loadOptimizer`, `optimizer.loadState` and a ZeRO optimizer of any world size load.
 *
 * Refuses, with a `StateFormatError` that says what is wrong, shards of different checkpoints
 * (class, step, partition), a missing or repeated rank, and bytes that are not shards.
 *
 * @example
 * ```ts
 * const shards = await Promise.all(paths.map((p) => readFile(p)));
 * const full = consolidate(shards);
 * const optimizer = await loadOptimizer(full); // a plain optimizer, all variables' state
 * ```
 */
export function consolidate(shards: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(shards) || shards.length === 0) {
    throw new StateFormatError('consolidate needs the shards of every rank (got none)');
  }
  const decoded = shards.map((bytes, i) => {
    const d = decodeState(bytes);
    const info = readShardInfo(d);
    if (!info)
      throw new StateFormatError(`consolidate: input ${i} is a full optimizer state, not a ZeRO shard`);
    return { d, info };
  });
  const worldSize = decoded[0]!.info.worldSize;
  const byRank = new Array<(typeof decoded)[number] | undefined>(worldSize);
  for (const entry of decoded) {
    const { info, d } = entry;
    if (info.worldSize !== worldSize) {
      throw new StateFormatError(
        `consolidate: shards of different world sizes (${worldSize} and ${info.worldSize}): they are from different checkpoints`,
      );
    }
    if (info.rank < 0 || info.rank >= worldSize)
      throw new StateFormatError(`consolidate: invalid shard rank ${info.rank}`);
    if (byRank[info.rank]) throw new StateFormatError(`consolidate: two shards of rank ${info.rank}`);
    const first = decoded[0]!;
    for (const [what, a, b] of [
      ['optimizer class', first.d.header.className, d.header.className],
      ['step (iterations)', first.d.header.iterations, d.header.iterations],
      ['skipped steps', first.info.skippedSteps, info.skippedSteps],
    ] as const) {
      if (a !== b) {
        throw new StateFormatError(
          `consolidate: shards of rank ${first.info.rank} and rank ${info.rank} differ in ${what} (${a} vs ${b}): they are from different checkpoints`,
        );
      }
    }
    if (!sameJson(first.info.partition, info.partition)) {
      throw new StateFormatError(
        `consolidate: shards of rank ${first.info.rank} and rank ${info.rank} have different partitions: they are from different runs`,
      );
    }
    byRank[info.rank] = entry;
  }
  const missing = [...byRank.keys()].filter((r) => !byRank[r]);
  if (missing.length > 0) {
    throw new StateFormatError(
      `consolidate: ${worldSize} shards are needed (saved on ${worldSize} ranks); missing rank(s) ${missing.join(', ')}`,
    );
  }
  const ordered = byRank as (typeof decoded)[number][];
  const writer = new PayloadWriter();
  const variables: VariableEntry[] = [];
  const seen = new Set<string>();
  for (const { d, info } of ordered) {
    for (const entry of d.header.variables) {
      if (seen.has(entry.name)) {
        throw new StateFormatError(`consolidate: variable '${entry.name}' has state in two shards`);
      }
      const owner = info.partition.find(([name]) => name === entry.name)?.[1];
      if (owner !== info.rank) {
        throw new StateFormatError(
          `consolidate: the shard of rank ${info.rank} holds '${entry.name}', which the partition gives to rank ${String(owner)}`,
        );
      }
      seen.add(entry.name);
      const slots: VariableEntry['slots'] = {};
      for (const [slot, tensor] of Object.entries(entry.slots)) {
        slots[slot] = writer.add(readTensorEntry(d.payload, tensor), tensor.shape);
      }
      variables.push({ ...entry, slots });
    }
  }
  const base = ordered[0]!.d.header;
  const groupCount = base.paramGroups.length;
  const paramGroups = Array.from({ length: groupCount }, (_, g) => ({
    variables: ordered.flatMap(({ d }) => d.header.paramGroups[g]?.variables ?? []),
  }));
  const config = { ...base.config };
  if (Array.isArray(config.paramGroups)) {
    config.paramGroups = config.paramGroups.map((group: unknown, g) => {
      if (!isRecord(group)) return group;
      const names: string[] = [];
      for (const { d } of ordered) {
        const own = (d.header.config.paramGroups as unknown[] | undefined)?.[g];
        const params = isRecord(own) && Array.isArray(own.params) ? own.params : [];
        for (const n of params) if (typeof n === 'string' && !names.includes(n)) names.push(n);
      }
      return { ...group, params: names };
    });
  }
  const { zero: _zero, ...extra } = base.extra;
  return writer.encode({
    ...base,
    config,
    paramGroups,
    variables,
    extraTensors: {},
    extra: { ...extra, skippedSteps: ordered[0]!.info.skippedSteps, accumulatedCalls: 0 },
  });
}
