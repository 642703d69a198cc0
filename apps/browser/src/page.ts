/**
 * The test page: every optimkit optimizer run on tfjs's cpu backend and on a GPU backend (webgl or
 * webgpu, fused kernels on) from the same seeded start, compared step by step; the AdamW launch
 * and speed figures against `tf.train.adam`; and float16 WebGL training (`?f16` in the URL).
 * Node (`e2e/`) drives it through `window.optimkitBrowser`.
 */
// First: the launch counters wrap the WebGL and WebGPU prototypes before tfjs touches them.
import { launchCount, wrapped } from '@optimkit/browser-harness/launches';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import './quantized-page.js';
import { adamw } from '@optimkit/adam';
import { fusedKernelName, fusedKernelsActive, setFusedKernels } from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  CASE_SHAPES,
  type CaseOptimizer,
  describeOptions,
  gradientValues,
  initialValues,
  OPTIMIZERS,
  optimizerCases,
  seededRandom,
  tolerance,
} from './cases.js';
import type {
  BackendInfo,
  BenchMeasure,
  BenchRequest,
  CaseRequest,
  CaseResult,
  F16Result,
  GpuBackend,
} from './protocol.js';

const query = new URLSearchParams(location.search);
// `?f16`: 16-bit textures (and small ops on the GPU, so that floatPrecision() finds it out).
const FLOAT16 = query.has('f16');
// `?unpacked`: one value per texel, tfjs's WEBGL_PACK off.
if (query.has('unpacked')) tf.env().set('WEBGL_PACK', false);
if (FLOAT16) {
  tf.env().set('WEBGL_RENDER_FLOAT32_ENABLED', false);
  tf.env().set('WEBGL_CPU_FORWARD', false);
}

const status = document.getElementById('status')!;
const say = (line: string) => {
  status.textContent = line;
};

type Engine = ReturnType<typeof tf.engine>;

/** The names of the kernels `fn` runs through the engine. */
function recordKernels<T>(fn: () => T): { result: T; names: string[] } {
  const engine = tf.engine();
  const original = engine.runKernel;
  const names: string[] = [];
  engine.runKernel = function (this: Engine, ...args: Parameters<Engine['runKernel']>) {
    names.push(args[0]);
    return original.apply(this, args);
  } as Engine['runKernel'];
  try {
    return { result: fn(), names };
  } finally {
    engine.runKernel = original;
  }
}

async function webgpuAdapter(): Promise<string | null> {
  const gpu = (
    navigator as {
      gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> };
    }
  ).gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  return `adapter ${adapter.info?.vendor ?? '?'} ${adapter.info?.architecture ?? ''}`.trim();
}

function webglDevice(): string {
  const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}: ${renderer}`;
}

/** Switches to the GPU backend (and back to cpu when asked); says why when it cannot. */
async function init(backend: GpuBackend): Promise<BackendInfo> {
  const info: BackendInfo = {
    backend,
    unavailable: null,
    floatPrecision: 0,
    fusedKernelsActive: false,
    float32Textures: backend === 'webgpu',
    device: '',
    launchCounters: wrapped.filter((name) => name.startsWith(backend === 'webgpu' ? 'GPU' : 'WebGL')),
  };
  if (backend === 'webgpu') {
    const adapter = await webgpuAdapter();
    if (adapter === null) {
      info.unavailable = 'no adapter';
      return info;
    }
    info.device = adapter;
  }
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch (error) {
    info.unavailable = `the ${backend} backend failed to start: ${error instanceof Error ? error.message : error}`;
    return info;
  }
  if (!ok) {
    info.unavailable = `the ${backend} backend failed to start`;
    return info;
  }
  await tf.ready();
  if (backend === 'webgl') {
    info.device = webglDevice();
    // tfjs 4.22's webgl floatPrecision() answers 16 even on float32 textures (tensorflow/tfjs#6980);
    // what the textures hold is in the flags, which is what core reads.
    info.float32Textures = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  }
  info.floatPrecision = tf.backend().floatPrecision();
  info.fusedKernelsActive = fusedKernelsActive();
  // A value computed on the device (small ops may run on the CPU side): 4096 ones summed.
  return info;
}

let runs = 0;

interface SideResult {
  /** Per step, per variable: the value then each slot (by sorted name), as arrays. */
  snapshots: { names: string[]; values: Float32Array[] }[][];
  fusedKernels: number[];
  updatedVariables: number[];
  launches: number[];
  kernels: number[];
  tensors: { baseline: number; steps: number[]; afterDispose: number };
}

/** Trains the case's variables for `steps` steps on `backend`, recording every value. */
async function runSide(
  backend: string,
  create: () => CaseOptimizer,
  seed: number,
  steps: number,
): Promise<SideResult> {
  await tf.setBackend(backend);
  runs += 1;
  const baseline = tf.memory().numTensors;
  const initial = initialValues(seed);
  const variables = CASE_SHAPES.map((shape, i) => {
    const value = tf.tensor(initial[i]!, [...shape], 'float32');
    const variable = tf.variable(value, true, `case${runs}/${backend}/v${i}`);
    value.dispose();
    return variable;
  });
  const optimizer = create();
  const kernelName = fusedKernelName(optimizer.getClassName());
  const side: SideResult = {
    snapshots: [],
    fusedKernels: [],
    updatedVariables: [],
    launches: [],
    kernels: [],
    tensors: { baseline, steps: [], afterDispose: -1 },
  };
  try {
    for (let step = 1; step <= steps; step++) {
      const values = gradientValues(seed, step);
      const grads = variables.map((v, i) => ({
        name: v.name,
        tensor: values[i] ? tf.tensor(values[i]!, v.shape, 'float32') : null,
      }));
      const before = launchCount();
      const { names } = recordKernels(() =>
        optimizer.applyGradients(grads as unknown as Parameters<tf.Optimizer['applyGradients']>[0]),
      );
      side.launches.push(launchCount() - before);
      side.kernels.push(names.length);
      side.fusedKernels.push(names.filter((n) => n === kernelName).length);
      side.updatedVariables.push(grads.filter((g) => g.tensor !== null).length);
      for (const g of grads) g.tensor?.dispose();
      side.tensors.steps.push(tf.memory().numTensors);
      // Every tensor read at once (one wait for the GPU); copies, as the cpu backend hands out its
      // own arrays, which later steps update in place.
      const reads = variables.map((variable) => {
        const slots = optimizer.getSlots(variable.name) ?? {};
        const names = Object.keys(slots).sort();
        const tensors = [variable as tf.Tensor, ...names.map((n) => slots[n]!)];
        return {
          names: ['value', ...names.map((n) => `slot ${n}`)],
          values: Promise.all(tensors.map(async (t) => Float32Array.from(await t.data()))),
        };
      });
      const snapshot: SideResult['snapshots'][number] = [];
      for (const read of reads) snapshot.push({ names: read.names, values: await read.values });
      side.snapshots.push(snapshot);
    }
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  side.tensors.afterDispose = tf.memory().numTensors;
  return side;
}

/** One optimizer and option set: cpu, then the GPU backend, compared after every step. */
async function runCase(request: CaseRequest): Promise<CaseResult> {
  const entry = optimizerCases(request.optimizer);
  const options = entry.optionSets[request.index];
  if (!options) throw new Error(`${request.optimizer} has no option set ${request.index}`);
  const label = `${request.optimizer} ${describeOptions(options)}`;
  say(`${request.backend}: ${label}`);
  const seed = 7919 * (request.index + 1) + request.optimizer.length;
  const create = () => entry.create(options);
  const previous = setFusedKernels(true);
  try {
    const cpu = await runSide('cpu', create, seed, request.steps);
    const gpu = await runSide(request.backend, create, seed, request.steps);
    const failures: string[] = [];
    let worst = 0;
    let compared = 0;
    for (let s = 0; s < request.steps; s++) {
      for (let v = 0; v < CASE_SHAPES.length; v++) {
        const want = cpu.snapshots[s]![v]!;
        const got = gpu.snapshots[s]![v]!;
        const where = `step ${s + 1}, variable [${CASE_SHAPES[v]}]`;
        if (want.names.join() !== got.names.join()) {
          failures.push(
            `${where}: slots ${got.names.join(', ')} on ${request.backend}, ${want.names.join(', ')} on cpu`,
          );
          continue;
        }
        want.values.forEach((expected, t) => {
          const actual = got.values[t]!;
          for (let i = 0; i < expected.length; i++) {
            const e = expected[i]!;
            const a = actual[i]!;
            const ratio = Math.abs(a - e) / tolerance(e);
            compared += 1;
            if (!(ratio <= 1)) {
              if (failures.length < 8) {
                failures.push(`${where}, ${want.names[t]}[${i}]: ${request.backend} ${a}, cpu ${e}`);
              }
              worst = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : Math.max(worst, ratio);
            } else {
              worst = Math.max(worst, ratio);
            }
          }
        });
      }
    }
    return {
      label,
      compared,
      worst,
      failures,
      fusedKernels: gpu.fusedKernels,
      updatedVariables: gpu.updatedVariables,
      launches: gpu.launches,
      kernels: gpu.kernels,
      tensors: { cpu: cpu.tensors, [request.backend]: gpu.tensors } as CaseResult['tensors'],
    };
  } finally {
    setFusedKernels(previous);
  }
}

// ---------------------------------------------------------------------------------------------
// AdamW against tf.train.adam.

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Shader programs the backend has compiled (tfjs's caches: WebGL binaries, WebGPU pipelines). */
function compiledShaders(): number {
  const backend = tf.backend() as unknown as { binaryCache?: object; pipelineCache?: object };
  return Object.keys(backend.binaryCache ?? backend.pipelineCache ?? {}).length;
}

/** Times one optimizer's step on fixed gradients: median ms over samples, launches and kernels of one step. */
async function measure(
  path: string,
  variables: tf.Variable[],
  grads: tf.NamedTensorMap,
  create: () => tf.Optimizer,
  budgetMs: number,
): Promise<BenchMeasure> {
  const last = variables[variables.length - 1]!;
  // One element read back: every queued GPU command has then run.
  const finish = async () => {
    const element = tf.slice(
      last,
      last.shape.map(() => 0),
      last.shape.map(() => 1),
    );
    await element.data();
    element.dispose();
  };
  const optimizer = create();
  const step = () => optimizer.applyGradients(grads);
  try {
    for (let i = 0; i < 3; i++) step(); // slots, shader compilation
    await finish();
    const before = launchCount();
    const { names } = recordKernels(step);
    const launchesPerStep = launchCount() - before;
    await finish();
    const compiled = compiledShaders();
    // Samples of back-to-back steps, each ending with a read-back.
    let perSample = 1;
    const samples: number[] = [];
    const started = performance.now();
    while (samples.length < 3 || (performance.now() - started < budgetMs && samples.length < 15)) {
      const t0 = performance.now();
      for (let i = 0; i < perSample; i++) step();
      await finish();
      const ms = performance.now() - t0;
      samples.push(ms / perSample);
      if (ms < 50) perSample *= 2;
    }
    return {
      path,
      shadersCompiledWhileTimed: compiledShaders() - compiled,
      msPerStep: median(samples),
      launchesPerStep,
      kernelsPerStep: names.length,
      fusedKernelsPerStep: names.filter((n) => n.startsWith('OptimkitFused_')).length,
    };
  } finally {
    optimizer.dispose();
  }
}

/** AdamW fused, AdamW composite and `tf.train.adam` on the same variables and gradients. */
async function bench(request: BenchRequest): Promise<BenchMeasure[]> {
  await tf.setBackend(request.backend);
  runs += 1;
  const initial = request.shapes.map((shape, i) => tf.randomNormal(shape, 0, 0.1, 'float32', 11 + i));
  const variables = initial.map((value, i) => tf.variable(value, true, `bench${runs}/v${i}`));
  const grads: tf.NamedTensorMap = {};
  request.shapes.forEach((shape, i) => {
    grads[variables[i]!.name] = tf.randomNormal(shape, 0, 0.01, 'float32', 23 + i);
  });
  const reset = () => {
    variables.forEach((v, i) => {
      v.assign(initial[i]!);
    });
  };
  const results: BenchMeasure[] = [];
  const previous = setFusedKernels(true);
  try {
    const paths: [string, () => tf.Optimizer, boolean][] = [
      ['optimkit adamw (fused)', () => adamw({ learningRate: 1e-3 }), true],
      ['optimkit adamw (composite)', () => adamw({ learningRate: 1e-3 }), false],
      ['tf.train.adam', () => tf.train.adam(1e-3), true],
    ];
    for (const [path, create, fused] of paths) {
      reset();
      setFusedKernels(fused);
      say(`${request.backend}: timing ${path}`);
      results.push(await measure(path, variables, grads, create, request.budgetMs));
    }
  } finally {
    setFusedKernels(previous);
    tf.dispose([...variables, ...initial, ...Object.values(grads)]);
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// float16 WebGL.

/** AdamW with its default epsilon on a small least-squares problem, on 16-bit textures. */
async function f16(steps: number): Promise<F16Result> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
    warn.apply(console, args);
  };
  try {
    await tf.setBackend('webgl');
    const random = seededRandom(5);
    const n = 64;
    const d = 8;
    const x = tf.tensor2d(
      Float32Array.from({ length: n * d }, () => random() * 2 - 1),
      [n, d],
    );
    const truth = tf.tensor2d(
      Float32Array.from({ length: d }, () => random() * 2 - 1),
      [d, 1],
    );
    const y = tf.add(tf.matMul(x, truth), 0.25);
    const w = tf.variable(tf.zeros([d, 1]), true, 'f16/w');
    const b = tf.variable(tf.zeros([1]), true, 'f16/b');
    const optimizer = adamw({ learningRate: 0.05 });
    const kernelName = fusedKernelName(optimizer.getClassName());
    const losses: number[] = [];
    let fusedKernels = 0;
    try {
      for (let s = 0; s < steps; s++) {
        const { result, names } = recordKernels(() =>
          optimizer.minimize(
            () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar,
            true,
            [w, b],
          ),
        );
        fusedKernels += names.filter((k) => k === kernelName).length;
        losses.push((await result!.data())[0]!);
        result!.dispose();
      }
      const finite = [...(await w.data()), ...(await b.data()), ...losses].every(Number.isFinite);
      return {
        floatPrecision: tf.backend().floatPrecision(),
        fusedKernelsActive: fusedKernelsActive(),
        fusedKernels,
        losses,
        finite,
        warnings,
      };
    } finally {
      optimizer.dispose();
      tf.dispose([x, truth, y, w, b]);
    }
  } finally {
    console.warn = warn;
  }
}

declare global {
  interface Window {
    optimkitBrowser: {
      float16: boolean;
      init: typeof init;
      runCase: typeof runCase;
      bench: typeof bench;
      f16: typeof f16;
      /** For debugging from the console. */
      tf: typeof tf;
      setFusedKernels: typeof setFusedKernels;
      optimizers: typeof OPTIMIZERS;
    };
  }
}

window.optimkitBrowser = {
  float16: FLOAT16,
  init,
  runCase,
  bench,
  f16,
  tf,
  setFusedKernels,
  optimizers: OPTIMIZERS,
};
status.dataset.ready = 'true';
say('ready');
