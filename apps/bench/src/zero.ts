/**
 * The ZeRO bench (`pnpm bench -- --zero`): data-parallel AdamW on worker threads over the
 * shared-memory collective, for world sizes 1, 2 and 4, on a model of equal-size layers (so the
 * whole-variable partition can balance). Prints, per world size, the optimizer state bytes per
 * rank (against total / N), the bytes each rank sends and receives per step, and the median step
 * time of ZeRO (stage 2) and of unsharded data parallelism (all-reduce + the plain optimizer).
 */
import { runWorkers } from '@optimkit/zero/node';

/** What one worker rank measured. */
export interface ZeroRankResult {
  rank: number;
  zeroStateBytes: number;
  plainStateBytes: number;
  bytesSentPerStep: number;
  bytesReceivedPerStep: number;
  zeroMsPerStep: number;
  plainMsPerStep: number;
}

export interface ZeroBenchConfig {
  layers: number;
  width: number;
  steps: number;
  worldSizes: number[];
}

export const ZERO_FULL: ZeroBenchConfig = { layers: 8, width: 512, steps: 20, worldSizes: [1, 2, 4] };
export const ZERO_QUICK: ZeroBenchConfig = { layers: 8, width: 128, steps: 5, worldSizes: [1, 2, 4] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function runZeroBench(config: ZeroBenchConfig, log: (line: string) => void): Promise<string> {
  const rows: string[] = [];
  for (const worldSize of config.worldSizes) {
    log(`zero: ${worldSize} rank(s)…`);
    const ranks = await runWorkers<ZeroRankResult>(new URL('./zero-worker-entry.mjs', import.meta.url), {
      worldSize,
      timeoutMs: 120_000,
      data: config,
    });
    const total = ranks[0]!.plainStateBytes;
    const zeroBytes = ranks.map((r) => r.zeroStateBytes);
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
    const zeroMs = median(ranks.map((r) => r.zeroMsPerStep));
    const plainMs = median(ranks.map((r) => r.plainMsPerStep));
    rows.push(
      `| ${worldSize} | ${mib(Math.max(...zeroBytes))} | ${mib(total / worldSize)} | ${mib(total)} | ` +
        `${mib(median(ranks.map((r) => r.bytesSentPerStep)))} / ${mib(median(ranks.map((r) => r.bytesReceivedPerStep)))} | ` +
        `${zeroMs.toFixed(1)} | ${plainMs.toFixed(1)} | ${(zeroMs / plainMs).toFixed(2)} |`,
    );
  }
  const parameters = config.layers * (config.width * config.width + config.width);
  return [
    `ZeRO stage 2, AdamW, ${config.layers} layers of ${config.width}×${config.width} (${parameters.toLocaleString('en')} parameters), ` +
      `${config.steps} steps, worker_threads + SharedArrayBuffer, cpu backend`,
    '',
    '| ranks | ZeRO state per rank (max) | total / N | unsharded state per rank | ZeRO sent / received per step per rank | ZeRO ms / step | unsharded ms / step | ZeRO / unsharded |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}
