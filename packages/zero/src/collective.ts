/**
 * The one interface every transport implements, and what they share: the errors, the byte
 * accounting and the rank-order float32 sum that makes every reduction deterministic.
 */

/** Options every collective operation takes. */
export interface OperationOptions {
  /** Milliseconds to wait for the other ranks before failing; default: the transport's `timeoutMs`. */
  timeoutMs?: number;
}

/** What a rank has moved through its collective since it was created. */
export interface CollectiveStats {
  /** Operations completed (barriers included). */
  operations: number;
  /** Bytes this rank sent to other ranks. */
  bytesSent: number;
  /** Bytes this rank received from other ranks. */
  bytesReceived: number;
}

/**
 * The communication a data-parallel group needs, implemented by every transport (in-process,
 * `worker_threads` + `SharedArrayBuffer`, MPI). Every rank calls the same operations in the same
 * order; each operation fails with a {@link CollectiveTimeoutError} when another rank does not
 * join it within the timeout (a dead or stalled rank never makes the others hang).
 *
 * Reductions are sums computed in float32 **in rank order** (`((x₀ + x₁) + x₂) + …`) on every
 * transport, so `allReduce` and `reduceScatter` give bit-identical sums of the same inputs, on
 * every rank and every run.
 *
 * Bytes are counted as a direct exchange moves them: for `reduceScatter`, a rank sends every
 * segment but its own once and receives its own segment from each other rank; `allGather` is
 * the reverse; `allReduce` is one of each; `broadcast` sends the data once to each other rank.
 */
export interface Collective {
  /** This rank, `0 ≤ rank < worldSize`. */
  readonly rank: number;
  /** The number of ranks. */
  readonly worldSize: number;
  /** The default timeout of every operation, in milliseconds. */
  readonly timeoutMs: number;
  /** Traffic so far (a live view). */
  readonly stats: Readonly<CollectiveStats>;
  /** The element-wise sum of `data` over all ranks (same length everywhere), on every rank. */
  allReduce(data: Float32Array, options?: OperationOptions): Promise<Float32Array>;
  /**
   * The element-wise sum over ranks of `data` (`sum(counts)` elements, same on every rank),
   * scattered: rank `r` receives the `counts[r]` elements that start at `counts[0] + … + counts[r-1]`.
   */
  reduceScatter(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array>;
  /** The concatenation over ranks of each rank's `data` (`counts[rank]` elements), on every rank. */
  allGather(data: Float32Array, counts: readonly number[], options?: OperationOptions): Promise<Float32Array>;
  /** `root`'s bytes on every rank (other ranks pass `null`); the length travels with them. */
  broadcast(data: Uint8Array | null, root: number, options?: OperationOptions): Promise<Uint8Array>;
  /** Resolves once every rank has called it. */
  barrier(options?: OperationOptions): Promise<void>;
  /** Releases the transport; operations afterwards throw. */
  close(): Promise<void>;
}

/** An operation that cannot complete: a rank disagreed, aborted, or the collective is closed. */
export class CollectiveError extends Error {
  override name = 'CollectiveError';
}

/** Another rank did not join an operation within the timeout. */
export class CollectiveTimeoutError extends CollectiveError {
  override name = 'CollectiveTimeoutError';
}

/** The default timeout of the transports: one minute. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Throws unless `timeoutMs` is a positive finite number. */
export function checkTimeout(timeoutMs: unknown, where: string): number {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Invalid timeoutMs of ${where}: ${String(timeoutMs)} (a positive number of milliseconds)`,
    );
  }
  return timeoutMs;
}

/** Throws unless `counts` has one non-negative integer per rank summing to `length` (if given). */
export function checkCounts(
  counts: readonly number[],
  worldSize: number,
  operation: string,
  length?: number,
): number {
  if (!Array.isArray(counts) || counts.length !== worldSize) {
    throw new RangeError(`${operation}: counts needs one entry per rank (${worldSize})`);
  }
  let total = 0;
  for (const c of counts) {
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`${operation}: invalid count ${String(c)}`);
    total += c;
  }
  if (length !== undefined && length !== total) {
    throw new RangeError(`${operation}: data has ${length} elements, counts sum to ${total}`);
  }
  return total;
}

/** The timeout of one operation: the per-call option (checked) or the transport's default. */
export function operationTimeout(
  options: OperationOptions | undefined,
  fallback: number,
  operation: string,
): number {
  return options?.timeoutMs === undefined ? fallback : checkTimeout(options.timeoutMs, operation);
}

/** Checks the arguments of `allGather` and returns the gathered length. */
export function checkAllGather(
  data: unknown,
  counts: readonly number[],
  rank: number,
  worldSize: number,
): number {
  const values = checkFloat32(data, 'allGather');
  const total = checkCounts(counts, worldSize, 'allGather');
  if (values.length !== counts[rank]) {
    throw new RangeError(
      `allGather: rank ${rank} gives ${values.length} elements, counts say ${counts[rank]}`,
    );
  }
  return total;
}

/** Throws unless `data` is a Float32Array. */
export function checkFloat32(data: unknown, operation: string): Float32Array {
  if (!(data instanceof Float32Array)) throw new TypeError(`${operation}: data must be a Float32Array`);
  return data;
}

/** Throws unless `root` is a rank. */
export function checkRoot(root: unknown, worldSize: number, operation: string): number {
  if (!Number.isInteger(root) || (root as number) < 0 || (root as number) >= worldSize) {
    throw new RangeError(`${operation}: invalid root ${String(root)} for ${worldSize} ranks`);
  }
  return root as number;
}

/** Offsets of each rank's segment. */
export function displacements(counts: readonly number[]): number[] {
  const out: number[] = [];
  let offset = 0;
  for (const c of counts) {
    out.push(offset);
    offset += c;
  }
  return out;
}

/** Equal segments of `length` elements over `worldSize` ranks (the first ranks take the remainder). */
export function balancedCounts(length: number, worldSize: number): number[] {
  const base = Math.floor(length / worldSize);
  const extra = length % worldSize;
  return Array.from({ length: worldSize }, (_, r) => base + (r < extra ? 1 : 0));
}

/**
 * Adds `contributions` (one per rank, in rank order) element by element into `out`, in float32:
 * `out[i] = ((c₀[i] + c₁[i]) + c₂[i]) + …`, each partial sum rounded by the Float32Array store.
 */
export function sumInRankOrder(
  contributions: readonly ArrayLike<number>[],
  out: Float32Array,
  sourceOffset = 0,
): Float32Array {
  const first = contributions[0]!;
  for (let i = 0; i < out.length; i++) out[i] = first[sourceOffset + i]!;
  for (let r = 1; r < contributions.length; r++) {
    const c = contributions[r]!;
    for (let i = 0; i < out.length; i++) out[i]! += c[sourceOffset + i]!;
  }
  return out;
}

/** The byte accounting of {@link Collective}, shared by every transport. */
export class TrafficCounter implements CollectiveStats {
  operations = 0;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    private readonly rank: number,
    private readonly worldSize: number,
  ) {}

  /** Counts a reduce-scatter of float32 shards of the given element counts, one per rank. */
  reduceScatter(counts: readonly number[]): void {
    const total = counts.reduce((a, b) => a + b, 0);
    const own = counts[this.rank]!;
    this.add((total - own) * 4, (this.worldSize - 1) * own * 4);
  }

  /** Counts an all-gather of float32 shards of the given element counts, one per rank. */
  allGather(counts: readonly number[]): void {
    const total = counts.reduce((a, b) => a + b, 0);
    const own = counts[this.rank]!;
    this.add((this.worldSize - 1) * own * 4, (total - own) * 4);
  }

  /** Counts an all-reduce of `length` float32 elements (a reduce-scatter then an all-gather). */
  allReduce(length: number): void {
    const counts = balancedCounts(length, this.worldSize);
    this.reduceScatter(counts);
    this.allGather(counts);
    this.operations -= 1;
  }

  /** Counts a broadcast of `bytes` from rank `root`. */
  broadcast(bytes: number, root: number): void {
    if (this.rank === root) this.add((this.worldSize - 1) * bytes, 0);
    else this.add(0, bytes);
  }

  /** Counts a barrier (an operation without payload). */
  barrier(): void {
    this.add(0, 0);
  }

  private add(sent: number, received: number): void {
    this.operations += 1;
    this.bytesSent += sent;
    this.bytesReceived += received;
  }
}

/** "ranks 1 and 3" / "rank 2". */
export function rankList(ranks: readonly number[]): string {
  if (ranks.length === 1) return `rank ${ranks[0]}`;
  return `ranks ${ranks.slice(0, -1).join(', ')} and ${ranks[ranks.length - 1]}`;
}
