/**
 * The browser bench page: on one tfjs backend (webgl or webgpu) it times `applyGradients` of every
 * optimkit optimizer (fused kernels on, then off) and of its `tf.train` counterpart, and counts the
 * kernels and GPU launches of a step. Node (`run.ts`) loads it in chromium and calls
 * `window.optimkitBench.run(request)`.
 */
// First: the launch counters wrap the WebGL and WebGPU prototypes before tfjs touches them.
import { launchCount, wrapped } from '@optimkit/browser-harness/launches';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import * as core from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { fusionControl, withoutFusion } from '../fusion.js';
import { timeSteps } from '../measure.js';
import { type BenchOptimizer, selectOptimizers } from '../optimizers.js';
import { type ProblemShapes, parameterCount } from './problems.js';
import type {
  BrowserBackend,
  Measure,
  PageRequest,
  PageResult,
  PageRow,
  WebglInfo,
  WebgpuInfo,
} from './protocol.js';

const status = document.getElementById('status')!;
const say = (line: string) => {
  status.textContent = line;
  console.log(`[bench] ${line}`);
};

interface Problem {
  shapes: ProblemShapes;
  variables: tf.Variable[];
  initial: tf.Tensor[];
  grads: tf.NamedTensorMap;
  /** Awaits one element of the last variable: every queued kernel has then run. */
  finish: () => Promise<void>;
  reset: () => void;
  dispose: () => void;
}

let problemCount = 0;

function makeProblem(shapes: ProblemShapes): Problem {
  problemCount += 1;
  const initial = shapes.variables.map((v, i) => tf.randomNormal(v.shape, 0, 0.1, 'float32', 11 + i));
  const variables = initial.map((value, i) =>
    tf.variable(value, true, `bench/${problemCount}/${shapes.variables[i]!.name}`),
  );
  const grads: tf.NamedTensorMap = {};
  shapes.variables.forEach((v, i) => {
    grads[variables[i]!.name] = tf.randomNormal(v.shape, 0, 0.01, 'float32', 23 + i);
  });
  const last = variables[variables.length - 1]!;
  const origin = last.shape.map(() => 0);
  const one = last.shape.map(() => 1);
  return {
    shapes,
    variables,
    initial,
    grads,
    finish: async () => {
      const element = tf.slice(last, origin, one);
      await element.data();
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

const FUSED_PREFIX = 'OptimkitFused_';

/**
 * GPU errors since the last `take()`. WebGPU reports invalid pipelines, bind groups and command
 * buffers as uncaptured errors on the device (tfjs pushes no error scope) and drops the commands;
 * WebGL keeps error flags that tfjs reads only in debug mode.
 */
const gpuErrors = {
  count: 0,
  first: null as string | null,
  drain: () => {},
  add(message: string) {
    this.count += 1;
    this.first ??= message;
  },
  take(): { gpuErrors: number; gpuError: string | null } {
    this.drain();
    const taken = { gpuErrors: this.count, gpuError: this.first };
    this.count = 0;
    this.first = null;
    return taken;
  },
};

function watchGpuErrors(backend: BrowserBackend): void {
  if (backend === 'webgpu') {
    const device = (tf.backend() as unknown as { device?: EventTarget }).device;
    device?.addEventListener('uncapturederror', (event) => {
      const error = (event as Event & { error?: { message?: string } }).error;
      gpuErrors.add(`WebGPU: ${error?.message?.split('\n')[0] ?? 'uncaptured error'}`);
    });
  } else {
    const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGLRenderingContext } }).gpgpu.gl;
    gpuErrors.drain = () => {
      for (let code = gl.getError(), n = 0; code !== gl.NO_ERROR && n < 16; code = gl.getError(), n += 1) {
        gpuErrors.add(`WebGL: gl.getError() = 0x${code.toString(16)}`);
      }
    };
  }
}

async function measure(problem: Problem, create: () => tf.Optimizer, request: PageRequest): Promise<Measure> {
  problem.reset();
  await problem.finish();
  gpuErrors.take();
  const optimizer = create();
  const step = () => optimizer.applyGradients(problem.grads);
  try {
    // The first step creates the slots and compiles the shaders; `timeSteps` warms up further.
    step();
    await problem.finish();
    const timing = await timeSteps(step, problem.finish, request.reps);
    const before = launchCount();
    for (let i = 0; i < request.countSteps; i += 1) step();
    const launches = (launchCount() - before) / request.countSteps;
    await problem.finish();
    // Last, as `tf.profile` reads back every kernel's output where the backend has no GPU timer.
    const profile = await tf.profile(() => {
      step();
    });
    await problem.finish();
    // Uncaptured WebGPU errors arrive as events: let them be dispatched before counting.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const errors = gpuErrors.take();
    const kernelNames: Record<string, number> = {};
    for (const kernel of profile.kernels) kernelNames[kernel.name] = (kernelNames[kernel.name] ?? 0) + 1;
    return {
      msPerStep: timing.msPerStep,
      samples: timing.samples,
      stepsPerSample: timing.stepsPerSample,
      tensorsPerStep: timing.tensorsPerStep,
      kernelsPerStep: profile.kernels.length,
      fusedKernelsPerStep: profile.kernels.filter((k) => k.name.startsWith(FUSED_PREFIX)).length,
      launchesPerStep: launches,
      kernelNames,
      ...errors,
    };
  } finally {
    optimizer.dispose();
  }
}

const describe = (m: Measure) =>
  `${m.msPerStep.toPrecision(3)} ms, ${m.kernelsPerStep} kernels, ${m.launchesPerStep} launches`;

/** One optimizer on one problem: fused kernels on, off, and its `tf.train` counterpart (measured once per problem). */
async function measureRow(
  problem: Problem,
  entry: BenchOptimizer,
  request: PageRequest,
  tfTrainMeasures: Map<string, Measure>,
): Promise<PageRow> {
  const fusion = fusionControl();
  const optimkit = await measure(problem, entry.create, request);
  const composite = fusion
    ? await withoutFusion(fusion, () => measure(problem, entry.create, request))
    : null;
  let tfTrain: PageRow['tfTrain'] = null;
  if (entry.tfTrain) {
    let reference = tfTrainMeasures.get(entry.tfTrain.name);
    if (!reference) {
      reference = await measure(problem, entry.tfTrain.create, request);
      tfTrainMeasures.set(entry.tfTrain.name, reference);
    }
    tfTrain = { name: entry.tfTrain.name, ...reference };
  }
  say(
    `${request.backend} ${problem.shapes.id} ${entry.name}: ${describe(optimkit)}` +
      (composite ? `; composite ${describe(composite)}` : '') +
      (tfTrain ? `; ${tfTrain.name} ${describe(tfTrain)}` : '') +
      `; ${optimkit.tensorsPerStep} tensors/step` +
      [optimkit, composite, tfTrain]
        .filter((m) => m && m.gpuErrors > 0)
        .map((m) => `; ${m!.gpuErrors} GPU errors (${m!.gpuError})`)
        .join(''),
  );
  return {
    backend: request.backend,
    problem: problem.shapes.id,
    optimizer: entry.name,
    label: entry.label,
    parameters: problem.variables.reduce((n, v) => n + v.size, 0),
    variables: problem.variables.length,
    optimkit,
    composite,
    tfTrain,
  };
}

function webglInfo(): WebglInfo {
  const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  return {
    kind: 'webgl',
    version: tf.env().getNumber('WEBGL_VERSION'),
    vendor: String(gl.getParameter(debug ? debug.UNMASKED_VENDOR_WEBGL : gl.VENDOR)),
    renderer: String(gl.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
    maxTextureSize: tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE'),
    float32: tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED'),
    disjointTimer: tf.env().getNumber('WEBGL_DISJOINT_QUERY_TIMER_EXTENSION_RELIABLE') > 0,
  };
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
  features: Iterable<string>;
}

/** The adapter tfjs will get (same request), or why there is none. */
async function webgpuAdapter(): Promise<WebgpuInfo | string> {
  const gpu = (navigator as { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return 'no navigator.gpu (WebGPU disabled in this browser)';
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return 'no adapter';
  const info = adapter.info ?? {};
  return {
    kind: 'webgpu',
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter),
    features: [...adapter.features].sort(),
  };
}

async function useBackend(backend: BrowserBackend): Promise<{ info: WebglInfo | WebgpuInfo } | string> {
  let adapter: WebgpuInfo | undefined;
  if (backend === 'webgpu') {
    const found = await webgpuAdapter();
    if (typeof found === 'string') return found;
    adapter = found;
  }
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch (error) {
    return `the ${backend} backend failed to start: ${error instanceof Error ? error.message : error}`;
  }
  if (!ok) return `the ${backend} backend failed to start`;
  await tf.ready();
  return { info: adapter ?? webglInfo() };
}

async function run(request: PageRequest): Promise<PageResult> {
  const started = performance.now();
  const { backend } = request;
  const api = core as unknown as { fusedKernelsActive?: () => boolean; FUSED_BACKENDS?: string[] };
  const result: PageResult = {
    backend,
    unavailable: null,
    userAgent: navigator.userAgent,
    info: null,
    fusedKernelsActive: null,
    fusedBackends: Array.isArray(api.FUSED_BACKENDS) ? [...api.FUSED_BACKENDS] : null,
    launchCounters: [],
    rows: [],
    failures: [],
    durationSec: 0,
  };
  const used = await useBackend(backend);
  if (typeof used === 'string') {
    say(`${backend}: ${used}`);
    return { ...result, unavailable: used, durationSec: (performance.now() - started) / 1000 };
  }
  result.info = used.info;
  watchGpuErrors(backend);
  result.fusedKernelsActive = api.fusedKernelsActive?.() ?? null;
  result.launchCounters = wrapped.filter((name) => name.startsWith(backend === 'webgpu' ? 'GPU' : 'WebGL'));
  say(`${backend}: counting launches with ${result.launchCounters.join(', ')}`);
  const entries = selectOptimizers(request.optimizers);
  for (const shapes of request.problems) {
    const problem = makeProblem(shapes);
    const tfTrainMeasures = new Map<string, Measure>();
    try {
      for (const entry of entries) {
        const reason = entry.notOn?.[backend];
        if (reason !== undefined) {
          say(`${backend} ${shapes.id} ${entry.name}: not timed (${reason})`);
          continue;
        }
        const limit = entry.maxParameters?.[backend];
        if (limit !== undefined && parameterCount(shapes) > limit) {
          say(
            `${backend} ${shapes.id} ${entry.name}: not timed (above its ${limit.toExponential(0)} parameters on ${backend})`,
          );
          continue;
        }
        try {
          result.rows.push(await measureRow(problem, entry, request, tfTrainMeasures));
        } catch (error) {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          result.failures.push({ problem: shapes.id, optimizer: entry.name, error: message });
          say(`${backend} ${shapes.id} ${entry.name}: failed: ${message}`);
        }
      }
    } finally {
      problem.dispose();
    }
  }
  result.durationSec = (performance.now() - started) / 1000;
  say(`${backend}: done in ${result.durationSec.toFixed(1)} s`);
  return result;
}

window.optimkitBench = { run };
status.dataset.ready = 'true';
say('ready');
