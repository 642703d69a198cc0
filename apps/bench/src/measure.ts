import * as tf from '@tensorflow/tfjs-core';

/** How long and how often one configuration is measured. */
export interface Repetitions {
  /** Untimed calls, the first (which creates the optimizer's state) included, until this much time has passed. */
  warmupMs: number;
  /** Each sample runs enough calls back to back to last about this long (at least one). */
  sampleMs: number;
  minSamples: number;
  maxSamples: number;
  /** Stop taking samples after this much time once `minSamples` are taken. */
  budgetMs: number;
}

export interface Timing {
  /** Median over the samples of the time per call. */
  msPerStep: number;
  samples: number;
  stepsPerSample: number;
  /** `tf.memory().numTensors` after the samples minus before, divided by the calls made. */
  tensorsPerStep: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times `step`. `finish` runs once after every sample's calls, inside the clock: it must make
 * sure the work is done (on tfjs's cpu and wasm backends kernels run synchronously, and reading
 * back one element proves it without timing a download of a whole tensor; on webgl and webgpu the
 * element is awaited, which waits for every queued kernel) and must not leak.
 * Calls run untimed for the warm-up (the first creates the optimizer's slots), then samples are
 * taken; the result is the median time per call.
 */
export async function timeSteps(
  step: () => void | Promise<void>,
  finish: () => void | Promise<void>,
  reps: Repetitions,
): Promise<Timing> {
  const run = async (calls: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < calls; i += 1) {
      const pending = step();
      if (pending) await pending;
    }
    const finished = finish();
    if (finished) await finished;
    return performance.now() - start;
  };
  // The first call creates the optimizer's state; it counts towards the warm-up but not as an
  // estimate. Steps slower than the warm-up are warm after it (their kernels ran long enough to be
  // compiled), which keeps the slowest composite paths to one untimed call.
  let warmed = await run(1);
  let estimate = warmed;
  let warmCalls = 0;
  while (warmed < reps.warmupMs && warmCalls < 10_000) {
    const calls = warmCalls === 0 ? 1 : Math.max(1, Math.min(1000, Math.round(reps.sampleMs / 4 / estimate)));
    const elapsed = await run(calls);
    estimate = warmCalls === 0 ? elapsed / calls : Math.min(estimate, elapsed / calls);
    warmed += elapsed;
    warmCalls += calls;
  }
  const stepsPerSample = Math.max(1, Math.min(10_000, Math.round(reps.sampleMs / Math.max(estimate, 1e-3))));
  const perStep: number[] = [];
  let spent = 0;
  const tensorsBefore = tf.memory().numTensors;
  while (perStep.length < reps.maxSamples && (perStep.length < reps.minSamples || spent < reps.budgetMs)) {
    const elapsed = await run(stepsPerSample);
    perStep.push(elapsed / stepsPerSample);
    spent += elapsed;
  }
  const tensorsAfter = tf.memory().numTensors;
  return {
    msPerStep: median(perStep),
    samples: perStep.length,
    stepsPerSample,
    tensorsPerStep: (tensorsAfter - tensorsBefore) / (perStep.length * stepsPerSample),
  };
}
