import * as tf from '@tensorflow/tfjs';
import { clearBandwidthCache, measureBandwidth, type VariableLayout } from './bandwidth.js';
import { type FusionControl, fusionControl, runsFused, withoutFusion } from './fusion.js';
import { describeMachine, type Machine } from './machine.js';
import { type Repetitions, type Timing, timeSteps } from './measure.js';
import { timeMlpStep } from './mlp.js';
import { type BenchOptimizer, type Inspectable, selectOptimizers } from './optimizers.js';
import {
  FULL_OVERHEAD,
  measureOverhead,
  type OverheadConfig,
  type OverheadRow,
  QUICK_OVERHEAD,
} from './overhead.js';
import { evaluateTargets, type Target } from './targets.js';

export type Backend = 'cpu' | 'wasm';

export interface BenchConfig {
  /** Names the results files: `<name>.md`, `<name>.json`. */
  name: string;
  backends: Backend[];
  /** Total parameters per configuration: one matrix and one vector whose sizes sum to it. */
  sizes: number[];
  /** Catalog names (see `optimizers.ts`); empty for all. */
  optimizers: string[];
  /** Repetitions of the optimizer steps. */
  reps: Repetitions;
  /** Repetitions of the bandwidth references. */
  referenceReps: Repetitions;
  /** Repetitions of the MLP step, or `null` to skip it. */
  mlp: Repetitions | null;
  /** The per-variable overhead runs, or `null` to skip them. */
  overhead: OverheadConfig | null;
}

export const FULL_CONFIG: BenchConfig = {
  name: 'latest',
  backends: ['cpu', 'wasm'],
  sizes: [1e4, 1e6, 4e6],
  optimizers: [],
  reps: { warmupMs: 150, sampleMs: 25, minSamples: 3, maxSamples: 15, budgetMs: 400 },
  referenceReps: { warmupMs: 100, sampleMs: 25, minSamples: 7, maxSamples: 21, budgetMs: 300 },
  mlp: { warmupMs: 300, sampleMs: 0, minSamples: 7, maxSamples: 25, budgetMs: 1500 },
  overhead: FULL_OVERHEAD,
};

export const QUICK_CONFIG: BenchConfig = {
  name: 'quick',
  backends: ['cpu', 'wasm'],
  sizes: [1e4, 1e5],
  optimizers: [],
  reps: { warmupMs: 30, sampleMs: 10, minSamples: 2, maxSamples: 5, budgetMs: 60 },
  referenceReps: { warmupMs: 30, sampleMs: 10, minSamples: 3, maxSamples: 5, budgetMs: 60 },
  mlp: { warmupMs: 0, sampleMs: 0, minSamples: 2, maxSamples: 3, budgetMs: 0 },
  overhead: QUICK_OVERHEAD,
};

/** One optimizer on one backend at one size. */
export interface Row {
  backend: Backend;
  optimizer: string;
  label: string;
  parameters: number;
  shapes: number[][];
  /**
   * Whether `msPerStep` ran the optimizer's fused kernel; `false` when it has none for this backend,
   * `null` when the core has no fused kernels at all.
   */
  fused: boolean | null;
  msPerStep: number;
  mParamsPerSec: number;
  samples: number;
  stepsPerSample: number;
  tensorsPerStep: number;
  stateBytesPerParam: number;
  /** The same optimizer with fused kernels off (the composite-op path), when `fused`. */
  composite: { msPerStep: number; tensorsPerStep: number; speedup: number } | null;
  tfTrain: { name: string; msPerStep: number; tensorsPerStep: number; speedup: number } | null;
  bandwidth: {
    bytesPerStep: number;
    /** Bytes touched by the optimizer's step / its time. */
    gbPerSec: number;
    /** The reference: a WebAssembly SIMD pass with the same reads and writes, measured right after the optimizer. */
    referenceMsPerStep: number;
    referenceGbPerSec: number;
    /** Reference time / optimizer time: the fraction of the memory bandwidth reached. */
    fraction: number;
    /** A JavaScript Float32Array loop with the same reads and writes, and its time over the optimizer's. */
    loopGbPerSec: number;
    loopFraction: number;
    /** A native copy (`TypedArray.prototype.set`) of as many bytes, and its time over the optimizer's. */
    copyGbPerSec: number;
    copyFraction: number;
  };
}

export interface MlpRow {
  backend: Backend;
  optimizer: string;
  parameters: number;
  batch: number;
  msPerStep: number;
  samples: number;
  tensorsPerStep: number;
}

export interface BenchResults {
  machine: Machine;
  config: BenchConfig;
  fusion: string | null;
  durationSec: number;
  rows: Row[];
  mlp: MlpRow[];
  /** Per-variable overhead (absent in results written before it was measured). */
  overhead?: OverheadRow[];
  targets: Target[];
}

/** A matrix of about √n columns and a vector of the rest: rank 2 for the factored optimizers. */
export function shapesFor(parameters: number): number[][] {
  const columns = Math.max(1, Math.round(Math.sqrt(parameters)));
  const rows = Math.floor((parameters - columns) / columns);
  const vector = parameters - rows * columns;
  return rows > 0 ? [[rows, columns], [vector]] : [[parameters]];
}

async function useBackend(backend: Backend): Promise<void> {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend could not be initialised`);
  await tf.ready();
}

interface Problem {
  variables: tf.Variable[];
  initial: tf.Tensor[];
  grads: tf.NamedTensorMap;
  /** Reads one element of the last variable: proves the step is done without a big download. */
  finish: () => void;
  reset: () => void;
  dispose: () => void;
}

function makeProblem(backend: Backend, parameters: number): Problem {
  const shapes = shapesFor(parameters);
  const initial = shapes.map((shape, i) => tf.randomNormal(shape, 0, 0.1, 'float32', 11 + i));
  const variables = initial.map((value, i) =>
    tf.variable(value, true, `bench/${backend}/${parameters}/v${i}`),
  );
  const grads: tf.NamedTensorMap = {};
  shapes.forEach((shape, i) => {
    grads[variables[i]!.name] = tf.randomNormal(shape, 0, 0.01, 'float32', 23 + i);
  });
  const last = variables[variables.length - 1]!;
  const origin = last.shape.map(() => 0);
  const one = last.shape.map(() => 1);
  return {
    variables,
    initial,
    grads,
    finish: () => {
      const element = tf.slice(last, origin, one);
      element.dataSync();
      element.dispose();
    },
    reset: () => {
      variables.forEach((v, i) => {
        v.assign(initial[i]!);
      });
    },
    dispose: () => {
      tf.dispose([...variables, ...initial, ...Object.values(grads)]);
    },
  };
}

async function timeOptimizer(
  problem: Problem,
  create: () => tf.Optimizer,
  reps: Repetitions,
  inspect?: (optimizer: tf.Optimizer) => void,
): Promise<Timing> {
  problem.reset();
  const optimizer = create();
  try {
    const timing = await timeSteps(() => optimizer.applyGradients(problem.grads), problem.finish, reps);
    inspect?.(optimizer);
    return timing;
  } finally {
    optimizer.dispose();
  }
}

async function measureRow(
  backend: Backend,
  parameters: number,
  problem: Problem,
  entry: BenchOptimizer,
  config: BenchConfig,
  fusion: FusionControl | null,
  tfTrainTimings: Map<string, Timing>,
): Promise<Row> {
  const { reps } = config;
  let layout: VariableLayout[] = [];
  let stateBytes = 0;
  let fused = false;
  const timing = await timeOptimizer(problem, entry.create, reps, (optimizer) => {
    fused = runsFused(optimizer, backend, fusion);
    const optimkit = optimizer as Inspectable;
    stateBytes = optimkit.stateBytes();
    layout = problem.variables.map((v) => ({
      size: v.size,
      slots: Object.values(optimkit.getSlots(v.name) ?? {}).map((slot) => slot.size),
    }));
  });
  const composite =
    fusion && fused ? await withoutFusion(fusion, () => timeOptimizer(problem, entry.create, reps)) : null;
  let tfTrain: Row['tfTrain'] = null;
  if (entry.tfTrain) {
    let reference = tfTrainTimings.get(entry.tfTrain.name);
    if (!reference) {
      reference = await timeOptimizer(problem, entry.tfTrain.create, reps);
      tfTrainTimings.set(entry.tfTrain.name, reference);
    }
    tfTrain = {
      name: entry.tfTrain.name,
      msPerStep: reference.msPerStep,
      tensorsPerStep: reference.tensorsPerStep,
      speedup: reference.msPerStep / timing.msPerStep,
    };
  }
  const bandwidth = await measureBandwidth(layout, config.referenceReps);
  return {
    backend,
    optimizer: entry.name,
    label: entry.label,
    parameters,
    shapes: problem.variables.map((v) => [...v.shape]),
    fused: fusion ? fused : null,
    msPerStep: timing.msPerStep,
    mParamsPerSec: parameters / (timing.msPerStep * 1e3),
    samples: timing.samples,
    stepsPerSample: timing.stepsPerSample,
    tensorsPerStep: timing.tensorsPerStep,
    stateBytesPerParam: stateBytes / parameters,
    composite: composite
      ? {
          msPerStep: composite.msPerStep,
          tensorsPerStep: composite.tensorsPerStep,
          speedup: composite.msPerStep / timing.msPerStep,
        }
      : null,
    tfTrain,
    bandwidth: {
      bytesPerStep: bandwidth.bytesPerStep,
      gbPerSec: bandwidth.bytesPerStep / (timing.msPerStep * 1e6),
      referenceMsPerStep: bandwidth.stream.msPerStep,
      referenceGbPerSec: bandwidth.stream.gbPerSec,
      fraction: bandwidth.stream.msPerStep / timing.msPerStep,
      loopGbPerSec: bandwidth.loop.gbPerSec,
      loopFraction: bandwidth.loop.msPerStep / timing.msPerStep,
      copyGbPerSec: bandwidth.copy.gbPerSec,
      copyFraction: bandwidth.copy.msPerStep / timing.msPerStep,
    },
  };
}

function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(4);
}

/** Runs the benchmark; `log` receives one line per measurement. */
export async function runBench(
  config: BenchConfig,
  log: (line: string) => void = () => {},
): Promise<BenchResults> {
  const started = performance.now();
  const entries = selectOptimizers(config.optimizers);
  const fusion = fusionControl();
  log(
    `fused kernels: ${fusion ? `on, composite path measured with ${fusion.describe}` : 'not available in @optimkit/core: composite path only'}`,
  );
  // First, as in a training process: measured after dozens of other optimizers' rows (their
  // garbage on the heap, the shared step code megamorphic), every per-variable figure was slower,
  // tf.train's too (tf.train.momentum 38.7 µs per variable against 22–27 in a fresh process).
  // Registers the wasm backend (imported on first use) before the overhead switches to it.
  for (const backend of config.backends) await useBackend(backend);
  const overhead = config.overhead ? await measureOverhead(config.backends, config.overhead) : [];
  for (const o of overhead) {
    log(
      `${o.backend} overhead ${o.optimizer} ${o.variables}×${o.size}: ${o.usPerVariable.toFixed(2)} µs/variable, ` +
        `${o.tfTrain} ${o.tfTrainUsPerVariable.toFixed(2)}`,
    );
  }
  const rows: Row[] = [];
  const mlp: MlpRow[] = [];
  for (const backend of config.backends) {
    await useBackend(backend);
    for (const parameters of config.sizes) {
      const problem = makeProblem(backend, parameters);
      const tfTrainTimings = new Map<string, Timing>();
      try {
        for (const entry of entries) {
          const reason = entry.notOn?.[backend];
          if (reason !== undefined) {
            log(`${backend} ${parameters.toExponential(0)} ${entry.name}: not timed (${reason})`);
            continue;
          }
          const limit = entry.maxParameters?.[backend];
          if (limit !== undefined && parameters > limit) {
            log(
              `${backend} ${parameters.toExponential(0)} ${entry.name}: not timed (above its ${limit.toExponential(0)} on ${backend})`,
            );
            continue;
          }
          const row = await measureRow(backend, parameters, problem, entry, config, fusion, tfTrainTimings);
          rows.push(row);
          log(
            `${backend} ${parameters.toExponential(0)} ${entry.name}: ${formatMs(row.msPerStep)} ms/step` +
              (row.composite ? `, composite ${formatMs(row.composite.msPerStep)} ms` : '') +
              (row.tfTrain ? `, ${row.tfTrain.name} ${formatMs(row.tfTrain.msPerStep)} ms` : '') +
              `, reference ${formatMs(row.bandwidth.referenceMsPerStep)} ms, ${row.tensorsPerStep} tensors/step`,
          );
        }
      } finally {
        problem.dispose();
      }
    }
    if (config.mlp) {
      const candidates: { name: string; create: () => tf.Optimizer; composite?: boolean }[] = [
        { name: 'adamw()', create: () => selectOptimizers(['adamw'])[0]!.create() },
        { name: 'adam()', create: () => selectOptimizers(['adam'])[0]!.create() },
        { name: 'tf.train.adam', create: () => tf.train.adam(1e-3) },
      ];
      if (runsFused(candidates[0]!.create(), backend, fusion)) {
        candidates.splice(1, 0, { ...candidates[0]!, name: 'adamw() composite', composite: true });
      }
      for (const candidate of candidates) {
        const reps = config.mlp;
        const timing = candidate.composite
          ? await withoutFusion(fusion!, () => timeMlpStep(candidate.create, reps))
          : await timeMlpStep(candidate.create, reps);
        mlp.push({
          backend,
          optimizer: candidate.name,
          parameters: timing.parameters,
          batch: 64,
          msPerStep: timing.msPerStep,
          samples: timing.samples,
          tensorsPerStep: timing.tensorsPerStep,
        });
        log(
          `${backend} MLP ${candidate.name}: ${formatMs(timing.msPerStep)} ms/step, ${timing.tensorsPerStep} tensors/step`,
        );
      }
    }
  }
  clearBandwidthCache();
  const machine = await describeMachine(config.backends);
  return {
    machine,
    config,
    fusion: fusion?.describe ?? null,
    durationSec: (performance.now() - started) / 1000,
    rows,
    mlp,
    overhead,
    targets: evaluateTargets(rows, mlp, overhead),
  };
}
