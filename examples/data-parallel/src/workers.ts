/**
 * Trains the MNIST MLP on 2 and 4 worker threads (SharedArrayBuffer collective; 1 too without
 * `--small`) and prints state bytes per rank, bytes communicated and step time per world size.
 * `--small`: a few steps (the package's test). Exits non-zero when ranks disagree or the state is
 * not sharded.
 */
import { runWorkers } from '@optimkit/zero/node';
import { formatReports, type RankReport, type TrainOptions } from './mnist-mlp.js';

const small = process.argv.includes('--small');
const options: TrainOptions = small ? { steps: 8, batchSize: 32 } : { steps: 150, batchSize: 64 };
const reports: RankReport[][] = [];
for (const worldSize of small ? [2, 4] : [1, 2, 4]) {
  const group = await runWorkers<RankReport>(new URL('./worker-entry.mjs', import.meta.url), {
    worldSize,
    execArgv: ['--conditions=@optimkit/source'],
    timeoutMs: 60_000,
    data: options,
  });
  reports.push(group);
  console.error(`${worldSize} rank(s): done`);
}
console.log(
  `MNIST MLP (784-128-10), AdamW, ${options.steps} steps of ${options.batchSize} examples, worker_threads:\n`,
);
console.log(formatReports(reports));
const ok = reports.every((g) =>
  g.every((r) => r.weightsChecksum === g[0]!.weightsChecksum && Number.isFinite(r.loss)),
);
const total = reports[0]!.reduce((a, r) => a + r.stateBytes, 0);
const sharded = reports.every(
  (g) =>
    g.reduce((a, r) => a + r.stateBytes, 0) === total &&
    (g.length === 1 || Math.max(...g.map((r) => r.stateBytes)) < total),
);
if (!ok || !sharded) {
  console.error('FAILED: ranks disagree, a loss is not finite, or the state is not sharded');
  process.exit(1);
}
