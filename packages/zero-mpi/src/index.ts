/**
 * `@optimkit/zero-mpi`: a {@link Collective} over MPI (Open MPI through a small N-API addon), for
 * ZeRO data-parallel training across processes and machines, launched the standard way:
 * `mpirun -np 4 node train.mjs`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
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
  sumInRankOrder,
  TrafficCounter,
} from '@optimkit/zero';

/** The native addon's functions (native/zero_mpi.c). */
interface Binding {
  init(): [number, number];
  ialltoallv(
    send: Float32Array,
    sendCounts: Int32Array,
    sendDispls: Int32Array,
    recv: Float32Array,
    recvCounts: Int32Array,
    recvDispls: Int32Array,
  ): number;
  iallgatherv(send: Float32Array, recv: Float32Array, recvCounts: Int32Array, displs: Int32Array): number;
  ibcast(buffer: Uint8Array, root: number): number;
  ibarrier(): number;
  test(handle: number): boolean;
  abort(code: number): never;
  finalize(): void;
  libraryVersion(): string;
}

const addonPath = fileURLToPath(new URL('../build/Release/zero_mpi.node', import.meta.url));
const buildErrorPath = fileURLToPath(new URL('../build/zero-mpi-build-error.txt', import.meta.url));
let binding: Binding | undefined;

/** The addon, built at install time; a clear error when it was not. */
function native(): Binding {
  if (binding) return binding;
  if (!existsSync(addonPath)) {
    const reason = existsSync(buildErrorPath) ? readFileSync(buildErrorPath, 'utf8') : 'it was never built';
    throw new Error(
      `@optimkit/zero-mpi: the MPI addon is not built (${reason}). Install Open MPI, python3, make and a C compiler ` +
        '(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev python3 make g++), then run ' +
        '`npm rebuild @optimkit/zero-mpi` (or `pnpm --filter @optimkit/zero-mpi build:native`).',
    );
  }
  binding = createRequire(import.meta.url)(addonPath) as Binding;
  return binding;
}

/** Options of {@link createMpiCollective}. */
export interface MpiOptions {
  /** Default timeout of every operation in milliseconds. Default 60 000. */
  timeoutMs?: number;
}

/** The MPI collective: a {@link Collective} plus what only MPI has. */
export interface MpiCollective extends Collective {
  /** The MPI library's version string (`MPI_Get_library_version`). */
  readonly libraryVersion: string;
  /**
   * Ends every process of the job (`MPI_Abort`): what a rank should do after an operation failed,
   * since the others may be waiting in a collective that can no longer complete.
   */
  abort(code?: number): never;
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class MpiTransport implements MpiCollective {
  readonly rank: number;
  readonly worldSize: number;
  readonly timeoutMs: number;
  readonly libraryVersion: string;
  private readonly counter: TrafficCounter;
  private readonly mpi: Binding;
  private operations = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(timeoutMs: number) {
    this.mpi = native();
    const [rank, size] = this.mpi.init();
    this.rank = rank;
    this.worldSize = size;
    this.timeoutMs = timeoutMs;
    this.libraryVersion = this.mpi.libraryVersion();
    this.counter = new TrafficCounter(rank, size);
  }

  get stats(): Readonly<CollectiveStats> {
    return this.counter;
  }

  private begin(signature: string, options: OperationOptions | undefined) {
    if (this.closed) throw new CollectiveError(`rank ${this.rank}: the MPI collective is closed`);
    if (this.failure) throw this.failure;
    const timeoutMs = operationTimeout(options, this.timeoutMs, signature);
    const label = `${signature} (operation #${this.operations})`;
    this.operations += 1;
    return { label, timeoutMs, deadline: Date.now() + timeoutMs };
  }

  /** Polls a non-blocking MPI operation until it completes or the deadline passes. */
  private async wait(
    handle: number,
    op: { label: string; timeoutMs: number; deadline: number },
  ): Promise<void> {
    let polls = 0;
    while (!this.mpi.test(handle)) {
      if (Date.now() > op.deadline) {
        this.failure = new CollectiveTimeoutError(
          `${op.label} timed out on rank ${this.rank} of ${this.worldSize} after ${op.timeoutMs} ms: ` +
            'another rank is dead or stalled (MPI cannot say which); end the job with collective.abort()',
        );
        throw this.failure;
      }
      polls += 1;
      // Progress happens inside MPI_Test: poll at once at first, then yield the core (oversubscribed jobs).
      await (polls < 64 ? immediate() : sleep(1));
    }
  }

  async allReduce(data: Float32Array, options?: OperationOptions): Promise<Float32Array> {
    checkFloat32(data, 'allReduce');
    const counts = balancedCounts(data.length, this.worldSize);
    const op = this.begin(`allReduce(${data.length})`, options);
    const mine = await this.exchangeSegments(data, counts, op);
    const out = await this.gather(mine, counts, op);
    this.counter.allReduce(data.length);
    return out;
  }

  /** Sends segment r of `data` to rank r and sums what arrives in rank order (the reduce-scatter). */
  private async exchangeSegments(
    data: Float32Array,
    counts: readonly number[],
    op: { label: string; timeoutMs: number; deadline: number },
  ): Promise<Float32Array> {
    const own = counts[this.rank]!;
    const received = new Float32Array(own * this.worldSize);
    const recvCounts = new Int32Array(this.worldSize).fill(own);
    const recvDispls = Int32Array.from({ length: this.worldSize }, (_, r) => r * own);
    const send = data.slice();
    await this.wait(
      this.mpi.ialltoallv(
        send,
        Int32Array.from(counts),
        Int32Array.from(displacements(counts)),
        received,
        recvCounts,
        recvDispls,
      ),
      op,
    );
    const parts = Array.from({ length: this.worldSize }, (_, r) => received.subarray(r * own, (r + 1) * own));
    return sumInRankOrder(parts, new Float32Array(own));
  }

  private async gather(
    data: Float32Array,
    counts: readonly number[],
    op: { label: string; timeoutMs: number; deadline: number },
  ): Promise<Float32Array> {
    const out = new Float32Array(counts.reduce((a, b) => a + b, 0));
    await this.wait(
      this.mpi.iallgatherv(
        data.slice(),
        out,
        Int32Array.from(counts),
        Int32Array.from(displacements(counts)),
      ),
      op,
    );
    return out;
  }

  async reduceScatter(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    checkFloat32(data, 'reduceScatter');
    checkCounts(counts, this.worldSize, 'reduceScatter', data.length);
    const op = this.begin(`reduceScatter([${counts.join(',')}])`, options);
    const out = await this.exchangeSegments(data, counts, op);
    this.counter.reduceScatter(counts);
    return out;
  }

  async allGather(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    checkAllGather(data, counts, this.rank, this.worldSize);
    const op = this.begin(`allGather([${counts.join(',')}])`, options);
    const out = await this.gather(data, counts, op);
    this.counter.allGather(counts);
    return out;
  }

  async broadcast(data: Uint8Array | null, root: number, options?: OperationOptions): Promise<Uint8Array> {
    checkRoot(root, this.worldSize, 'broadcast');
    const isRoot = this.rank === root;
    if (isRoot && !(data instanceof Uint8Array))
      throw new TypeError('broadcast: the root must give a Uint8Array');
    const op = this.begin(`broadcast(root ${root})`, options);
    const length = new Int32Array([isRoot ? data!.length : 0]);
    await this.wait(this.mpi.ibcast(new Uint8Array(length.buffer), root), op);
    const bytes = isRoot ? data!.slice() : new Uint8Array(length[0]!);
    await this.wait(this.mpi.ibcast(bytes, root), op);
    this.counter.broadcast(bytes.length, root);
    return bytes;
  }

  async barrier(options?: OperationOptions): Promise<void> {
    const op = this.begin('barrier()', options);
    await this.wait(this.mpi.ibarrier(), op);
    this.counter.barrier();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  abort(code = 1): never {
    return this.mpi.abort(code);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.failure) this.mpi.finalize();
  }
}

let instance: MpiTransport | undefined;

/**
 * This process's rank of the MPI job (`MPI_COMM_WORLD`), as a {@link Collective} for
 * `@optimkit/zero`. The first call initializes MPI (after opening `libmpi` with `RTLD_GLOBAL`, as
 * mpi4py does, so that Open MPI's plugins load); later calls return the same collective. Every
 * operation is non-blocking underneath and polled, so a dead or stalled rank gives a
 * `CollectiveTimeoutError` after the timeout instead of a hang. Sums are computed in rank order
 * (an all-to-all exchange, then a float32 sum), so results are bit-identical to the other
 * transports'. Call `close()` at the end (`MPI_Finalize`).
 *
 * @example
 * ```ts
 * // mpirun -np 4 node train.mjs
 * const collective = createMpiCollective({ timeoutMs: 30_000 });
 * const optimizer = zero(adamw(), { collective, variables });
 * try { await train(optimizer); } catch (error) { console.error(error); collective.abort(1); }
 * await collective.close();
 * ```
 */
export function createMpiCollective(options: MpiOptions = {}): MpiCollective {
  const timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'createMpiCollective');
  if (instance && !instance.isClosed) return instance;
  instance = new MpiTransport(timeoutMs);
  return instance;
}
