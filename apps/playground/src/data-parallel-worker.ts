/** One rank of the report's data-parallel section, started by `runDataParallel` through runWorkers. */
import { reportResult, workerCollective, workerContext } from '@optimkit/zero/node';
import { useBackend } from './backend.js';
import { trainRank } from './data-parallel.js';
import type { WorkerInput } from './data-parallel-node.js';
import { quietTfjsBanner } from './quiet.js';

quietTfjsBanner();
const input = workerContext().data as WorkerInput;
await useBackend(input.backend);
const collective = workerCollective();
const stepsDone = new Int32Array(input.stepsDone);
const result = await trainRank(collective, input.data, input.plan, () => {
  Atomics.add(stepsDone, 0, 1);
});
await collective.close();
reportResult(result);
