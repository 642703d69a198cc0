/**
 * The page's data-parallel demo: the MLP trained by 1, 2 or 4 ranks with ZeRO-sharded AdamW
 * (`trainRank` of `../data-parallel.ts`, as the Node report's worker threads run it), the ranks
 * being in-process collectives in this page's one thread, against one process on the whole batch.
 */
import { createInProcessGroup } from '@optimkit/zero';
import {
  type DataParallelRow,
  stepsAvailable,
  summarizeRanks,
  trainRank,
  trainSingleProcess,
  WORLD_SIZES,
} from '../data-parallel.js';
import type { MnistData } from '../mnist.js';
import { formatBytes } from '../stats.js';
import { BATCH_SIZE } from '../train-mnist.js';

export interface DemoElements {
  section: HTMLElement;
  worldSize: HTMLSelectElement;
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

/** Wires the demo's controls; `data` is the page's MNIST digits. */
export function setUpDataParallel(elements: DemoElements, data: MnistData): void {
  const limit = stepsAvailable(data, BATCH_SIZE);
  for (const n of WORLD_SIZES) elements.worldSize.add(new Option(String(n), String(n)));
  elements.worldSize.value = '2';
  elements.steps.max = String(limit);
  const say = (text: string, kind: 'error' | 'info') => {
    elements.message.textContent = text;
    elements.message.dataset.kind = kind;
  };
  elements.run.addEventListener('click', async () => {
    const worldSize = Number(elements.worldSize.value);
    const steps = Number(elements.steps.value);
    if (!Number.isInteger(steps) || steps < 1 || steps > limit) {
      return say(`Steps must be a whole number from 1 to ${limit} (one epoch of the digits).`, 'error');
    }
    const plan = { steps, batchSize: BATCH_SIZE, seed: 1 };
    elements.run.disabled = true;
    elements.section.dataset.state = 'training';
    try {
      say(`One process on the whole batch (the reference): step 1 of ${steps}…`, 'info');
      const single = await trainSingleProcess(data, plan, async (step) => {
        say(`One process on the whole batch (the reference): step ${step + 1} of ${steps}…`, 'info');
        await nextTask();
      });
      const ranks = await Promise.all(
        createInProcessGroup(worldSize).map((collective) =>
          trainRank(collective, data, plan, async (step) => {
            if (collective.rank !== 0) return;
            say(`${worldSize} rank(s): step ${step + 1} of ${steps}…`, 'info');
            await nextTask();
          }),
        ),
      );
      show(elements, summarizeRanks(ranks, single, data, plan.seed), single.stateBytes, steps);
      say(`Trained ${steps} step(s) on ${worldSize} rank(s) and once in one process.`, 'info');
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
