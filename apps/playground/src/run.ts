import * as tf from '@tensorflow/tfjs';
import { type CatalogEntry, catalog, classicExperiment, selectOptimizers } from './catalog.js';
import { loadMnist } from './mnist-node.js';
import { Progress } from './progress.js';
import {
  type EntryInfo,
  type MnistPart,
  prepareReportDirectory,
  type Results,
  type SurfaceResult,
  writeReport,
} from './report.js';
import {
  LEARNING_RATE_GRID,
  recordedLearningRate,
  type SearchResult,
  searchLearningRate,
  surfaces,
  trajectory,
} from './surfaces.js';
import { type MnistRun, trainMnist } from './train-mnist.js';

export interface RunOptions {
  quick: boolean;
  optimizers?: string[];
  /** Epochs of the main comparison (the classic experiment always runs 5, or 1 with --quick). */
  epochs?: number;
  seeds?: number;
  backend: 'cpu' | 'wasm';
  /** An absolute directory. */
  out: string;
  classic: boolean;
  mnist: boolean;
  surfaces: boolean;
}

/** Defaults, chosen so that the full run stays near ten minutes on two shared cores. */
export const DEFAULTS = { epochs: 1, seeds: 3, classicEpochs: 5, lossEvery: 30 } as const;
export const QUICK = {
  limit: 1000,
  epochs: 1,
  seeds: 2,
  classicEpochs: 1,
  lossEvery: 5,
  surfaceSteps: 60,
} as const;

/** One surface step costs about this many MNIST steps (measured: 0.7 ms against 22 ms, 2 cores). */
const SURFACE_STEP_COST = 0.03;

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend could not be initialised`);
  await tf.ready();
}

const info = (e: CatalogEntry): EntryInfo => ({
  label: e.label,
  family: e.family,
  source: e.source,
  hyperparameters: e.hyperparameters,
});

/** Runs the comparisons and writes the report; returns what was measured and the files written. */
export async function runComparisons(options: RunOptions): Promise<{ results: Results; written: string[] }> {
  const began = performance.now();
  const entries = selectOptimizers(options.optimizers ?? []);
  // Before the long part: a folder that cannot take the report fails now, not after the run.
  await prepareReportDirectory(options.out);
  const quick = options.quick;
  const seeds = options.seeds ?? (quick ? QUICK.seeds : DEFAULTS.seeds);
  const epochs = options.epochs ?? (quick ? QUICK.epochs : DEFAULTS.epochs);
  const classicEpochs = quick ? QUICK.classicEpochs : DEFAULTS.classicEpochs;
  const lossEvery = quick ? QUICK.lossEvery : DEFAULTS.lossEvery;
  await useBackend(options.backend);
  const data = loadMnist(quick ? { limit: QUICK.limit } : {});
  const stepsPerEpoch = Math.ceil(data.trainCount / 64);
  const surfaceSteps = (steps: number) => (quick ? Math.min(QUICK.surfaceSteps, steps) : steps);
  const missing = (entry: CatalogEntry) =>
    surfaces.filter((s) => s.minimum && !recordedLearningRate(entry, s));

  const total =
    (options.classic ? classicExperiment.length * seeds * classicEpochs * stepsPerEpoch : 0) +
    (options.mnist ? entries.length * seeds * epochs * stepsPerEpoch : 0) +
    (options.surfaces
      ? entries.reduce(
          (sum, e) =>
            sum +
            SURFACE_STEP_COST *
              (surfaces.reduce((a, s) => a + surfaceSteps(s.steps), 0) +
                missing(e).reduce((a, s) => a + LEARNING_RATE_GRID.length * surfaceSteps(s.steps), 0)),
          0,
        )
      : 0);
  const progress = new Progress(total);
  progress.say(
    `MNIST MLP 784-200-10: ${data.trainCount} train / ${data.testCount} test digits, batch 64, ` +
      `${seeds} seed(s), backend ${options.backend}${quick ? ' (quick: the rankings of this run mean nothing)' : ''}`,
  );

  const trainPart = async (
    part: string,
    list: readonly CatalogEntry[],
    partEpochs: number,
  ): Promise<MnistPart> => {
    const runs: MnistRun[] = [];
    for (const [k, entry] of list.entries()) {
      for (let seed = 1; seed <= seeds; seed++) {
        progress.phase(
          `${part}: ${entry.label}, seed ${seed}/${seeds} (optimizer ${k + 1} of ${list.length})`,
        );
        const run = await trainMnist(entry, data, {
          epochs: partEpochs,
          seed,
          lossEvery,
          onStep: () => progress.advance(1),
        });
        runs.push(run);
      }
      const mine = runs.filter((r) => r.optimizer === entry.name);
      const accuracies = mine.map((r) => `${(100 * r.testAccuracy).toFixed(2)}`).join(', ');
      const seconds = mine.map((r) => (r.trainMs / 1000).toFixed(1)).join(', ');
      progress.say(
        `  ${entry.label}: test accuracy ${accuracies} % (seeds 1–${seeds}), training ${seconds} s`,
      );
    }
    return { epochs: partEpochs, runs };
  };

  let classic: MnistPart | null = null;
  if (options.classic) {
    progress.say(`The classic experiment: ${classicExperiment.length} optimizers, ${classicEpochs} epoch(s)`);
    classic = await trainPart('classic', classicExperiment, classicEpochs);
  }
  let comparison: MnistPart | null = null;
  if (options.mnist) {
    progress.say(`Every optimizer: ${entries.length} optimizers, ${epochs} epoch(s)`);
    comparison = await trainPart('comparison', entries, epochs);
  }

  const surfaceResults: SurfaceResult[] = [];
  if (options.surfaces) {
    // Scalar variables: the cpu backend has the least overhead per op.
    await useBackend('cpu');
    const searched: Record<string, Record<string, SearchResult>> = {};
    const searchedNow: string[] = [];
    for (const [k, entry] of entries.entries()) {
      for (const surface of missing(entry)) {
        progress.phase(
          `learning-rate search: ${entry.label} on ${surface.name} (optimizer ${k + 1} of ${entries.length})`,
        );
        const steps = surfaceSteps(surface.steps);
        searched[surface.name] ??= {};
        searched[surface.name]![entry.name] = searchLearningRate(entry, surface, steps);
        progress.advance(SURFACE_STEP_COST * LEARNING_RATE_GRID.length * steps);
        if (!searchedNow.includes(entry.name)) searchedNow.push(entry.name);
      }
    }
    if (searchedNow.length > 0) {
      progress.say(
        `  searched learning rates now for ${searchedNow.join(', ')} (not in src/surface-learning-rates.json; ` +
          'record them with `pnpm --filter @optimkit/playground tune`)',
      );
    }
    for (const surface of surfaces) {
      const from = surface.learningRateFrom ?? surface.name;
      const search: SurfaceResult['search'] = {};
      const trajectories = entries.map((entry, k) => {
        progress.phase(`surface ${surface.name}: ${entry.label} (optimizer ${k + 1} of ${entries.length})`);
        const recorded = recordedLearningRate(entry, surface);
        const result = recorded ?? searched[from]?.[entry.name];
        if (!result) throw new Error(`no learning rate for ${entry.name} on ${surface.name}`);
        search[entry.name] = { ...result, searchedNow: !recorded };
        const steps = surfaceSteps(surface.steps);
        const t = trajectory(entry, surface, result.learningRate, steps);
        progress.advance(SURFACE_STEP_COST * steps);
        return t;
      });
      surfaceResults.push({ surface, trajectories, search });
    }
    await useBackend(options.backend);
  }
  progress.stop();

  const results: Results = {
    quick,
    backend: options.backend,
    seeds,
    lossEvery,
    trainCount: data.trainCount,
    testCount: data.testCount,
    classic,
    comparison,
    surfaces: surfaceResults,
    entries: Object.fromEntries([...catalog, ...classicExperiment].map((e) => [e.name, info(e)])),
    elapsedMs: performance.now() - began,
  };
  const written = await writeReport(options.out, results);
  return { results, written };
}
