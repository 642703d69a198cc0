/**
 * A Web Worker of the data-parallel demo: one ZeRO rank over `@optimkit/zero`'s shared-memory
 * collective (the page is cross-origin isolated), or the single-process reference, on its own
 * thread and tfjs engine.
 */
import { connectSharedMemory, type SharedMemoryGroup } from '@optimkit/zero';
import * as tf from '@tensorflow/tfjs';
import { type DataParallelPlan, trainRank, trainSingleProcess } from '../data-parallel.js';
import type { MnistData } from '../mnist.js';
import { registerBackend } from './backends.js';

/** What the page asks of a worker. */
export type RankTask = { data: MnistData; plan: DataParallelPlan; backend: 'wasm' | 'cpu' } & (
  | { kind: 'rank'; group: SharedMemoryGroup; rank: number }
  | { kind: 'single' }
);

/** What a worker tells the page: a step done, its result, or why it failed. */
export type RankMessage =
  | { kind: 'step'; step: number }
  | { kind: 'done'; result: unknown }
  | { kind: 'error'; message: string };

const post = (message: RankMessage) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<RankTask>) => {
  const task = event.data;
  try {
    await registerBackend(task.backend);
    if (!(await tf.setBackend(task.backend)))
      throw new Error(`the ${task.backend} backend could not start in a worker`);
    await tf.ready();
    const onStep = (step: number) => post({ kind: 'step', step });
    if (task.kind === 'single') {
      post({ kind: 'done', result: await trainSingleProcess(task.data, task.plan, onStep) });
    } else {
      const collective = connectSharedMemory(task.group, task.rank);
      const result = await trainRank(collective, task.data, task.plan, onStep);
      await collective.close();
      post({ kind: 'done', result });
    }
  } catch (error) {
    post({
      kind: 'error',
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
};
