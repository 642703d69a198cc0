import { describe, expect, it } from 'vitest';
import { type Collective, CollectiveError, CollectiveTimeoutError } from './collective.js';
import { createInProcessGroup } from './in-process.js';
import { connectSharedMemory, createSharedMemoryGroup } from './shared-memory.js';

const transports: { name: string; group: (n: number, timeoutMs?: number) => Collective[] }[] = [
  { name: 'in-process', group: (n, timeoutMs = 5000) => createInProcessGroup(n, { timeoutMs }) },
  {
    name: 'shared memory (small capacity: several rounds per operation)',
    group: (n, timeoutMs = 5000) => {
      const group = createSharedMemoryGroup(n, { capacity: 5, timeoutMs });
      return Array.from({ length: n }, (_, r) => connectSharedMemory(group, r));
    },
  },
];

/** Values whose float32 sum depends on the order: the collectives must add in rank order. */
function contribution(rank: number, length: number): Float32Array {
  return Float32Array.from(
    { length },
    (_, i) => (rank % 2 === 0 ? 1e8 : 1) * (i + 1) * (rank === 2 ? -1 : 1) + rank * 0.1,
  );
}

function rankOrderSum(worldSize: number, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let r = 0; r < worldSize; r++) {
    const c = contribution(r, length);
    for (let i = 0; i < length; i++) out[i] = r === 0 ? c[i]! : out[i]! + c[i]!;
  }
  return out;
}

for (const transport of transports) {
  describe(`collective: ${transport.name}`, () => {
    it('all-reduces, reduce-scatters, all-gathers and broadcasts, summing in rank order', async () => {
      for (const n of [1, 2, 3, 4]) {
        const ranks = transport.group(n);
        const length = 13;
        const expected = rankOrderSum(n, length);
        const sums = await Promise.all(ranks.map((c) => c.allReduce(contribution(c.rank, length))));
        for (const s of sums) expect(Array.from(s)).toEqual(Array.from(expected));
        const counts = Array.from({ length: n }, (_, r) => (r === 1 ? 0 : r + 3));
        const total = counts.reduce((a, b) => a + b, 0);
        const scattered = await Promise.all(
          ranks.map((c) => c.reduceScatter(contribution(c.rank, total), counts)),
        );
        const full = rankOrderSum(n, total);
        let offset = 0;
        scattered.forEach((s, r) => {
          expect(Array.from(s)).toEqual(Array.from(full.subarray(offset, offset + counts[r]!)));
          offset += counts[r]!;
        });
        const gathered = await Promise.all(
          ranks.map((c) => c.allGather(new Float32Array(counts[c.rank]!).fill(c.rank + 0.5), counts)),
        );
        const concatenated = counts.flatMap((c, r) => new Array(c).fill(r + 0.5));
        for (const g of gathered) expect(Array.from(g)).toEqual(concatenated);
        const message = new TextEncoder().encode('x'.repeat(47));
        const root = n - 1;
        const received = await Promise.all(
          ranks.map((c) => c.broadcast(c.rank === root ? message : null, root)),
        );
        for (const b of received) expect(new TextDecoder().decode(b)).toBe('x'.repeat(47));
        await Promise.all(ranks.map((c) => c.barrier()));
        // Bytes as a direct exchange moves them.
        const [first] = ranks;
        expect(first!.stats.operations).toBe(5);
        if (n === 4) {
          // allReduce(13): segments [4, 3, 3, 3]: sends 9 + 3·4, receives 3·4 + 9 elements;
          // reduceScatter([3, 0, 5, 6]): sends 11, receives 3·3; allGather: sends 3·3, receives 11;
          // broadcast from rank 3: receives 47 bytes.
          expect(first!.stats.bytesSent).toBe((9 + 12 + 11 + 9) * 4);
          expect(first!.stats.bytesReceived).toBe((12 + 9 + 9 + 11) * 4 + 47);
        }
      }
    });

    it('fails with a clear error when ranks call different operations', async () => {
      const [a, b] = transport.group(2);
      const results = await Promise.allSettled([
        a!.allReduce(new Float32Array(2)),
        b!.allGather(new Float32Array(1), [1, 1]),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect(String((r as PromiseRejectedResult).reason)).toMatch(
          /differs between ranks.*allReduce\(2\).*allGather|allGather.*allReduce\(2\)/,
        );
      }
    });

    it('times out, naming the rank that did not join, instead of hanging', async () => {
      const ranks = transport.group(3, 300);
      const results = await Promise.allSettled([ranks[0]!.barrier(), ranks[2]!.barrier()]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const reason = (r as PromiseRejectedResult).reason as Error;
        expect(reason).toBeInstanceOf(CollectiveError);
        expect(String(reason)).toMatch(/rank 1 did not join/);
      }
      expect(results.some((r) => (r as PromiseRejectedResult).reason instanceof CollectiveTimeoutError)).toBe(
        true,
      );
      // The group stays failed.
      await expect(ranks[0]!.barrier()).rejects.toThrow(CollectiveError);
    });

    it('rejects bad arguments before communicating', async () => {
      const [a] = transport.group(2);
      await expect(a!.reduceScatter(new Float32Array(3), [1, 1])).rejects.toThrow(
        /3 elements, counts sum to 2/,
      );
      await expect(a!.allGather(new Float32Array(2), [1, 1])).rejects.toThrow(
        /gives 2 elements, counts say 1/,
      );
      await expect(a!.allReduce([1, 2] as unknown as Float32Array)).rejects.toThrow(/Float32Array/);
      await expect(a!.broadcast(null, 5)).rejects.toThrow(/invalid root 5/);
      await expect(a!.barrier({ timeoutMs: -1 })).rejects.toThrow(/Invalid timeoutMs/);
      expect(a!.stats.operations).toBe(0);
    });
  });
}
