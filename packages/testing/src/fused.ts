/**
 * The fused-kernel equivalence suite (after PyTorch's foreach-matches-forloop tests): an optimizer's
 * fused update, run as one tfjs kernel per variable, equals its composite update of tfjs ops.
 */

import { fusedKernelName, setFusedKernels } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDownloads, float32Values, goldenTolerance, seededRandom } from './golden.js';

/** What the suite needs of an optimizer: a tf.Optimizer whose slots can be read. */
export interface FusableOptimizer extends tf.Optimizer {
  getClassName(): string;
  /** The slots of a variable by name, or undefined when it has no state. */
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

/** Describes an optimizer to {@link describeFusedEquivalence}. */
export interface FusedEquivalenceInfo<O extends object> {
  /** Title of the suite. */
  name: string;
  /** Makes an optimizer; called twice per option set (one runs composite, one fused). */
  create: (options: O) => FusableOptimizer;
  /**
   * Option sets that together exercise every option. Param groups should select variables with
   * `match` (the suite's variables are a scalar and tensors of shapes [5], [3, 4] and [2, 3, 4]).
   */
  optionSets: O[];
  /** Steps per option set, default 20. */
  steps?: number;
  /** Backends to compare on, default `['cpu', 'wasm']` (wasm is loaded if it is not registered). */
  backends?: readonly string[];
  /**
   * Backends on which fused must equal composite bit for bit, not only within float32 tolerance
   * (`1e-6 + 2e-4·|x|`); a function decides per option set. Default none.
   */
  bitIdentical?: readonly string[] | ((options: O) => readonly string[]);
}

/** Shapes of the suite's variables: ranks 0 to 3. */
export const FUSED_TEST_SHAPES: readonly (readonly number[])[] = [[], [5], [3, 4], [2, 3, 4]];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A variable past core's slot-memory threshold (65,536 elements), not a whole number of chunks. */
const LARGE_SHAPE: readonly number[] = [257, 301];
const LARGE_STEPS = 4;

/** Gradient scale by step: large, then small (running averages shrink), then medium with spikes. */
function gradientScale(step: number): number {
  if (step <= 5) return 2;
  if (step <= 12) return 0.05;
  return step % 4 === 0 ? 3 : 0.5;
}

/**
 * The gradients of one step: seeded, with exact zeros (every 7th element), an all-zero gradient for
 * the rank-1 variable on step 3 (norms of 0), and an Infinity on step 4 when it is to be skipped.
 */
function gradientValues(seed: number, step: number, nonFinite: boolean): Float64Array[] {
  const random = seededRandom(seed * 1009 + step);
  return FUSED_TEST_SHAPES.map((shape, v) => {
    const values = float32Values(random, size(shape), gradientScale(step));
    for (let i = 0; i < values.length; i++) if ((i + step + v) % 7 === 0) values[i] = 0;
    if (v === 1 && step === 3) values.fill(0);
    if (nonFinite && v === 2 && step === 4) values[1] = Number.POSITIVE_INFINITY;
    return values;
  });
}

let counter = 0;

function makeVariables(seed: number, label: string): tf.Variable[] {
  counter += 1;
  const random = seededRandom(seed);
  return FUSED_TEST_SHAPES.map((shape, v) => {
    // The rank-1 variable starts at zero (norm 0), the others at random values.
    const values = v === 1 ? new Float64Array(size(shape)) : float32Values(random, size(shape));
    const initial = tf.tensor(Float32Array.from(values), [...shape], 'float32');
    const variable = tf.variable(initial, true, `optimkitFused${counter}${label}/v${v}`);
    initial.dispose();
    return variable;
  });
}

type Engine = ReturnType<typeof tf.engine>;
/** tfjs's `NamedTensor` type, which `@tensorflow/tfjs-core` does not export from its root. */
type TfNamedTensor = Parameters<tf.Optimizer['setWeights']>[0][number];

/** The kernels `fn` runs through the engine, in order, with their attributes. */
export function recordKernelCalls(fn: () => void): { name: string; attrs: unknown }[] {
  const engine = tf.engine();
  const original = engine.runKernel;
  const calls: { name: string; attrs: unknown }[] = [];
  engine.runKernel = function (this: Engine, ...args: Parameters<Engine['runKernel']>) {
    calls.push({ name: args[0], attrs: args[2] });
    return original.apply(this, args);
  } as Engine['runKernel'];
  try {
    fn();
  } finally {
    engine.runKernel = original;
  }
  return calls;
}

/** The names of the kernels `fn` runs through the engine, in order. */
export function recordKernels(fn: () => void): string[] {
  return recordKernelCalls(fn).map((call) => call.name);
}

/** How many variables the fused kernel calls of `calls` updated (a call may update several). */
export function fusedUpdates(calls: readonly { name: string; attrs: unknown }[], kernelName: string): number {
  return calls
    .filter((call) => call.name === kernelName)
    .reduce((total, call) => total + ((call.attrs as { count?: number } | undefined)?.count ?? 1), 0);
}

function float32Bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0]!;
}

function compare(
  composite: Float32Array,
  fused: Float32Array,
  label: string,
  exact: boolean,
): { worst: number; differing: number } {
  expect(fused.length, `${label}: length`).toBe(composite.length);
  let worst = 0;
  let differing = 0;
  for (let i = 0; i < composite.length; i++) {
    const want = composite[i]!;
    const got = fused[i]!;
    if (float32Bits(want) !== float32Bits(got)) differing += 1;
    if (Number.isNaN(want) || Number.isNaN(got)) {
      expect.fail(`${label}[${i}]: composite ${want}, fused ${got} (NaN)`);
    }
    const ratio = Math.abs(got - want) / goldenTolerance(want);
    if (!(ratio <= 1)) {
      expect.fail(`${label}[${i}]: fused ${got}, composite ${want} (tolerance ${goldenTolerance(want)})`);
    }
    if (exact && float32Bits(want) !== float32Bits(got)) {
      expect.fail(`${label}[${i}]: fused ${got}, composite ${want}: expected bit-identical`);
    }
    worst = Math.max(worst, ratio);
  }
  return { worst, differing };
}

/**
 * Makes a tfjs backend available and active. The wasm backend is imported when it is not
 * registered: from the package under test, or else from any package of the workspace that depends
 * on `@tensorflow/tfjs-backend-wasm` (its `.wasm` files are read from node_modules; nothing is
 * downloaded). Throws when it cannot be found: add it as a devDependency.
 */
export async function useBackend(name: string): Promise<void> {
  if (tf.findBackendFactory(name) == null) {
    if (name !== 'wasm') throw new Error(`The tfjs backend '${name}' is not registered`);
    await import(/* @vite-ignore */ resolveFromWorkspace('@tensorflow/tfjs-backend-wasm'));
  }
  if (!(await tf.setBackend(name))) throw new Error(`Could not initialize the tfjs backend '${name}'`);
  await tf.ready();
}

function resolveFromWorkspace(specifier: string): string {
  // Node built-ins through the process, so that this module imports nothing Node-only.
  const { existsSync, readdirSync } = process.getBuiltinModule('node:fs');
  const { createRequire } = process.getBuiltinModule('node:module');
  const { dirname, join } = process.getBuiltinModule('node:path');
  const { pathToFileURL } = process.getBuiltinModule('node:url');
  const candidates = [process.cwd()];
  let dir = process.cwd();
  while (!existsSync(join(dir, 'pnpm-workspace.yaml')) && dirname(dir) !== dir) dir = dirname(dir);
  for (const group of ['packages', 'apps']) {
    const root = join(dir, group);
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root)) candidates.push(join(root, entry));
  }
  for (const candidate of candidates) {
    try {
      return pathToFileURL(createRequire(join(candidate, 'package.json')).resolve(specifier)).href;
    } catch {
      // not a dependency of this package
    }
  }
  throw new Error(
    `Cannot find ${specifier} from ${process.cwd()} or its workspace: add it as a devDependency to test fused kernels on it`,
  );
}

function describeOptions(options: object): string {
  return JSON.stringify(options, (_key, value: unknown) =>
    typeof value === 'function' ? `ƒ ${(value as { name?: string }).name || 'schedule'}` : value,
  );
}

/**
 * Asserts, for every option set on every backend, that the fused update equals the composite one:
 * two optimizers with the same options train two identical sets of variables (ranks 0–3) on the
 * same gradients for `steps` steps, one with fused kernels off and one with them on; after every
 * step each variable and slot must agree within float32 tolerance (bit for bit where asked). It
 * also checks that the fused kernels updated every variable, that it reads no tensor
 * back to JS beyond what the composite path reads, and that neither path leaks tensors.
 */
export function describeFusedEquivalence<O extends object>(info: FusedEquivalenceInfo<O>): void {
  const steps = info.steps ?? 20;
  for (const backend of info.backends ?? ['cpu', 'wasm']) {
    describe(`${info.name}: fused kernel ≡ composite ops on ${backend}`, () => {
      let previousBackend = '';
      beforeAll(async () => {
        previousBackend = tf.getBackend();
        await useBackend(backend);
      });
      afterAll(async () => {
        setFusedKernels(true);
        await tf.setBackend(previousBackend);
      });

      info.optionSets.forEach((options, index) => {
        const exactOn =
          typeof info.bitIdentical === 'function' ? info.bitIdentical(options) : (info.bitIdentical ?? []);
        const exact = exactOn.includes(backend);
        it(`${exact ? 'bit-identical' : 'within float32 tolerance'} for ${describeOptions(options)}`, async () => {
          expect(tf.getBackend()).toBe(backend);
          const baseline = tf.memory().numTensors;
          const seed = 7919 * (index + 1);
          const composite = { optimizer: info.create(options), variables: makeVariables(seed, 'c') };
          const fused = { optimizer: info.create(options), variables: makeVariables(seed, 'f') };
          const kernelName = fusedKernelName(fused.optimizer.getClassName());
          // With skipNonFinite, one step's gradients hold an Infinity (the step must be skipped).
          const config = fused.optimizer.getConfig();
          const skipsNonFinite = config.skipNonFinite === true;
          const accumulateSteps = typeof config.accumulateSteps === 'number' ? config.accumulateSteps : 1;
          let tensorsAfterSecond = -1;
          let appliedSteps = 0;
          let compared = 0;
          let differing = 0;
          let worst = 0;
          try {
            for (let step = 1; step <= steps; step++) {
              const values = gradientValues(seed, step, skipsNonFinite);
              const run = (side: typeof composite, on: boolean) => {
                // The rank-3 variable skips some steps, so its own step count differs from the others'.
                const grads = side.variables.map((v, i) => ({
                  name: v.name,
                  tensor:
                    i === 3 && step % 5 === 2
                      ? null
                      : tf.tensor(Float32Array.from(values[i]!), v.shape, 'float32'),
                }));
                const iterations = side.optimizer.iterations;
                setFusedKernels(on);
                try {
                  let calls: { name: string; attrs: unknown }[] = [];
                  const downloads = countDownloads(() => {
                    calls = recordKernelCalls(() => side.optimizer.applyGradients(grads as TfNamedTensor[]));
                  });
                  return {
                    kernels: calls.map((call) => call.name),
                    updates: fusedUpdates(calls, kernelName),
                    downloads,
                    applied: side.optimizer.iterations !== iterations,
                  };
                } finally {
                  setFusedKernels(true);
                  for (const g of grads) g.tensor?.dispose();
                }
              };
              const c = run(composite, false);
              const f = run(fused, true);
              expect(c.kernels, 'the composite run used no fused kernel').not.toContain(kernelName);
              expect(f.applied).toBe(c.applied);
              const applied = c.applied;
              const updated = step % 5 === 2 && accumulateSteps === 1 ? 3 : 4;
              expect(f.updates, `step ${step}: variables updated by fused kernels`).toBe(
                applied ? updated : 0,
              );
              expect(f.downloads, `step ${step}: tensor reads of the fused step`).toBe(c.downloads);
              for (let v = 0; v < fused.variables.length; v++) {
                const label = `step ${step}, variable of shape [${fused.variables[v]!.shape}]`;
                const pairs: [string, tf.Tensor, tf.Tensor][] = [
                  ['value', composite.variables[v]!, fused.variables[v]!],
                ];
                const cs = composite.optimizer.getSlots(composite.variables[v]!.name) ?? {};
                const fs = fused.optimizer.getSlots(fused.variables[v]!.name) ?? {};
                expect(Object.keys(fs).sort(), `${label}: slots`).toEqual(Object.keys(cs).sort());
                for (const slot of Object.keys(cs)) pairs.push([`slot ${slot}`, cs[slot]!, fs[slot]!]);
                for (const [what, a, b] of pairs) {
                  const result = compare(
                    a.dataSync() as Float32Array,
                    b.dataSync() as Float32Array,
                    `${label}, ${what}`,
                    exact,
                  );
                  compared += a.size;
                  differing += result.differing;
                  worst = Math.max(worst, result.worst);
                }
              }
              if (applied) appliedSteps += 1;
              if (appliedSteps === 2 && applied) tensorsAfterSecond = tf.memory().numTensors;
              else if (appliedSteps >= 2) {
                expect(tf.memory().numTensors, `step ${step}: numTensors`).toBe(tensorsAfterSecond);
              }
            }
          } finally {
            for (const side of [composite, fused]) {
              side.optimizer.dispose();
              tf.dispose(side.variables);
            }
          }
          expect(tf.memory().numTensors, 'numTensors after dispose').toBe(baseline);
          expect(appliedSteps, 'updates applied').toBeGreaterThan(2);
          expect(compared).toBeGreaterThan(0);
          if (exact) expect(differing).toBe(0);
          expect(worst).toBeLessThanOrEqual(1);
        });
        // On cpu, a variable this large keeps its slots (and itself) in core's slot memory.
        if (backend === 'cpu') {
          it(`${exact ? 'bit-identical' : 'within float32 tolerance'} on a ${LARGE_SHAPE.join('×')} variable for ${describeOptions(options)}`, () => {
            const baseline = tf.memory().numTensors;
            const seed = 104729 * (index + 1);
            const sides = [false, true].map((on) => {
              const random = seededRandom(seed);
              const variable = tf.tidy(() =>
                tf.variable(
                  tf.tensor(Float32Array.from(float32Values(random, size(LARGE_SHAPE))), [...LARGE_SHAPE]),
                  true,
                  `optimkitFusedLarge${++counter}`,
                ),
              );
              return { on, variable, optimizer: info.create(options) };
            });
            try {
              for (let step = 1; step <= LARGE_STEPS; step++) {
                const values = Float32Array.from(
                  float32Values(seededRandom(seed + step), size(LARGE_SHAPE), gradientScale(step)),
                );
                for (const side of sides) {
                  const grad = tf.tensor(values, [...LARGE_SHAPE]);
                  setFusedKernels(side.on);
                  try {
                    side.optimizer.applyGradients({ [side.variable.name]: grad });
                  } finally {
                    setFusedKernels(true);
                    grad.dispose();
                  }
                }
              }
              const [composite, fused] = sides as [(typeof sides)[0], (typeof sides)[0]];
              const pairs: [string, tf.Tensor, tf.Tensor][] = [['value', composite.variable, fused.variable]];
              const cs = composite.optimizer.getSlots(composite.variable.name) ?? {};
              const fs = fused.optimizer.getSlots(fused.variable.name) ?? {};
              expect(Object.keys(fs).sort()).toEqual(Object.keys(cs).sort());
              for (const slot of Object.keys(cs)) pairs.push([`slot ${slot}`, cs[slot]!, fs[slot]!]);
              for (const [what, a, b] of pairs) {
                const result = compare(
                  a.dataSync() as Float32Array,
                  b.dataSync() as Float32Array,
                  what,
                  exact,
                );
                if (exact) expect(result.differing, what).toBe(0);
                expect(result.worst, what).toBeLessThanOrEqual(1);
              }
            } finally {
              for (const side of sides) {
                side.optimizer.dispose();
                side.variable.dispose();
              }
            }
            expect(tf.memory().numTensors, 'numTensors after dispose').toBe(baseline);
          });
        }
      });
    });
  }
}
