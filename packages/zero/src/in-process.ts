import {
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
  sumInRankOrder,
  TrafficCounter,
} from './collective.js';

/** Options of {@link createInProcessGroup}. */
export interface InProcessOptions {
  /** Default timeout of every operation in milliseconds. Default 60 000. */
  timeoutMs?: number;
}

interface Meeting {
  signature: string;
  first: number;
  payloads: (Float32Array | Uint8Array | null)[];
  arrived: number;
  waiters: {
    resolve: (payloads: (Float32Array | Uint8Array | null)[]) => void;
    reject: (e: Error) => void;
  }[];
}

/** The rendezvous point of one group: the operations in flight, by sequence number. */
class Group {
  readonly meetings = new Map<number, Meeting>();
  failure: Error | null = null;
  constructor(readonly worldSize: number) {}

  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const meeting of this.meetings.values()) for (const w of meeting.waiters) w.reject(error);
    this.meetings.clear();
  }
}

/**
 * One rank of an in-process group: every rank lives in the same JavaScript thread and the
 * operations meet through promises. For tests and for trying data-parallel code without workers.
 */
class InProcessCollective implements Collective {
  readonly timeoutMs: number;
  private readonly counter: TrafficCounter;
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly group: Group,
    readonly rank: number,
    timeoutMs: number,
  ) {
    this.timeoutMs = timeoutMs;
    this.counter = new TrafficCounter(rank, group.worldSize);
  }

  get worldSize(): number {
    return this.group.worldSize;
  }

  get stats(): Readonly<CollectiveStats> {
    return this.counter;
  }

  /** Contributes `payload` to the next operation and resolves with every rank's contribution. */
  private meet(
    signature: string,
    payload: Float32Array | Uint8Array | null,
    options: OperationOptions | undefined,
  ): Promise<(Float32Array | Uint8Array | null)[]> {
    if (this.closed)
      return Promise.reject(new CollectiveError(`rank ${this.rank}: the collective is closed`));
    if (this.group.failure) return Promise.reject(this.group.failure);
    const timeoutMs = operationTimeout(options, this.timeoutMs, signature);
    const sequence = this.sequence++;
    const { group, rank } = this;
    let meeting = group.meetings.get(sequence);
    if (!meeting) {
      meeting = {
        signature,
        first: rank,
        payloads: new Array(group.worldSize).fill(null),
        arrived: 0,
        waiters: [],
      };
      group.meetings.set(sequence, meeting);
    } else if (meeting.signature !== signature) {
      const error = new CollectiveError(
        `Collective operation #${sequence} differs between ranks: rank ${meeting.first} called ` +
          `${meeting.signature}, rank ${rank} called ${signature}`,
      );
      group.fail(error);
      return Promise.reject(error);
    }
    meeting.payloads[rank] = payload === null ? null : payload.slice();
    meeting.arrived += 1;
    const current = meeting;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = current.payloads.flatMap((p, r) => (p === null ? [r] : []));
        group.fail(
          new CollectiveTimeoutError(
            `${signature} (operation #${sequence}) timed out on rank ${rank} of ${group.worldSize} after ` +
              `${timeoutMs} ms: ${rankList(missing)} did not join (dead or stalled)`,
          ),
        );
      }, timeoutMs);
      current.waiters.push({
        resolve: (payloads) => {
          clearTimeout(timer);
          resolve(payloads);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (current.arrived === group.worldSize) {
        group.meetings.delete(sequence);
        for (const w of current.waiters) w.resolve(current.payloads);
      }
    });
  }

  async allReduce(data: Float32Array, options?: OperationOptions): Promise<Float32Array> {
    checkFloat32(data, 'allReduce');
    const payloads = await this.meet(`allReduce(${data.length})`, data, options);
    this.counter.allReduce(data.length);
    return sumInRankOrder(payloads as Float32Array[], new Float32Array(data.length));
  }

  async reduceScatter(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    checkFloat32(data, 'reduceScatter');
    checkCounts(counts, this.worldSize, 'reduceScatter', data.length);
    const payloads = await this.meet(`reduceScatter([${counts.join(',')}])`, data, options);
    this.counter.reduceScatter(counts);
    const out = new Float32Array(counts[this.rank]!);
    return sumInRankOrder(payloads as Float32Array[], out, displacements(counts)[this.rank]!);
  }

  async allGather(
    data: Float32Array,
    counts: readonly number[],
    options?: OperationOptions,
  ): Promise<Float32Array> {
    const total = checkAllGather(data, counts, this.rank, this.worldSize);
    const payloads = await this.meet(`allGather([${counts.join(',')}])`, data, options);
    this.counter.allGather(counts);
    const out = new Float32Array(total);
    const offsets = displacements(counts);
    payloads.forEach((p, r) => {
      out.set(p as Float32Array, offsets[r]);
    });
    return out;
  }

  async broadcast(data: Uint8Array | null, root: number, options?: OperationOptions): Promise<Uint8Array> {
    checkRoot(root, this.worldSize, 'broadcast');
    if (this.rank === root && !(data instanceof Uint8Array)) {
      throw new TypeError('broadcast: the root must give a Uint8Array');
    }
    const payloads = await this.meet(`broadcast(root ${root})`, this.rank === root ? data : EMPTY, options);
    const bytes = (payloads[root] as Uint8Array).slice();
    this.counter.broadcast(bytes.length, root);
    return bytes;
  }

  async barrier(options?: OperationOptions): Promise<void> {
    await this.meet('barrier()', EMPTY, options);
    this.counter.barrier();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Creates `worldSize` ranks that communicate in this thread: give each its `Collective` and run
 * them concurrently (`Promise.all`). Sums are computed in rank order, as on every transport.
 *
 * @example
 * ```ts
 * const ranks = createInProcessGroup(4, { timeoutMs: 1000 });
 * const sums = await Promise.all(ranks.map((c) => c.allReduce(new Float32Array([c.rank]))));
 * // every sums[r] is Float32Array [6]
 * ```
 */
export function createInProcessGroup(worldSize: number, options: InProcessOptions = {}): Collective[] {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`Invalid worldSize: ${String(worldSize)} (a positive integer)`);
  }
  const timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'createInProcessGroup');
  const group = new Group(worldSize);
  return Array.from({ length: worldSize }, (_, rank) => new InProcessCollective(group, rank, timeoutMs));
}
