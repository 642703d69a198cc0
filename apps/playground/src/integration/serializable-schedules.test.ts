import { adamw } from '@optimkit/adam';
import { getRegisteredSchedule, loadOptimizer, type OptimkitOptimizer } from '@optimkit/core';
import { lion } from '@optimkit/lion';
import {
  constant,
  cosineDecay,
  cosineWarmRestarts,
  cyclic,
  exponential,
  join,
  lambdaSchedule,
  linear,
  multiplicative,
  multiStep,
  oneCycle,
  polynomial,
  reduceOnPlateau,
  registerScheduleFactor,
  stepDecay,
  swaLearningRate,
  warmupCosine,
  warmupStableDecay,
} from '@optimkit/schedules';
import { resumeThroughLayers } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

// Factor functions are saved by name: registered here, as an application registers them in the
// module that defines them, before anything is restored.
registerScheduleFactor('serializable/inverseSqrt', (t, o) =>
  Math.min((t + 1) / Number(o.warmup), Math.sqrt(Number(o.warmup) / (t + 1))),
);
registerScheduleFactor('serializable/decayUntil', (t, o) => (t < Number(o.until) ? Number(o.rate) : 1));

/** Every schedule of @optimkit/schedules, by its scheduleName, with options that exercise it. */
const SCHEDULES = {
  constant: () => constant({ value: 3e-3 }),
  linear: () => linear({ initValue: 1e-3, endValue: 1e-4, transitionSteps: 7, transitionBegin: 2 }),
  polynomial: () => polynomial({ initValue: 1e-2, endValue: 1e-4, power: 2, transitionSteps: 9 }),
  exponential: () => exponential({ initValue: 1e-2, decayRate: 0.5, transitionSteps: 3, staircase: true }),
  stepDecay: () => stepDecay({ initValue: 1e-2, stepSize: 4, gamma: 0.3 }),
  multiStep: () => multiStep({ initValue: 1e-2, milestones: [2, 5], gamma: 0.1 }),
  cosineDecay: () => cosineDecay({ initValue: 1e-2, decaySteps: 10, alpha: 0.1 }),
  warmupCosine: () => warmupCosine({ initValue: 0, peakValue: 1e-2, warmupSteps: 3, decaySteps: 12 }),
  cosineWarmRestarts: () => cosineWarmRestarts({ initValue: 1e-2, period: 4, periodMultiplier: 2 }),
  oneCycle: () => oneCycle({ maxValue: 1e-2, totalSteps: 12 }).learningRate,
  oneCycleMomentum: () => oneCycle({ maxValue: 1e-2, totalSteps: 12 }).momentum,
  cyclic: () =>
    cyclic({ baseValue: 1e-3, maxValue: 1e-2, stepSizeUp: 3, stepSizeDown: 5, mode: 'triangular2' }),
  warmupStableDecay: () =>
    warmupStableDecay({
      initValue: 0,
      peakValue: 1e-2,
      warmupSteps: 3,
      stableSteps: 6,
      decaySteps: 8,
      endValue: 1e-4,
      decayShape: '1-sqrt',
    }),
  lambdaSchedule: () =>
    lambdaSchedule({ initValue: 1e-2, factor: 'serializable/inverseSqrt', factorOptions: { warmup: 4 } }),
  multiplicative: () =>
    multiplicative({
      initValue: 1e-2,
      factor: 'serializable/decayUntil',
      factorOptions: { rate: 0.8, until: 9 },
      factorSteps: 9,
    }),
  swaLearningRate: () =>
    swaLearningRate({
      before: cosineDecay({ initValue: 1e-2, decaySteps: 16 }),
      swaStart: 8,
      swaLearningRate: 2e-3,
      annealSteps: 5,
      anneal: 'linear',
    }),
  join: () =>
    join(
      [
        linear({ initValue: 0, endValue: 1e-2, transitionSteps: 3 }),
        cosineDecay({ initValue: 1e-2, decaySteps: 9 }),
      ],
      [3],
    ),
} as const;

/** The schedules added for issue 18, each also round-tripped through loadOptimizer and loadLayersModel. */
const NEW_SCHEDULES = [
  'cyclic',
  'warmupStableDecay',
  'lambdaSchedule',
  'multiplicative',
  'swaLearningRate',
] as const;

const warnings: string[] = [];
const originalWarn = console.warn;
function captureWarnings(): void {
  warnings.length = 0;
  // tfjs's own banner (no tfjs-node) is not about schedules.
  console.warn = (message: unknown) => {
    if (String(message).startsWith('optimkit')) warnings.push(String(message));
  };
}
afterEach(() => {
  console.warn = originalWarn;
});

/** A config as it travels in a saved model: through JSON. */
const viaJson = (config: tf.serialization.ConfigDict) =>
  JSON.parse(JSON.stringify(config)) as tf.serialization.ConfigDict;

/** The learning rate (top level) and beta1 (first param group) an optimizer uses at each step. */
function hyperparameterSeries(
  optimizer: { hyperparametersAt(step: number): readonly object[] },
  steps: number,
): number[][] {
  return Array.from({ length: steps }, (_, step) => {
    const [top, group] = optimizer.hyperparametersAt(step) as unknown as {
      learningRate: number;
      beta1: number;
    }[];
    return [top!.learningRate, group!.beta1];
  });
}

describe('schedules survive serialization, as Keras LearningRateSchedules do', () => {
  it('registers every schedule of @optimkit/schedules with core on import', () => {
    for (const name of [...Object.keys(SCHEDULES), 'reduceOnPlateau']) {
      expect(getRegisteredSchedule(name)?.packageName, name).toBe('@optimkit/schedules');
    }
  });

  it.each(Object.keys(SCHEDULES) as (keyof typeof SCHEDULES)[])(
    '%s: getConfig records name and config, fromConfig rebuilds it with the same values',
    (name) => {
      captureWarnings();
      const make = SCHEDULES[name];
      const optimizer = adamw({ learningRate: make(), paramGroups: [{ params: ['nothing'], beta1: 0.9 }] });
      const config = viaJson(optimizer.getConfig());
      expect(config.learningRate).toMatchObject({
        schedule: name,
        package: '@optimkit/schedules',
        config: JSON.parse(JSON.stringify(make().scheduleConfig)),
        step: 0,
      });
      const AdamW = optimizer.constructor as typeof OptimkitOptimizer & {
        fromConfig(cls: unknown, config: tf.serialization.ConfigDict): OptimkitOptimizer;
      };
      const restored = AdamW.fromConfig(AdamW, config);
      const reference = make();
      const series = hyperparameterSeries(restored, 20).map(([lr]) => lr);
      expect(series).toEqual(Array.from({ length: 20 }, (_, t) => reference(t)));
      expect(new Set(series).size, 'the schedule varies (so a constant could not pass)').toBeGreaterThan(
        name === 'constant' ? 0 : 1,
      );
      // Bounded cost at any step: a restored schedule evaluated at step 1e9 answers, finite.
      expect(Number.isFinite(restored.hyperparametersAt(1e9)[0]!.learningRate)).toBe(true);
      expect(warnings).toEqual([]);
      optimizer.dispose();
      restored.dispose();
    },
  );

  it.each(['join', ...NEW_SCHEDULES] as const)(
    'loadOptimizer restores %s on the top level and a schedule in a param group, resuming bit-identically',
    async (name) => {
      captureWarnings();
      const w = tf.variable(
        tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]),
        true,
        `serializable-schedules/${name}/w`,
      );
      const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, `serializable-schedules/${name}/b`);
      const initial = [w.clone(), b.clone()] as const;
      const grads = (i: number) => ({
        [w.name]: tf.tensor2d([Math.sin(i), Math.cos(i), 0.3 * i - 1, 0.5], [2, 2]),
        [b.name]: tf.tensor1d([Math.cos(2 * i), -0.1 * i]),
      });
      const make = () =>
        adamw({
          learningRate: SCHEDULES[name](),
          paramGroups: [{ params: [b], beta1: SCHEDULES.oneCycleMomentum(), weightDecay: 0 }],
        });
      const run = (optimizer: { applyGradients(g: tf.NamedTensorMap): void }, from: number, to: number) => {
        for (let i = from; i < to; i++) {
          const g = grads(i);
          optimizer.applyGradients(g);
          tf.dispose(Object.values(g));
        }
      };
      const straight = make();
      run(straight, 0, 14);
      const expected = [Array.from(w.dataSync()), Array.from(b.dataSync())];
      straight.dispose();

      w.assign(initial[0]);
      b.assign(initial[1]);
      const first = make();
      run(first, 0, 6);
      const bytes = await first.saveState();
      first.dispose();
      // No schedule given again: the state alone says what they were.
      const restored = (await loadOptimizer(bytes)) as OptimkitOptimizer;
      expect(warnings).toEqual([]);
      expect(hyperparameterSeries(restored, 14)).toEqual(hyperparameterSeries(make(), 14));
      run(restored, 6, 14);
      expect([Array.from(w.dataSync()), Array.from(b.dataSync())]).toEqual(expected);
      restored.dispose();
      tf.dispose([w, b, ...initial]);
    },
  );

  it('a factor that is not registered when restoring is named, with how to register it', () => {
    captureWarnings();
    const optimizer = adamw({ learningRate: SCHEDULES.multiplicative() });
    const config = viaJson(optimizer.getConfig()) as Record<string, unknown>;
    const record = config.learningRate as { config: { factor: string } };
    record.config.factor = 'serializable/notRegistered';
    const AdamW = optimizer.constructor as unknown as {
      fromConfig(cls: unknown, config: tf.serialization.ConfigDict): OptimkitOptimizer;
    };
    const restored = AdamW.fromConfig(AdamW, config as tf.serialization.ConfigDict);
    expect(restored.hyperparametersAt(3)[0]).toMatchObject({ learningRate: 1e-2 });
    expect(warnings).toEqual([
      "optimkit: learningRate of OptimkitAdamW was the schedule 'multiplicative' when saved; it is restored as the constant 0.01 (it could not be rebuilt: multiplicative: no factor is registered as 'serializable/notRegistered'; call registerScheduleFactor('serializable/notRegistered', fn) before making or restoring this schedule)",
    ]);
    optimizer.dispose();
    restored.dispose();
  });

  it('a plateau controller comes back with its state (its value, not the initial one)', async () => {
    captureWarnings();
    const v = tf.variable(tf.tensor1d([1, -1]), true, 'serializable-schedules/plateau');
    const plateau = reduceOnPlateau({ initValue: 0.01, patience: 0, factor: 0.5 });
    const optimizer = lion({ learningRate: plateau.schedule });
    for (const metric of [3, 4, 5]) plateau.step(metric);
    expect(plateau.value).toBe(0.0025);
    optimizer.applyGradients({ [v.name]: tf.tensor1d([1, 1]) });
    const restored = (await loadOptimizer(await optimizer.saveState())) as OptimkitOptimizer;
    expect(warnings).toEqual([]);
    expect(restored.hyperparametersAt(1)[0]).toMatchObject({ learningRate: 0.0025 });
    optimizer.dispose();
    restored.dispose();
    v.dispose();
  });

  it.each(['warmupCosine', ...NEW_SCHEDULES] as const)(
    'tf.loadLayersModel restores %s itself and continues bit-identically',
    async (name) => {
      captureWarnings();
      const xs = tf.tidy(() => tf.randomUniform([32, 3], -1, 1, 'float32', 11));
      const ys = tf.tidy(() => tf.matMul(xs, tf.tensor2d([[1], [-2], [0.5]])));
      const makeModel = () =>
        tf.sequential({
          layers: [
            tf.layers.dense({ units: 4, inputShape: [3], activation: 'tanh', kernelInitializer: 'ones' }),
            tf.layers.dense({ units: 1, kernelInitializer: 'ones' }),
          ],
        });
      const schedule =
        name === 'warmupCosine'
          ? () => warmupCosine({ initValue: 0, peakValue: 0.05, warmupSteps: 4, decaySteps: 24 })
          : SCHEDULES[name];
      const run = await resumeThroughLayers({
        makeModel,
        compile: (model) =>
          model.compile({ optimizer: adamw({ learningRate: schedule() }), loss: 'meanSquaredError' }),
        xs,
        ys,
        fit: { epochs: 2, batchSize: 8 },
        // Through JSON, as a file would carry it.
        load: (artifacts) => {
          const saved = JSON.parse(JSON.stringify(artifacts)) as tf.io.ModelArtifacts;
          saved.weightData = artifacts.weightData;
          return tf.loadLayersModel(tf.io.fromMemory(saved));
        },
      });
      const optimizer = run.loaded.optimizer as OptimkitOptimizer;
      expect(optimizer.iterations).toBe(8);
      const reference = schedule();
      expect(hyperparameterSeriesTop(optimizer, 24)).toEqual(
        Array.from({ length: 24 }, (_, t) => reference(t)),
      );
      expect(await run.resume()).toEqual(run.expected);
      expect(warnings).toEqual([]);
      run.dispose();
      tf.dispose([xs, ys]);
    },
  );

  it('a hand-written function still comes back as its saved value, with a warning', () => {
    captureWarnings();
    const optimizer = adamw({ learningRate: (step: number) => 0.01 / (1 + step) });
    const config = viaJson(optimizer.getConfig());
    expect(config.learningRate).toEqual({ schedule: 'learningRate', step: 0, value: 0.01 });
    const AdamW = optimizer.constructor as unknown as {
      fromConfig(cls: unknown, config: tf.serialization.ConfigDict): OptimkitOptimizer;
    };
    const restored = AdamW.fromConfig(AdamW, config);
    expect(restored.hyperparametersAt(5)[0]).toMatchObject({ learningRate: 0.01 });
    expect(warnings).toEqual([
      "optimkit: learningRate of OptimkitAdamW was the schedule 'learningRate' when saved; it is restored as the constant 0.01 (pass the schedule again to keep it)",
    ]);
    optimizer.dispose();
    restored.dispose();
  });

  it('a schedule whose package is not registered falls back to its value and names the package', () => {
    captureWarnings();
    const optimizer = adamw({ learningRate: SCHEDULES.cosineDecay() });
    const config = viaJson(optimizer.getConfig()) as Record<string, unknown>;
    (config.learningRate as { schedule: string }).schedule = 'cosineDecayFromElsewhere';
    const AdamW = optimizer.constructor as unknown as {
      fromConfig(cls: unknown, config: tf.serialization.ConfigDict): OptimkitOptimizer;
    };
    const restored = AdamW.fromConfig(AdamW, config as tf.serialization.ConfigDict);
    expect(restored.hyperparametersAt(3)[0]).toMatchObject({ learningRate: 0.01 });
    expect(warnings.join()).toContain("import '@optimkit/schedules' to restore it");
    optimizer.dispose();
    restored.dispose();
  });
});

function hyperparameterSeriesTop(optimizer: OptimkitOptimizer, steps: number): number[] {
  return Array.from(
    { length: steps },
    (_, step) => (optimizer.hyperparametersAt(step)[0] as unknown as { learningRate: number }).learningRate,
  );
}
