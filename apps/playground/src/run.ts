import { useBackend } from './backend.js';
import { type CatalogEntry, catalog, classicExperiment, selectOptimizers } from './catalog.js';
import { stepsAvailable, WORLD_SIZES } from './data-parallel.js';
import { type DataParallelPart, runDataParallel } from './data-parallel-node.js';
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
import { BATCH_SIZE, type MnistRun, trainMnist } from './train-mnist.js';

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
  /** The data-parallel section (ZeRO on worker threads). */
  dataParallel: boolean;
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
  dataParallelSteps: 5,
} as const;

/** The data-parallel section's world sizes: 1 (unsharded), 2 and 4; 2 alone with --quick. */
export const DATA_PARALLEL_WORLD_SIZES = { full: WORLD_SIZES, quick: [2] } as const;

/**
 * One rank's data-parallel step costs about one MNIST step (measured on 2 shared cores, wasm: a
 * global step takes 29 ms at 1 rank, 41 ms at 2, 73 ms at 4, against 22 ms for an MNIST step).
 */
const RANK_STEP_COST = 1;

/** One surface step costs about this many MNIST steps (measured: 0.7 ms against 22 ms, 2 cores). */
const SURFACE_STEP_COST = 0.03;

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
  const stepsPerEpoch = Math.ceil(data.trainCount / BATCH_SIZE);
  const surfaceSteps = (steps: number) => (quick ? Math.min(QUICK.surfaceSteps, steps) : steps);
  const missing = (entry: CatalogEntry) =>
    surfaces.filter((s) => s.minimum && !recordedLearningRate(entry, s));

  const dataParallelPlan = {
    steps: quick ? QUICK.dataParallelSteps : stepsAvailable(data, BATCH_SIZE),
    batchSize: BATCH_SIZE,
    seed: 1,
  };
  const worldSizes = quick ? DATA_PARALLEL_WORLD_SIZES.quick : DATA_PARALLEL_WORLD_SIZES.full;
  const total =
    (options.dataParallel
      ? RANK_STEP_COST * dataParallelPlan.steps * (1 + worldSizes.reduce((a, n) => a + n, 0))
      : 0) +
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

  let dataParallel: DataParallelPart | null = null;
  if (options.dataParallel) {
    progress.say(
      `Data-parallel ZeRO AdamW: ${dataParallelPlan.steps} global batches of ${BATCH_SIZE} at ${worldSizes.join(', ')} rank(s) on worker threads` +
        (quick ? ' (quick: its figures mean nothing)' : ''),
    );
    dataParallel = await runDataParallel(data, dataParallelPlan, {
      worldSizes,
      backend: options.backend,
      onPhase: (label) => progress.phase(label),
      onSteps: (steps) => progress.advance(RANK_STEP_COST * steps),
    });
    for (const row of dataParallel.rows) {
      progress.say(
        `  ${row.worldSize} rank(s): state ${row.stateBytes.join(' + ')} bytes, median step ${row.medianStepMs.toFixed(1)} ms, ` +
          `ranks identical: ${row.ranksIdentical ? 'yes' : 'NO'}, max |difference| to one process ${row.maxDifferenceToSingle.toExponential(1)}`,
      );
    }
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
    dataParallel,
    entries: Object.fromEntries([...catalog, ...classicExperiment].map((e) => [e.name, info(e)])),
    elapsedMs: performance.now() - began,
  };
  const written = await writeReport(options.out, results);
  return { results, written };
}
