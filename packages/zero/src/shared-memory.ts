import {
  balancedCounts,
  type Collective,
  CollectiveError,
  type CollectiveStats,
  CollectiveTimeoutError,
  checkAllGather,
  checkCounts,
  checkFloat32,
  checkRoot,
  checkTimeout,
  DEFAULT_TIMEOUT_MS,
  displacements,
  type OperationOptions,
  operationTimeout,
  rankList,
  TrafficCounter,
} from './collective.js';

/**
 * A group of ranks that share memory: one `SharedArrayBuffer` and its sizes. It is plain data,
 * so it can be posted to workers (`worker_threads`, or Web Workers on a cross-origin isolated
 * page); each worker connects with {@link connectSharedMemory}.
 */
export interface SharedMemoryGroup {
  readonly buffer: SharedArrayBuffer;
  readonly worldSize: number;
  /** Float32 elements each rank stages per round; larger operations run in several rounds. */
  readonly capacity: number;
  /** Default timeout of every operation in milliseconds. */
  readonly timeoutMs: number;
}

/** Options of {@link createSharedMemoryGroup}. */
export interface SharedMemoryOptions {
  /** Float32 elements each rank stages per round. Default 2²⁰ (4 MiB per rank). */
  capacity?: number;
  /** Default timeout of every operation in milliseconds. Default 60 000. */
  timeoutMs?: number;
}

// Control words (Int32): barrier count, generation, abort flag, broadcast length; per rank: the
// barriers it reached; then each rank's operation signature and the abort reason as UTF-8.
const COUNT = 0;
const GENERATION = 1;
const ABORTED = 2;
const LENGTH = 3;
const HEADER_WORDS = 8;
const SIGNATURE_BYTES = 128;
const REASON_BYTES = 512;

/** `Atomics.waitAsync` (ES2024; in Node since 16), typed here for the ES2022 library. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeout: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

interface Layout {
  control: Int32Array;
  signatures: Uint8Array;
  reason: Uint8Array;
  slots: Float32Array[];
  slotBytes: Uint8Array[];
  result: Float32Array;
}

function controlBytes(worldSize: number): number {
  const words = HEADER_WORDS + worldSize;
  return Math.ceil((words * 4 + worldSize * SIGNATURE_BYTES + REASON_BYTES) / 8) * 8;
}

function layout(group: SharedMemoryGroup): Layout {
  const { buffer, worldSize, capacity } = group;
  const words = HEADER_WORDS + worldSize;
  const start = controlBytes(worldSize);
  const slots = Array.from(
    { length: worldSize },
    (_, r) => new Float32Array(buffer, start + r * capacity * 4, capacity),
  );
  return {
    control: new Int32Array(buffer, 0, words),
    signatures: new Uint8Array(buffer, words * 4, worldSize * SIGNATURE_BYTES),
    reason: new Uint8Array(buffer, words * 4 + worldSize * SIGNATURE_BYTES, REASON_BYTES),
    slots,
    slotBytes: slots.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength)),
    result: new Float32Array(buffer, start + worldSize * capacity * 4, capacity),
  };
}

/**
 * Allocates the shared memory of a `worldSize`-rank group. Post the returned object to each worker
 * (or use `runWorkers` from `@optimkit/zero/node`, which does everything).
 *
 * @example
 * ```ts
 * const group = createSharedMemoryGroup(4, { timeoutMs: 30_000 });
 * for (let rank = 0; rank < 4; rank++) new Worker(url, { workerData: { group, rank } });
 * // in the worker: const collective = connectSharedMemory(workerData.group, workerData.rank);
 * ```
 */
export function createSharedMemoryGroup(
  worldSize: number,
  options: SharedMemoryOptions = {},
): SharedMemoryGroup {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`Invalid worldSize: ${String(worldSize)} (a positive integer)`);
  }
  const capacity = options.capacity ?? 1 << 20;
  if (!Number.isInteger(capacity) || capacity < worldSize) {
    throw new RangeError(`Invalid capacity: ${String(capacity)} (an integer of at least worldSize)`);
  }
  const timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'createSharedMemoryGroup');
  const bytes = controlBytes(worldSize) + (worldSize + 1) * capacity * 4;
  return { buffer: new SharedArrayBuffer(bytes), worldSize, capacity, timeoutMs };
}

/**
 * Marks the group as failed (a rank died): every rank's current and next operation throws a
 * {@link CollectiveError} carrying `reason`, at once instead of after its timeout.
 */
export function abortSharedMemoryGroup(group: SharedMemoryGroup, reason: string): void {
  const { control, reason: area } = layout(group);
  if (Atomics.compareExchange(control, ABORTED, 0, 1) !== 0) return;
  const text = new TextEncoder().encode(reason).subarray(0, REASON_BYTES - 4);
  new DataView(area.buffer, area.byteOffset).setUint32(0, text.length, true);
  area.set(text, 4);
  Atomics.add(control, GENERATION, 0);
  Atomics.notify(control, GENERATION);
}

/** The reason the group was aborted, or null. */
function abortReason(l: Layout): string | null {
  if (Atomics.load(l.control, ABORTED) === 0) return null;
  const length = new DataView(l.reason.buffer, l.reason.byteOffset).getUint32(0, true);
  return new TextDecoder().decode(l.reason.slice(4, 4 + length));
}

/**
 * One rank of a shared-memory group: the ranks (threads or workers) exchange data through one
 * `SharedArrayBuffer` and synchronize with `Atomics` (a generation barrier with `Atomics.waitAsync`,
 * so waiting never blocks the rank's event loop). Each operation stages up to `capacity` elements
 * per rank per round; sums are computed in rank order, as on every transport.
 */
class SharedMemoryCollective implements Collective {
  readonly timeoutMs: number;
  private readonly l: Layout;
  private readonly counter: TrafficCounter;
  private barriers = 0;
  private operations = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    private readonly group: SharedMemoryGroup,
    readonly rank: number,
  ) {
    this.timeoutMs = group.timeoutMs;
    this.l = layout(group);
    this.counter = new TrafficCounter(rank, group.worldSize);
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  get stats(): Readonly<CollectiveStats> {
    return this.counter;
  }

  private fail(error: Error): never {
    this.failure = error;
    abortSharedMemoryGroup(this.group, `rank ${this.rank}: ${error.message}`);
    throw error;
  }

  /** Waits until every rank has reached this barrier, or throws on timeout or abort. */
  private async sync(label: string, deadline: number, timeoutMs: number): Promise<void> {
    const { control } = this.l;
    const { worldSize, rank } = this;
    const generation = Atomics.load(control, GENERATION);
    this.barriers += 1;
    Atomics.store(control, HEADER_WORDS + rank, this.barriers);
    if (Atomics.add(control, COUNT, 1) === worldSize - 1) {
      Atomics.store(control, COUNT, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
      return;
    }
    while (Atomics.load(control, GENERATION) === generation) {
      const reason = abortReason(this.l);
      if (reason !== null) {
        const error = new CollectiveError(
          `${label} on rank ${rank} failed: the group was aborted (${reason})`,
        );
        this.failure = error;
        throw error;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const missing: number[] = [];
        for (let r = 0; r < worldSize; r++) {
          if (Atomics.load(control, HEADER_WORDS + r) < this.barriers) missing.push(r);
        }
        this.fail(
          new CollectiveTimeoutError(
            `${label} timed out on rank ${rank} of ${worldSize} after ${timeoutMs} ms: ` +
              `${rankList(missing)} did not join (dead or stalled)`,
          ),
        );
      }
      const wait = waitAsync(control, GENERATION, generation, remaining);
      if (wait.async) {
        // A pending waitAsync does not keep Node's event loop alive; a timer does. It outlasts the
        // wait: a timer of the same length can fire first, and the loop then ends (exit code 13)
        // with the wait still pending.
        const keepAlive = setTimeout(() => {}, remaining + 1000);
        await wait.value;
        clearTimeout(keepAlive);
      }
    }
  }

  /** Starts an operation: checks the state and, in the first round, that every rank runs the same one. */
  private begin(signature: string, options: OperationOptions | undefined) {
    if (this.closed) throw new CollectiveError(`rank ${this.rank}: the collective is closed`);
    if (this.failure) throw this.failure;
    const timeoutMs = operationTimeout(options, this.timeoutMs, signature);
    const deadline = Date.now() + timeoutMs;
    const label = `${signature} (operation #${this.operations})`;
    this.operations += 1;
    const text = new TextEncoder().encode(signature).subarray(0, SIGNATURE_BYTES - 1);
    const own = this.l.signatures.subarray(this.rank * SIGNATURE_BYTES, (this.rank + 1) * SIGNATURE_BYTES);
    own.fill(0);
    own.set(text);
    let checked = false;
    const sync = async () => {
      await this.sync(label, deadline, timeoutMs);
      if (!checked) {
        checked = true;
        this.checkSignatures(signature);
      }
    };
    return sync;
  }

  private checkSignatures(signature: string): void {
    for (let r = 0; r < this.worldSize; r++) {
      const bytes = this.l.signatures.subarray(r * SIGNATURE_BYTES, (r + 1) * SIGNATURE_BYTES);
      const end = bytes.indexOf(0);
      const theirs = new TextDecoder().decode(bytes.slice(0, end < 0 ? bytes.length : end));
      if (theirs !== signature) {
        this.fail(
          new CollectiveError(
            `Collective operation #${this.operations - 1} differs between ranks: rank ${this.rank} called ${signature}, rank ${r} called ${theirs}`,
          ),
        );
      }
    }
  }

  async allReduce(data: Float32Array, options?: OperationOptions): Promise<Float32Array> {
    checkFloat32(data, 'allReduce');
    const sync = this.begin(`allReduce(${data.length})`, options);
    const { slots, result } = this.l;
    const capacity = this.group.capacity;
    const out = new Float32Array(data.length);
    for (let start = 0; start === 0 || start < data.length; start += capacity) {
      const length = Math.min(capacity, data.length - start);
      slots[this.rank]!.set(data.subarray(start, start + length));
      await sync();
      const counts = balancedCounts(length, this.worldSize);
      const from = displacements(counts)[this.rank]!;
      this.sumSlots(from, counts[this.rank]!, result.subarray(from, from + counts[this.rank]!));
      await sync();
      out.set(result.subarray(0, length), start);
      await sync();
    }
    this.counter.allReduce(data.length);
    return out;
  }

  /** Sums `length` elements from `offset` of every rank's slot, in rank order, into `target`. */
  private sumSlots(offset: number, length: number, target: Float32Array): void {
    const { slots } = this.l;
    target.set(slots[0]!.subarray(offset, offset + length));
    for (let r = 1; r < this.worldSize; r++) {
      const slot = slots[r]!;
      for (let i = 0; i < length; i++) target[i]! += slot[offset + i]!;
    }
  }

  async reduceScatter(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    checkFloat32(data, 'reduceScatter');
    const total = checkCounts(counts, this.worldSize, 'reduceScatter', data.length);
    const sync = this.begin(`reduceScatter([${counts.join(',')}])`, options);
    const capacity = this.group.capacity;
    const mine = displacements(counts)[this.rank]!;
    const out = new Float32Array(counts[this.rank]!);
    for (let start = 0; start === 0 || start < total; start += capacity) {
      const length = Math.min(capacity, total - start);
      this.l.slots[this.rank]!.set(data.subarray(start, start + length));
      await sync();
      const from = Math.max(start, mine);
      const to = Math.min(start + length, mine + out.length);
      if (to > from) this.sumSlots(from - start, to - from, out.subarray(from - mine, to - mine));
      await sync();
    }
    this.counter.reduceScatter(counts);
    return out;
  }

  async allGather(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    const total = checkAllGather(data, counts, this.rank, this.worldSize);
    const sync = this.begin(`allGather([${counts.join(',')}])`, options);
    const { result } = this.l;
    const capacity = this.group.capacity;
    const mine = displacements(counts)[this.rank]!;
    const out = new Float32Array(total);
    for (let start = 0; start === 0 || start < total; start += capacity) {
      const length = Math.min(capacity, total - start);
      const from = Math.max(start, mine);
      const to = Math.min(start + length, mine + data.length);
      if (to > from) result.set(data.subarray(from - mine, to - mine), from - start);
      await sync();
      out.set(result.subarray(0, length), start);
      await sync();
    }
    this.counter.allGather(counts);
    return out;
  }

  async broadcast(data: Uint8Array | null, root: number, options?: OperationOptions): Promise<Uint8Array> {
    checkRoot(root, this.worldSize, 'broadcast');
    const isRoot = this.rank === root;
    if (isRoot && !(data instanceof Uint8Array))
      throw new TypeError('broadcast: the root must give a Uint8Array');
    const sync = this.begin(`broadcast(root ${root})`, options);
    const { control, slotBytes } = this.l;
    const capacity = this.group.capacity * 4;
    const area = slotBytes[root]!;
    let out: Uint8Array | null = isRoot ? data!.slice() : null;
    let length = isRoot ? data!.length : 0;
    for (let start = 0; start === 0 || start < length; start += capacity) {
      if (isRoot) {
        if (start === 0) Atomics.store(control, LENGTH, length);
        area.set(data!.subarray(start, start + Math.min(capacity, length - start)));
      }
      await sync();
      if (!isRoot) {
        if (start === 0) {
          length = Atomics.load(control, LENGTH);
          out = new Uint8Array(length);
        }
        out!.set(area.subarray(0, Math.min(capacity, length - start)), start);
      }
      await sync();
    }
    this.counter.broadcast(length, root);
    return out!;
  }

  async barrier(options?: OperationOptions): Promise<void> {
    const sync = this.begin('barrier()', options);
    await sync();
    this.counter.barrier();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * This rank's {@link Collective} over a shared-memory group made by {@link createSharedMemoryGroup}.
 *
 * @example
 * ```ts
 * import { workerData } from 'node:worker_threads';
 * const collective = connectSharedMemory(workerData.group, workerData.rank);
 * ```
 */
export function connectSharedMemory(group: SharedMemoryGroup, rank: number): Collective {
  if (!group || !(group.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError('connectSharedMemory: group must come from createSharedMemoryGroup');
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= group.worldSize) {
    throw new RangeError(`connectSharedMemory: invalid rank ${String(rank)} of ${group.worldSize}`);
  }
  return new SharedMemoryCollective(group, rank);
}
