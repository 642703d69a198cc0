/**
 * The report's data-parallel section in Node: the MNIST MLP trained by 1, 2 and 4 ranks on real
 * worker threads (`@optimkit/zero/node`'s runWorkers, a SharedArrayBuffer collective), and once in
 * this thread on the whole batch as the reference.
 */
import { runWorkers } from '@optimkit/zero/node';
import {
  type DataParallelPlan,
  type DataParallelRow,
  finalLoss,
  type RankResult,
  type SingleProcessResult,
  sharedTrainingSet,
  summarizeRanks,
  testAccuracy,
  trainSingleProcess,
} from './data-parallel.js';
import type { MnistData } from './mnist.js';

/** What a rank's worker receives (the training digits in shared memory, not copied per worker). */
export interface WorkerInput {
  data: MnistData;
  plan: DataParallelPlan;
  backend: 'cpu' | 'wasm';
  /** An Int32Array's buffer: each rank adds 1 per step, for the progress bar. */
  stepsDone: SharedArrayBuffer;
}

/** Everything the section shows. */
export interface DataParallelPart {
  plan: DataParallelPlan;
  backend: string;
  rows: DataParallelRow[];
  single: {
    stateBytes: number;
    finalLoss: number;
    testAccuracy: number;
    /** Elements of each variable, in the order of `VARIABLE_NAMES`. */
    sizes: number[];
  };
}

/** Node options for the workers: this process's export conditions (the sources, in the tests). */
function workerExecArgv(): string[] {
  const out: string[] = [];
  process.execArgv.forEach((arg, i) => {
    if (arg.startsWith('--conditions=') || arg.startsWith('-C=')) out.push(arg);
    else if ((arg === '--conditions' || arg === '-C') && process.execArgv[i + 1]) {
      out.push(`--conditions=${process.execArgv[i + 1]}`);
    }
  });
  return out;
}

const WORKER = new URL('./data-parallel-worker.mjs', import.meta.url);

/**
 * Trains `plan` at every world size of `worldSizes` on worker threads and once in this thread
 * (the reference, on the current backend, which must be `backend`). `onSteps` receives the rank
 * steps done since its last call (one world size of N ranks makes N per global step).
 */
export async function runDataParallel(
  data: MnistData,
  plan: DataParallelPlan,
  {
    worldSizes,
    backend,
    onPhase,
    onSteps,
  }: {
    worldSizes: readonly number[];
    backend: 'cpu' | 'wasm';
    onPhase?: (label: string) => void;
    onSteps?: (steps: number) => void;
  },
): Promise<DataParallelPart> {
  onPhase?.('data-parallel: single process, whole batch (the reference)');
  const single: SingleProcessResult = await trainSingleProcess(data, plan);
  onSteps?.(plan.steps);
  const shared = sharedTrainingSet(data);
  const rows: DataParallelRow[] = [];
  for (const worldSize of worldSizes) {
    onPhase?.(`data-parallel: ${worldSize} rank(s) on worker threads`);
    const stepsDone = new SharedArrayBuffer(4);
    const counter = new Int32Array(stepsDone);
    let reported = 0;
    const poll = () => {
      const now = Atomics.load(counter, 0);
      if (now > reported) onSteps?.(now - reported);
      reported = now;
    };
    const timer = setInterval(poll, 250);
    const input: WorkerInput = { data: shared, plan, backend, stepsDone };
    let ranks: RankResult[];
    try {
      ranks = await runWorkers<RankResult>(WORKER, {
        worldSize,
        data: input,
        execArgv: workerExecArgv(),
        timeoutMs: 120_000,
      });
    } finally {
      clearInterval(timer);
      poll();
    }
    rows.push(summarizeRanks(ranks, single, data, plan.seed));
  }
  return {
    plan,
    backend,
    rows,
    single: {
      stateBytes: single.stateBytes,
      finalLoss: finalLoss(single.losses),
      testAccuracy: testAccuracy(data, single.weights, plan.seed),
      sizes: single.sizes,
    },
  };
}
