/**
 * `@optimkit/testing`: the conformance suite every optimkit optimizer and plugin runs
 * (after PyTorch's OptimizerInfo tests and unstorage's testDriver).
 */

import { decodeState, encodeState, loadOptimizer, type NamedTensor, type StateHeader } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { describeFusedEquivalence, type FusableOptimizer } from './fused.js';
import { mixedRanks, type Problem, quadratic, rosenbrock } from './problems.js';

export { type FixtureCase, type FixtureOptimizer, replayFixture } from './fixture.js';
export {
  describeFusedEquivalence,
  FUSED_TEST_SHAPES,
  type FusableOptimizer,
  type FusedEquivalenceInfo,
  fusedUpdates,
  recordKernelCalls,
  recordKernels,
  useBackend,
} from './fused.js';
export { countDownloads, expectClose, float32Values, goldenTolerance, seededRandom } from './golden.js';
export {
  applyGradientValues,
  type GoldenContext,
  type GoldenOptimizer,
  type GoldenReference,
  type GoldenReferenceStep,
  type GoldenResult,
  type GoldenRun,
  makeVariables,
  runGolden,
  traceSteps,
} from './golden-run.js';
export {
  type LayersModelLike,
  type ResumeCase,
  type ResumeRun,
  resumeThroughLayers,
  saveWithOptimizer,
  tensorsLeakedBySaving,
  weightValues,
} from './layers.js';
export { mixedRanks, type Problem, quadratic, rosenbrock } from './problems.js';
export {
  QUANTIZED_TEST_SHAPES,
  type QuantizedReferenceStep,
  type ReferenceQuantized,
  referenceDequantize,
  referenceDynamicMap,
  referenceQuantize,
  runQuantizedGolden,
  unpackCodes,
} from './quantized.js';

/** What the suite needs of an optimizer: the tf.Optimizer API plus optimkit's state methods. */
export interface ConformantOptimizer extends tf.Optimizer {
  /** The optimizer's state as optimkit state bytes. */
  saveState(): Promise<Uint8Array>;
  /** Restores state bytes from `saveState`. */
  loadState(bytes: Uint8Array): Promise<void>;
}

/** tfjs's `NamedTensor` type, which `@tensorflow/tfjs-core` does not export from its root. */
type TfNamedTensor = Parameters<tf.Optimizer['setWeights']>[0][number];

/** A convergence check: after `steps` steps from the problem's start, the loss is ≤ `tolerance`. */
export interface ConvergenceCase<O> {
  options: O;
  steps: number;
  tolerance: number;
}

/** Describes an optimizer to the conformance suite. */
export interface ConformanceInfo<O extends object = Record<string, unknown>> {
  /** Title of the suite. */
  name: string;
  /** Makes an optimizer; called with `undefined` for the defaults. */
  create: (options?: O) => ConformantOptimizer;
  /**
   * Option sets run by the state, order, weights and memory checks; together they should turn on
   * every slot the optimizer can keep. Defaults to `[{}]` (which needs a default learning rate).
   */
  optionSets?: O[];
  /** Convergence on 0.5·Σ(v − 1)² + 0.5·Σ m² (initial loss 17.625). */
  quadratic: ConvergenceCase<O>;
  /** Convergence on Rosenbrock from (−1.2, 1) (initial loss 24.2). */
  rosenbrock: ConvergenceCase<O>;
  /** Options that must be refused at construction, with the message they must throw. */
  errorCases?: { options: O; error: RegExp | string }[];
}

function bits(tensor: tf.Tensor): number[] {
  return Array.from(new Uint32Array(Float32Array.from(tensor.dataSync() as Float32Array).buffer));
}

function snapshot(problem: Problem): number[][] {
  return problem.variables.map(bits);
}

function step(optimizer: tf.Optimizer, problem: Problem, index: number): void {
  const grads = problem.gradients(index);
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
}

function run(optimizer: tf.Optimizer, problem: Problem, from: number, to: number): void {
  for (let i = from; i < to; i++) step(optimizer, problem, i);
}

/**
 * Re-encodes a valid state with an edited header (and optionally another format version), with a
 * correct checksum, so that tests reach the validation they mean to test.
 */
export function rewriteState(
  bytes: Uint8Array,
  edit: (header: StateHeader) => unknown,
  version?: number,
): Uint8Array {
  const { header, payload } = decodeState(bytes);
  return encodeState(edit(structuredClone(header)), payload.length, (p) => p.set(payload), version);
}

/** Options as a test title: JSON, but NaN and ±Infinity spelled out. */
function describeOptions(options: object): string {
  return JSON.stringify(options, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? String(value) : value,
  ).replace(/"(NaN|-?Infinity)"/g, '$1');
}

/** The number of calls per applied update (`accumulateSteps`). */
function accumulation(optimizer: ConformantOptimizer): number {
  const k = optimizer.getConfig().accumulateSteps;
  return typeof k === 'number' ? k : 1;
}

function withOptions<O extends object>(options: O, extra: Record<string, unknown>): O {
  return { ...options, ...extra };
}

/**
 * Runs the whole optimkit optimizer contract against one optimizer; for a rule-based one, also
 * the fused-kernel equivalence on cpu for every option set (see {@link describeFusedEquivalence}).
 */
export function describeOptimizerConformance<O extends object>(info: ConformanceInfo<O>): void {
  const optionSets = info.optionSets ?? [{} as O];
  const base = info.quadratic.options;

  // A rule-based optimizer's fused kernels must equal its composite tfjs ops, bit for bit on cpu.
  const probe = info.create(optionSets[0]) as ConformantOptimizer & { definition?: { rule?: unknown } };
  const ruleBased = typeof probe.definition?.rule === 'function';
  probe.dispose();
  if (ruleBased) {
    describeFusedEquivalence({
      name: info.name,
      create: info.create as unknown as (options: O) => FusableOptimizer,
      optionSets,
      backends: ['cpu'],
      bitIdentical: ['cpu'],
    });
  }

  describe(`${info.name}: optimkit conformance`, () => {
    const problems: Problem[] = [];
    const fresh = (make: () => Problem) => {
      const p = make();
      problems.push(p);
      return p;
    };
    afterAll(() => {
      for (const p of problems) p.dispose();
    });

    it('converges on a quadratic', () => {
      const problem = fresh(quadratic);
      const optimizer = info.create(info.quadratic.options);
      run(optimizer, problem, 0, info.quadratic.steps);
      optimizer.dispose();
      expect(problem.loss()).toBeLessThanOrEqual(info.quadratic.tolerance);
    });

    it('converges on Rosenbrock', () => {
      const problem = fresh(rosenbrock);
      const optimizer = info.create(info.rosenbrock.options);
      run(optimizer, problem, 0, info.rosenbrock.steps);
      optimizer.dispose();
      expect(problem.loss()).toBeLessThanOrEqual(info.rosenbrock.tolerance);
    });

    it('counts iterations and starts from zero', () => {
      const problem = fresh(quadratic);
      const optimizer = info.create(base);
      expect(optimizer.iterations).toBe(0);
      run(optimizer, problem, 0, 3);
      expect(optimizer.iterations).toBe(3);
      optimizer.dispose();
    });

    it('leaves a variable without a gradient, and its state, untouched', async () => {
      for (const options of optionSets) {
        const problem = fresh(mixedRanks);
        const optimizer = info.create(options);
        run(optimizer, problem, 0, 2);
        const [a, b, ...others] = problem.variables as [tf.Variable, tf.Variable, ...tf.Variable[]];
        const stateBefore = await optimizer.saveState();
        const before = snapshot(problem);
        const grads = problem.gradients(2);
        const missingA = Object.fromEntries(Object.entries(grads).filter(([name]) => name !== a.name));
        const list: NamedTensor[] = Object.entries(missingA).map(([name, tensor]) => ({
          name,
          tensor: name === b.name ? null : tensor,
        }));
        optimizer.applyGradients(list as TfNamedTensor[]);
        tf.dispose(Object.values(grads));
        const after = snapshot(problem);
        expect(after[0]).toEqual(before[0]);
        expect(after[1]).toEqual(before[1]);
        expect(others.length).toBeGreaterThan(0);
        const { header: h0, payload: p0 } = decodeState(stateBefore);
        const { header: h1, payload: p1 } = decodeState(await optimizer.saveState());
        for (const name of [a.name, b.name]) {
          const e0 = h0.variables.find((v) => v.name === name)!;
          const e1 = h1.variables.find((v) => v.name === name)!;
          expect(e1.step).toBe(e0.step);
          for (const [slot, entry] of Object.entries(e0.slots)) {
            const other = e1.slots[slot]!;
            expect(p1.subarray(other.offset, other.offset + other.byteLength)).toEqual(
              p0.subarray(entry.offset, entry.offset + entry.byteLength),
            );
          }
        }
        optimizer.dispose();
      }
    });

    it('creates no state for a variable that never had a gradient', async () => {
      const problem = fresh(mixedRanks);
      const optimizer = info.create(base);
      const [a] = problem.variables as [tf.Variable];
      const grads = problem.gradients(0);
      optimizer.applyGradients({ ...grads, [a.name]: null as unknown as tf.Tensor });
      tf.dispose(Object.values(grads));
      const { header } = decodeState(await optimizer.saveState());
      expect(header.variables.map((v) => v.name)).not.toContain(a.name);
      expect(header.variables).toHaveLength(problem.variables.length - 1);
      optimizer.dispose();
    });

    it('keeps a variable in place under a zero gradient from fresh state (no weight decay)', () => {
      const problem = fresh(mixedRanks);
      const config = info.create(base).getConfig();
      const options = 'weightDecay' in config ? withOptions(base, { weightDecay: 0 }) : base;
      const optimizer = info.create(options);
      const before = snapshot(problem);
      const zeros = problem.variables.map((v) => ({ name: v.name, tensor: tf.zerosLike(v) }));
      optimizer.applyGradients(zeros);
      tf.dispose(zeros.map((z) => z.tensor));
      expect(snapshot(problem)).toEqual(before);
      optimizer.dispose();
    });

    it('gives the same result whatever the order of the gradients', () => {
      for (const options of optionSets) {
        const results: number[][][] = [];
        for (const mode of ['map', 'reversed', 'array'] as const) {
          const problem = fresh(mixedRanks);
          const optimizer = info.create(options);
          for (let i = 0; i < 6; i++) {
            const grads = problem.gradients(i);
            const names = Object.keys(grads);
            if (mode === 'map') optimizer.applyGradients(grads);
            else if (mode === 'reversed') {
              optimizer.applyGradients(Object.fromEntries(names.reverse().map((n) => [n, grads[n]!])));
            } else {
              const order = i % 2 === 0 ? [2, 0, 3, 1] : [1, 3, 0, 2];
              optimizer.applyGradients(order.map((k) => ({ name: names[k]!, tensor: grads[names[k]!]! })));
            }
            tf.dispose(Object.values(grads));
          }
          results.push(snapshot(problem));
          optimizer.dispose();
        }
        expect(results[1]).toEqual(results[0]);
        expect(results[2]).toEqual(results[0]);
      }
    });

    it('save → load → continue is bit-identical to never stopping, also through loadOptimizer', async () => {
      for (const options of optionSets) {
        const problem = fresh(mixedRanks);
        const straight = info.create(options);
        run(straight, problem, 0, 10);
        const expected = snapshot(problem);
        straight.dispose();

        problem.reset();
        const first = info.create(options);
        run(first, problem, 0, 5);
        const bytes = await first.saveState();
        const midway = problem.variables.map((v) => tf.clone(v));
        first.dispose();

        const resumed = info.create(options);
        await resumed.loadState(bytes);
        expect(resumed.iterations).toBe(5);
        run(resumed, problem, 5, 10);
        expect(snapshot(problem)).toEqual(expected);
        resumed.dispose();

        problem.variables.forEach((v, i) => {
          v.assign(midway[i]!);
        });
        tf.dispose(midway);
        const loaded = (await loadOptimizer(bytes)) as unknown as ConformantOptimizer;
        expect(loaded.getClassName()).toBe(info.create(options).getClassName());
        expect(loaded.getConfig()).toEqual(decodeState(bytes).header.config);
        run(loaded, problem, 5, 10);
        expect(snapshot(problem)).toEqual(expected);
        loaded.dispose();
      }
    });

    it('getWeights → setWeights round-trips, by name and by position onto renamed variables', async () => {
      for (const options of optionSets) {
        const k = accumulation(info.create(options));
        const problem = fresh(mixedRanks);
        const straight = info.create(options);
        run(straight, problem, 0, 8 * k);
        const expected = snapshot(problem);
        straight.dispose();

        problem.reset();
        const first = info.create(options);
        run(first, problem, 0, 4 * k);
        const weights = await first.getWeights();
        expect(weights[0]!.name).toBe('iter');
        const second = info.create(options);
        await second.setWeights(weights);
        const renamed = fresh(mixedRanks);
        problem.variables.forEach((v, i) => {
          renamed.variables[i]!.assign(v);
        });
        const third = info.create(options);
        await third.setWeights(await first.getWeights());
        first.dispose();

        run(second, problem, 4 * k, 8 * k);
        expect(snapshot(problem)).toEqual(expected);
        // tfjs-layers passes its trainable weights in a fixed order, with new names after a reload.
        for (let i = 4 * k; i < 8 * k; i++) {
          const grads = renamed.gradients(i);
          third.applyGradients(renamed.variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
          tf.dispose(Object.values(grads));
        }
        expect(snapshot(renamed)).toEqual(expected);
        second.dispose();
        third.dispose();
      }
    });

    it('fromConfig(getConfig()) rebuilds an identical optimizer', () => {
      for (const options of optionSets) {
        const problem = fresh(mixedRanks);
        const original = info.create(options);
        run(original, problem, 0, 5);
        const expected = snapshot(problem);
        // After training, the config names the variables each param group matched.
        const config = original.getConfig();
        const cls =
          original.constructor as unknown as tf.serialization.SerializableConstructor<ConformantOptimizer>;
        const copy = cls.fromConfig(cls, JSON.parse(JSON.stringify(config)));
        expect(copy.getConfig()).toEqual(config);
        problem.reset();
        run(copy, problem, 0, 5);
        expect(snapshot(problem)).toEqual(expected);
        original.dispose();
        copy.dispose();
      }
    });

    it('keeps tf.memory().numTensors constant over 200 steps and frees everything on dispose', async () => {
      for (const options of optionSets) {
        const problem = fresh(mixedRanks);
        const baseline = tf.memory().numTensors;
        const optimizer = info.create(options);
        const k = accumulation(optimizer);
        run(optimizer, problem, 0, k);
        const afterFirst = tf.memory().numTensors;
        for (let i = k; i < 200; i++) {
          step(optimizer, problem, i);
          if (tf.memory().numTensors !== afterFirst) {
            expect.fail(
              `step ${i + 1}: ${tf.memory().numTensors} tensors, ${afterFirst} after the first step`,
            );
          }
        }
        await optimizer.saveState();
        await optimizer.getWeights();
        await optimizer.getWeights();
        optimizer.dispose();
        expect(tf.memory().numTensors).toBe(baseline);
      }
    });

    it('a scheduled learning rate equal to a constant gives identical results', () => {
      const config = info.create(base).getConfig();
      const given = (base as Record<string, unknown>).learningRate ?? config.learningRate;
      if (given === null) {
        // Optimizers whose learning rate is derived (Adafactor's relative step) have none to schedule.
        expect(config.learningRate).toBeNull();
        return;
      }
      const p1 = fresh(mixedRanks);
      const p2 = fresh(mixedRanks);
      const reference = info.create(withOptions(base, { learningRate: given }));
      const lr = given as number | ((step: number) => number);
      const wrapped = info.create(
        withOptions(base, { learningRate: (step: number) => (typeof lr === 'number' ? lr : lr(step)) }),
      );
      run(reference, p1, 0, 5);
      run(wrapped, p2, 0, 5);
      expect(snapshot(p2)).toEqual(snapshot(p1));
      reference.dispose();
      wrapped.dispose();
    });

    for (const { options, error } of info.errorCases ?? []) {
      it(`refuses ${describeOptions(options)}`, () => {
        expect(() => info.create(options)).toThrow(error);
      });
    }

    it('refuses unknown options and a config carrying __proto__ or constructor keys', () => {
      expect(() => info.create(withOptions(base, { noSuchOption: 1 }))).toThrow(
        /Unknown option 'noSuchOption'/,
      );
      const original = info.create(base);
      const cls =
        original.constructor as unknown as tf.serialization.SerializableConstructor<ConformantOptimizer>;
      const config = original.getConfig();
      for (const key of ['__proto__', 'constructor']) {
        const json = JSON.stringify(config).replace(/^\{/, `{"${key}":{"polluted":true},`);
        expect(() => cls.fromConfig(cls, JSON.parse(json))).toThrow(new RegExp(key));
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      original.dispose();
    });

    describe('bad input changes nothing', () => {
      const setup = async () => {
        const problem = fresh(mixedRanks);
        const optimizer = info.create(base);
        run(optimizer, problem, 0, 3);
        const state = await optimizer.saveState();
        const values = snapshot(problem);
        const unchanged = async () => {
          expect(snapshot(problem)).toEqual(values);
          expect(await optimizer.saveState()).toEqual(state);
        };
        return { problem, optimizer, state, unchanged };
      };

      it('a gradient of the wrong shape, the wrong dtype, or for no variable', async () => {
        const { problem, optimizer, unchanged } = await setup();
        const [v] = problem.variables as [tf.Variable];
        const grads = problem.gradients(3);
        const cases: [tf.NamedTensorMap, RegExp][] = [
          [{ ...grads, [v.name]: tf.zeros([...v.shape, 2]) }, new RegExp(`'${v.name}' has shape`)],
          [{ ...grads, [v.name]: tf.zeros(v.shape, 'int32') }, new RegExp(`'${v.name}' has dtype int32`)],
          [{ ...grads, 'no/such/variable': tf.zeros([1]) }, /no variable named 'no\/such\/variable'/],
        ];
        for (const [bad, message] of cases) {
          expect(() => optimizer.applyGradients(bad)).toThrow(message);
          await unchanged();
        }
        tf.dispose(Object.values(grads));
        tf.dispose(cases.flatMap(([bad]) => Object.values(bad)));
        optimizer.dispose();
      });

      it('state bytes that are truncated, corrupted, foreign, of another class or of a newer version', async () => {
        const { optimizer, state, unchanged } = await setup();
        const corrupt = state.slice();
        corrupt[corrupt.length - 9] = (corrupt[corrupt.length - 9]! + 1) % 256;
        const cases: [Uint8Array, RegExp][] = [
          [state.slice(0, state.length - 7), /truncated|checksum/],
          [state.slice(0, 10), /truncated/],
          [corrupt, /corrupt|checksum/],
          [new TextEncoder().encode('{"not": "an optimizer state"}'), /magic/],
          [
            rewriteState(state, (h) => ({ ...h, className: 'OptimkitSomethingElse' })),
            /OptimkitSomethingElse/,
          ],
          [rewriteState(state, (h) => h, 99), /version 99 is newer/],
          [
            rewriteState(state, (h) => ({
              ...h,
              variables: h.variables.map((v) => ({ ...v, shape: [7, 7, 7] })),
            })),
            /shape/,
          ],
          [rewriteState(state, (h) => ({ ...h, iterations: -1 })), /iterations/],
        ];
        for (const [bytes, message] of cases) {
          await expect(optimizer.loadState(bytes)).rejects.toThrow(message);
          await unchanged();
        }
        optimizer.dispose();
      });

      it('state for a variable that now has another shape', async () => {
        const problem = fresh(mixedRanks);
        const optimizer = info.create(base);
        run(optimizer, problem, 0, 2);
        const bytes = await optimizer.saveState();
        const victim = problem.variables[2]!;
        const name = victim.name;
        const { header } = decodeState(bytes);
        victim.dispose();
        const replacement = tf.variable(tf.zeros([9]), true, name);
        const other = info.create(base);
        await expect(other.loadState(bytes)).rejects.toThrow(new RegExp(`'${name}'.*shape`));
        await expect(loadOptimizer(bytes)).rejects.toThrow(/shape/);
        expect(header.variables.length).toBe(4);
        replacement.dispose();
        optimizer.dispose();
        other.dispose();
      });

      it('loadOptimizer of an unregistered class names the package to import', async () => {
        const { optimizer, state } = await setup();
        const foreign = rewriteState(state, (h) => ({
          ...h,
          className: 'OptimkitNeverRegistered',
          packageName: '@example/never',
        }));
        await expect(loadOptimizer(foreign)).rejects.toThrow(/import '@example\/never'/);
        optimizer.dispose();
      });
    });
  });
}
