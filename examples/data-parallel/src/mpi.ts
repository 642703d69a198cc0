/**
 * The MNIST MLP on MPI ranks: `mpirun -np 4 node --import tsx src/mpi.ts` (from this folder; as
 * root add --allow-run-as-root, on fewer cores --oversubscribe). Rank 0 prints what every rank measured.
 */
import { createMpiCollective } from '@optimkit/zero-mpi';
import { formatReports, type RankReport, trainMnist } from './mnist-mlp.js';

const collective = createMpiCollective({ timeoutMs: 60_000 });
try {
  const report = await trainMnist(collective, {
    steps: process.argv.includes('--small') ? 8 : 150,
    batchSize: 64,
  });
  // Gather every rank's report on rank 0 through the collective (one broadcast per rank).
  const reports: RankReport[] = [];
  for (let r = 0; r < collective.worldSize; r++) {
    const bytes = await collective.broadcast(
      r === collective.rank ? new TextEncoder().encode(JSON.stringify(report)) : null,
      r,
    );
    reports.push(JSON.parse(new TextDecoder().decode(bytes)) as RankReport);
  }
  if (collective.rank === 0) console.log(formatReports([reports]));
  await collective.close();
} catch (error) {
  console.error(`rank ${collective.rank}: ${(error as Error).message}`);
  collective.abort(1);
}
