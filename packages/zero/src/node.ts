/**
 * Node.js helpers of `@optimkit/zero`: data-parallel training on `worker_threads` over shared
 * memory, and shard checkpoints written to disk atomically.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { StateFormatError } from '@optimkit/core';
import type { Collective } from './collective.js';
import { consolidate } from './shards.js';
import {
  abortSharedMemoryGroup,
  connectSharedMemory,
  createSharedMemoryGroup,
  type SharedMemoryGroup,
  type SharedMemoryOptions,
} from './shared-memory.js';
import type { ZeroRedundancyOptimizer } from './zero-optimizer.js';

/** What {@link runWorkers} gives each worker in `workerData.optimkitZero`. */
interface WorkerContext {
  group: SharedMemoryGroup;
  rank: number;
  data: unknown;
}

/** Options of {@link runWorkers}. */
export interface RunWorkersOptions extends SharedMemoryOptions {
  /** The number of ranks (workers). */
  worldSize: number;
  /** Passed to every worker, read there with {@link workerContext}. */
  data?: unknown;
  /** Node options of the workers (e.g. `['--import', 'tsx']` for a TypeScript script). */
  execArgv?: string[];
}

/** A rank that failed in {@link runWorkers}. */
export class WorkerRankError extends Error {
  override name = 'WorkerRankError';
  constructor(
    message: string,
    /** The failure of each rank that failed, by rank. */
    readonly failures: ReadonlyMap<number, string>,
  ) {
    super(message);
  }
}

/**
 * Runs `script` in `worldSize` worker threads that share one {@link SharedMemoryGroup}, and
 * resolves with the value each rank passes to {@link reportResult}, by rank. In the script,
 * {@link workerCollective} gives the rank its collective. When a worker throws or exits before
 * reporting, the group is aborted at once (the other ranks' operations fail instead of waiting
 * for their timeout) and the promise rejects with a {@link WorkerRankError} naming every failed
 * rank.
 *
 * @example
 * ```ts
 * const losses = await runWorkers<number>(new URL('./train.js', import.meta.url), { worldSize: 4 });
 * ```
 */
export async function runWorkers<T = unknown>(
  script: string | URL,
  options: RunWorkersOptions,
): Promise<T[]> {
  const { worldSize, data, execArgv, ...groupOptions } = options;
  const group = createSharedMemoryGroup(worldSize, groupOptions);
  const results = new Array<T>(worldSize);
  const failures = new Map<number, string>();
  const workers: Worker[] = [];
  let reaper: ReturnType<typeof setTimeout> | undefined;
  await Promise.all(
    Array.from(
      { length: worldSize },
      (_, rank) =>
        new Promise<void>((resolve) => {
          const context: WorkerContext = { group, rank, data };
          const worker = new Worker(script, { workerData: { optimkitZero: context }, execArgv });
          workers.push(worker);
          let reported = false;
          const failed = (reason: string) => {
            if (failures.has(rank)) return;
            failures.set(rank, reason);
            abortSharedMemoryGroup(group, `rank ${rank} ${reason}`);
            // A rank that never calls the collective again cannot see the abort: stop it after the timeout.
            reaper ??= setTimeout(() => {
              for (const w of workers) void w.terminate();
            }, group.timeoutMs);
          };
          worker.on('message', (message: { optimkitZeroResult?: T }) => {
            if (message && 'optimkitZeroResult' in message) {
              results[rank] = message.optimkitZeroResult as T;
              reported = true;
            }
          });
          worker.on('error', (error) => failed(`failed: ${error.message}`));
          worker.on('exit', (code) => {
            if (!reported) failed(`exited with code ${code} before reporting a result`);
            resolve();
          });
        }),
    ),
  );
  clearTimeout(reaper);
  if (failures.size > 0) {
    const lines = [...failures].sort((a, b) => a[0] - b[0]).map(([r, f]) => `rank ${r} ${f}`);
    throw new WorkerRankError(
      `${failures.size} of ${worldSize} workers failed: ${lines.join('; ')}`,
      failures,
    );
  }
  return results;
}

function context(): WorkerContext {
  const found = (workerData as { optimkitZero?: WorkerContext } | null)?.optimkitZero;
  if (!found) throw new Error('workerCollective: this script was not started by runWorkers');
  return found;
}

/** In a worker started by {@link runWorkers}: its rank, world size and `data`. */
export function workerContext(): { rank: number; worldSize: number; data: unknown } {
  const { rank, group, data } = context();
  return { rank, worldSize: group.worldSize, data };
}

/** In a worker started by {@link runWorkers}: this rank's shared-memory collective. */
export function workerCollective(): Collective {
  const { group, rank } = context();
  return connectSharedMemory(group, rank);
}

/** In a worker started by {@link runWorkers}: the value `runWorkers` resolves with for this rank. */
export function reportResult(value: unknown): void {
  parentPort?.postMessage({ optimkitZeroResult: value });
}

const MANIFEST = 'zero-checkpoint.json';

interface Manifest {
  format: 'optimkit-zero-checkpoint';
  worldSize: number;
  iterations: number;
  shards: string[];
}

/** Writes `bytes` to `path` atomically: a temporary file, then a rename. */
async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}

/**
 * Saves a ZeRO checkpoint into `directory`, called by every rank: each writes its shard under a
 * name of its own (atomically), the ranks meet at a barrier, and rank 0 then writes the manifest
 * that makes the checkpoint valid, atomically, replacing the previous one. A rank that dies while
 * saving leaves the previous checkpoint (if any) intact and valid, never a half-written one.
 */
export async function saveCheckpoint(optimizer: ZeroRedundancyOptimizer, directory: string): Promise<void> {
  const { rank, worldSize } = optimizer.collective;
  const iterations = optimizer.iterations;
  const bytes = await optimizer.saveState();
  await mkdir(directory, { recursive: true });
  const names = Array.from({ length: worldSize }, (_, r) => `shard-${iterations}-${r}-of-${worldSize}.optk`);
  await writeAtomic(join(directory, names[rank]!), bytes);
  await optimizer.collective.barrier();
  if (rank === 0) {
    const previous = await readManifest(directory).catch(() => null);
    const manifest: Manifest = { format: 'optimkit-zero-checkpoint', worldSize, iterations, shards: names };
    await writeAtomic(join(directory, MANIFEST), JSON.stringify(manifest));
    for (const old of previous?.shards ?? [])
      if (!names.includes(old)) await rm(join(directory, old), { force: true });
  }
  await optimizer.collective.barrier();
}

async function readManifest(directory: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(directory, MANIFEST), 'utf8');
  } catch {
    throw new StateFormatError(
      `No complete ZeRO checkpoint in ${directory}: ${MANIFEST} is missing (never saved, or a rank failed while saving)`,
    );
  }
  const manifest = JSON.parse(text) as Manifest;
  if (manifest.format !== 'optimkit-zero-checkpoint' || !Array.isArray(manifest.shards)) {
    throw new StateFormatError(`${join(directory, MANIFEST)} is not a ZeRO checkpoint manifest`);
  }
  return manifest;
}

/** The shard files of the checkpoint in `directory`, by rank (throws if it is incomplete). */
export async function readCheckpointShards(directory: string): Promise<Uint8Array[]> {
  const manifest = await readManifest(directory);
  return Promise.all(
    manifest.shards.map(async (name) => new Uint8Array(await readFile(join(directory, name)))),
  );
}

/**
 * Loads the checkpoint in `directory` into a ZeRO optimizer, called by every rank: its own shard
 * when the world size is the one it was saved with, else the consolidated state, re-sharded.
 */
export async function loadCheckpoint(optimizer: ZeroRedundancyOptimizer, directory: string): Promise<void> {
  const manifest = await readManifest(directory);
  const { rank, worldSize } = optimizer.collective;
  if (manifest.worldSize === worldSize) {
    await optimizer.loadState(new Uint8Array(await readFile(join(directory, manifest.shards[rank]!))));
  } else {
    await optimizer.loadState(consolidate(await readCheckpointShards(directory)));
  }
}
