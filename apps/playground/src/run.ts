import * as tf from '@tensorflow/tfjs';
import { SingleBar } from 'cli-progress';
import { catalog, selectOptimizers } from './catalog.js';
import { loadMnist } from './mnist-node.js';
import { type Results, writeReport } from './report.js';
import { surfaces, trajectory } from './surfaces.js';
import { type MnistRun, trainMnist } from './train-mnist.js';

export interface RunOptions {
  quick: boolean;
  optimizers?: string[];
  epochs?: number;
  backend: 'cpu' | 'wasm';
  out: string;
  mnist: boolean;
  surfaces: boolean;
}

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend could not be initialised`);
  await tf.ready();
}

/** Runs the comparisons and writes the report; returns what was measured. */
export async function runComparisons(options: RunOptions): Promise<Results> {
  const entries = selectOptimizers(options.optimizers ?? []);
  await useBackend(options.backend);
  const epochs = options.epochs ?? (options.quick ? 1 : 3);
  const data = loadMnist(options.quick ? { limit: 1000 } : {});
  const mnist: MnistRun[] = [];
  if (options.mnist) {
    const steps = epochs * Math.ceil(data.trainCount / 64);
    console.log(
      `MNIST MLP 784-200-10: ${data.trainCount} train / ${data.testCount} test digits, ${epochs} epoch(s), backend ${options.backend}`,
    );
    for (const entry of entries) {
      const bar = new SingleBar({
        format: `${entry.label.padEnd(20)} {bar} {value}/{total} steps | loss {loss}`,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 5000,
      });
      bar.start(steps, 0, { loss: '-' });
      const run = await trainMnist(entry, data, {
        epochs,
        onStep: (loss) => bar.increment({ loss: loss.toFixed(4) }),
      });
      bar.stop();
      console.log(
        `  ${entry.label}: test accuracy ${(100 * run.testAccuracy).toFixed(2)} %, ${(run.msPerEpoch / 1000).toFixed(2)} s/epoch`,
      );
      mnist.push(run);
    }
  }
  const surfaceResults: Results['surfaces'] = [];
  if (options.surfaces) {
    for (const surface of surfaces) {
      const steps = options.quick ? Math.min(60, surface.steps) : surface.steps;
      const bar = new SingleBar({
        format: `${surface.label.slice(0, 20).padEnd(20)} {bar} {value}/{total} optimizers`,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 5000,
      });
      bar.start(entries.length, 0);
      const trajectories = entries.map((entry) => {
        const t = trajectory(entry, surface, steps);
        bar.increment();
        return t;
      });
      bar.stop();
      surfaceResults.push({ surface, trajectories });
    }
  }
  const results: Results = {
    backend: options.backend,
    epochs,
    trainCount: data.trainCount,
    testCount: data.testCount,
    mnist,
    surfaces: surfaceResults,
    labels: Object.fromEntries(catalog.map((e) => [e.name, e.label])),
  };
  const written = await writeReport(options.out, results);
  console.log(`report: ${written.join(', ')}`);
  return results;
}
