/**
 * Per-variable overhead: a step over many small variables, where the arithmetic is negligible and
 * what a step costs is its bookkeeping per variable (kernel dispatch, tensor tracking, lookups).
 * Models have hundreds of variables (biases, norms), so this decides small-model training speed.
 */
import { adamw } from '@optimkit/adam';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';
import { type Repetitions, timeSteps } from './measure.js';

/** One optimizer on `variables` variables of `size` elements each. */
export interface OverheadRow {
  backend: string;
  /** The optimizer, as called (or the tf.train one). */
  optimizer: string;
  /** The tf.train optimizer it is compared with. */
  tfTrain: string;
  variables: number;
  size: number;
  /** Microseconds per variable per step, optimkit and tf.train. */
  usPerVariable: number;
  tfTrainUsPerVariable: number;
  tensorsPerStep: number;
}

interface Case {
  optimizer: string;
  create: () => tf.Optimizer;
  tfTrain: string;
  createTfTrain: () => tf.Optimizer;
}

const CASES: readonly Case[] = [
  {
    optimizer: 'sgd({ momentum: 0.9 })',
    create: () => sgd({ momentum: 0.9 }),
    tfTrain: 'tf.train.momentum',
    createTfTrain: () => tf.train.momentum(1e-3, 0.9),
  },
  {
    optimizer: 'adamw()',
    create: () => adamw(),
    tfTrain: 'tf.train.adam',
    createTfTrain: () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8),
  },
];

let counter = 0;

async function timeOptimizer(
  create: () => tf.Optimizer,
  count: number,
  size: number,
  reps: Repetitions,
): Promise<{ usPerVariable: number; tensorsPerStep: number }> {
  counter += 1;
  const variables = Array.from({ length: count }, (_, i) =>
    tf.tidy(() => tf.variable(tf.randomNormal([size]), true, `benchOverhead${counter}/v${i}`)),
  );
  const grads = Object.fromEntries(variables.map((v) => [v.name, tf.randomNormal([size], 0, 1e-3)]));
  const optimizer = create();
  try {
    const timing = await timeSteps(
      () => optimizer.applyGradients(grads),
      () => {
        variables[count - 1]!.dataSync();
      },
      reps,
    );
    return { usPerVariable: (timing.msPerStep * 1000) / count, tensorsPerStep: timing.tensorsPerStep };
  } finally {
    optimizer.dispose();
    tf.dispose([...variables, ...Object.values(grads)]);
  }
}

/** What {@link measureOverhead} runs: `[variables, elements each]`, the first of 16 elements. */
export interface OverheadConfig {
  reps: Repetitions;
  configurations: readonly (readonly [number, number])[];
}

/** 500 variables of 16 elements (the overhead target), then larger ones for sgd with momentum. */
export const FULL_OVERHEAD: OverheadConfig = {
  reps: { warmupMs: 200, sampleMs: 50, minSamples: 5, maxSamples: 21, budgetMs: 800 },
  configurations: [
    [500, 16],
    [200, 256],
    [50, 4096],
    [8, 65536],
  ],
};

export const QUICK_OVERHEAD: OverheadConfig = {
  reps: { warmupMs: 20, sampleMs: 10, minSamples: 2, maxSamples: 3, budgetMs: 30 },
  configurations: [[50, 16]],
};

/**
 * Times each case on each backend: every case on variables of 16 elements (the per-variable
 * overhead), sgd with momentum also on the larger ones (optimkit ahead of tf.train at every size).
 */
export async function measureOverhead(
  backends: readonly string[],
  config: OverheadConfig,
): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  const previous: string | undefined = tf.getBackend();
  const { reps, configurations } = config;
  try {
    for (const backend of backends) {
      await tf.setBackend(backend);
      await tf.ready();
      for (const [count, size] of configurations) {
        for (const c of CASES) {
          if (size !== 16 && !c.optimizer.startsWith('sgd')) continue;
          const ours = await timeOptimizer(c.create, count, size, reps);
          const theirs = await timeOptimizer(c.createTfTrain, count, size, reps);
          rows.push({
            backend,
            optimizer: c.optimizer,
            tfTrain: c.tfTrain,
            variables: count,
            size,
            usPerVariable: ours.usPerVariable,
            tfTrainUsPerVariable: theirs.usPerVariable,
            tensorsPerStep: ours.tensorsPerStep,
          });
        }
      }
    }
  } finally {
    if (previous) await tf.setBackend(previous);
  }
  return rows;
}
