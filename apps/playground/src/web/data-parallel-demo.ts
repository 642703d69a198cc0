/**
 * The page's data-parallel demo: the MLP trained by 1, 2 or 4 ranks with ZeRO-sharded AdamW
 * (`trainRank` of `../data-parallel.ts`, as the Node report's worker threads run it), against one
 * process on the whole batch. The ranks are Web Workers over the shared-memory collective when
 * the page is cross-origin isolated, or in-process collectives in the page's one thread.
 */
import { abortSharedMemoryGroup, createInProcessGroup, createSharedMemoryGroup } from '@optimkit/zero';
import {
  type DataParallelPlan,
  type DataParallelRow,
  type RankResult,
  type SingleProcessResult,
  sharedTrainingSet,
  stepsAvailable,
  summarizeRanks,
  trainRank,
  trainSingleProcess,
  WORLD_SIZES,
} from '../data-parallel.js';
import type { MnistData } from '../mnist.js';
import { formatBytes } from '../stats.js';
import { BATCH_SIZE } from '../train-mnist.js';
import type { RankMessage, RankTask } from './rank-worker.js';

export interface DemoElements {
  section: HTMLElement;
  worldSize: HTMLSelectElement;
  /** Where the ranks run: `workers` or `page`. */
  mode: HTMLSelectElement;
  steps: HTMLInputElement;
  run: HTMLButtonElement;
  message: HTMLElement;
  ranks: HTMLTableSectionElement;
  summary: HTMLElement;
}

const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Fills the rank table and the summary with one run's row. */
function show(elements: DemoElements, row: DataParallelRow, singleBytes: number, steps: number): void {
  const total = row.stateBytes.reduce((a, b) => a + b, 0);
  elements.ranks.replaceChildren();
  row.stateBytes.forEach((bytes, rank) => {
    const tr = elements.ranks.insertRow();
    tr.dataset.rank = String(rank);
    tr.dataset.stateBytes = String(bytes);
    tr.insertCell().textContent = String(rank);
    tr.insertCell().textContent = row.owned[rank]!.join(', ') || 'nothing';
    const state = tr.insertCell();
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${(100 * bytes) / total}%`;
    const track = document.createElement('span');
    track.className = 'bar-track';
    track.append(bar);
    state.append(track, ` ${formatBytes(bytes)} (${((100 * bytes) / total).toFixed(1)} %)`);
    tr.insertCell().textContent = `${formatBytes(row.bytesSentPerStep[rank]!)} / ${formatBytes(row.bytesReceivedPerStep[rank]!)}`;
  });
  const { summary } = elements;
  summary.dataset.worldSize = String(row.worldSize);
  summary.dataset.stateBytes = JSON.stringify(row.stateBytes);
  summary.dataset.singleStateBytes = String(singleBytes);
  summary.dataset.ranksIdentical = String(row.ranksIdentical);
  summary.dataset.maxDifference = String(row.maxDifferenceToSingle);
  summary.dataset.loss = String(row.losses[row.losses.length - 1]);
  summary.textContent =
    `${row.worldSize} rank(s), ${steps} step(s) of ${BATCH_SIZE} digits: global-batch loss ` +
    `${row.losses[row.losses.length - 1]!.toFixed(4)} (first step ${row.losses[0]!.toFixed(4)}), test accuracy ` +
    `${(100 * row.testAccuracy).toFixed(2)} %. Optimizer state on the ranks: ${formatBytes(total)} in all ` +
    `(one process: ${formatBytes(singleBytes)}), ${formatBytes(Math.max(...row.stateBytes))} on the largest ` +
    `rank against ${formatBytes(Math.round(row.idealBytes))} for an even split. The ranks' weights ` +
    (row.ranksIdentical ? 'are identical, bit for bit' : 'DIFFER') +
    `; the largest difference to one process training on the whole batch is ${row.maxDifferenceToSingle.toExponential(2)}.`;
}

type Say = (text: string) => void;

/** Runs one task in a new Web Worker and resolves with its result; `onStep` sees its progress. */
function inWorker<T>(
  task: RankTask,
  onStep: (step: number) => void,
  onFailure: (reason: string) => void,
): Promise<T> {
  const worker = new Worker(new URL('./rank-worker.ts', import.meta.url), { type: 'module' });
  return new Promise<T>((resolve, reject) => {
    const fail = (reason: string) => {
      onFailure(reason);
      reject(new Error(reason));
    };
    worker.onmessage = (event: MessageEvent<RankMessage>) => {
      const message = event.data;
      if (message.kind === 'step') onStep(message.step);
      else if (message.kind === 'done') resolve(message.result as T);
      else fail(task.kind === 'rank' ? `rank ${task.rank}: ${message.message}` : message.message);
    };
    worker.onerror = (event) => fail(`a worker failed: ${event.message}`);
    worker.postMessage(task);
  }).finally(() => worker.terminate());
}

/** The reference and the ranks, each on its own Web Worker; the ranks share memory. */
async function trainInWorkers(
  data: MnistData,
  plan: DataParallelPlan,
  worldSize: number,
  backend: 'wasm' | 'cpu',
  say: Say,
) {
  const shared = sharedTrainingSet(data);
  const single = await inWorker<SingleProcessResult>(
    { kind: 'single', data: shared, plan, backend },
    (step) =>
      say(`One process on the whole batch (the reference, a worker): step ${step + 1} of ${plan.steps}…`),
    () => undefined,
  );
  const group = createSharedMemoryGroup(worldSize, { capacity: 1 << 18 });
  const ranks = await Promise.all(
    Array.from({ length: worldSize }, (_, rank) =>
      inWorker<RankResult>(
        { kind: 'rank', group, rank, data: shared, plan, backend },
        (step) => {
          if (rank === 0) say(`${worldSize} rank(s) on Web Workers: step ${step + 1} of ${plan.steps}…`);
        },
        // The other ranks' operations then fail at once instead of waiting for their timeout.
        (reason) => abortSharedMemoryGroup(group, reason),
      ),
    ),
  );
  return { single, ranks };
}

/** The reference and the ranks in this thread, the ranks as in-process collectives. */
async function trainInPage(data: MnistData, plan: DataParallelPlan, worldSize: number, say: Say) {
  const single = await trainSingleProcess(data, plan, async (step) => {
    say(`One process on the whole batch (the reference): step ${step + 1} of ${plan.steps}…`);
    await nextTask();
  });
  const ranks = await Promise.all(
    createInProcessGroup(worldSize).map((collective) =>
      trainRank(collective, data, plan, async (step) => {
        if (collective.rank !== 0) return;
        say(`${worldSize} rank(s) in this thread: step ${step + 1} of ${plan.steps}…`);
        await nextTask();
      }),
    ),
  );
  return { single, ranks };
}

/**
 * Wires the demo's controls; `data` is the page's MNIST digits, `backend` the page's (the workers
 * run it when it is wasm or cpu, else wasm).
 */
export function setUpDataParallel(elements: DemoElements, data: MnistData, backend: string): void {
  const limit = stepsAvailable(data, BATCH_SIZE);
  const workerBackend = backend === 'cpu' ? 'cpu' : 'wasm';
  for (const n of WORLD_SIZES) elements.worldSize.add(new Option(String(n), String(n)));
  elements.worldSize.value = '2';
  const workers = new Option(`Web Workers, a thread per rank (${workerBackend} backend)`, 'workers');
  workers.disabled = !globalThis.crossOriginIsolated;
  if (workers.disabled) workers.textContent = 'Web Workers (needs a cross-origin isolated page)';
  elements.mode.add(workers);
  elements.mode.add(new Option("this page's thread (in-process ranks)", 'page'));
  elements.mode.value = workers.disabled ? 'page' : 'workers';
  elements.steps.max = String(limit);
  const say = (text: string, kind: 'error' | 'info' = 'info') => {
    elements.message.textContent = text;
    elements.message.dataset.kind = kind;
  };
  elements.run.addEventListener('click', async () => {
    const worldSize = Number(elements.worldSize.value);
    const steps = Number(elements.steps.value);
    const mode = elements.mode.value;
    if (!Number.isInteger(steps) || steps < 1 || steps > limit) {
      return say(`Steps must be a whole number from 1 to ${limit} (one epoch of the digits).`, 'error');
    }
    const plan = { steps, batchSize: BATCH_SIZE, seed: 1 };
    elements.run.disabled = true;
    elements.section.dataset.state = 'training';
    try {
      const { single, ranks } =
        mode === 'workers'
          ? await trainInWorkers(data, plan, worldSize, workerBackend, say)
          : await trainInPage(data, plan, worldSize, say);
      show(elements, summarizeRanks(ranks, single, data, plan.seed), single.stateBytes, steps);
      elements.summary.dataset.mode = mode;
      say(
        `Trained ${steps} step(s) on ${worldSize} rank(s) ` +
          (mode === 'workers' ? `(${worldSize} Web Worker(s)) ` : "(in this page's thread) ") +
          'and once in one process.',
      );
      elements.section.dataset.state = 'done';
    } catch (error) {
      elements.section.dataset.state = 'error';
      say(error instanceof Error ? `${error.name}: ${error.message}` : String(error), 'error');
    } finally {
      elements.run.disabled = false;
    }
  });
  elements.run.disabled = false;
}
