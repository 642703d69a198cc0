/**
 * 8-bit optimizer state on WebGPU against the cpu backend: core's WGSL (de)quantisation kernels
 * against the cpu kernels on seeded values, and `adamw`/`lion` with `stateDtype: 'int8'` trained on
 * both backends. Installs `window.optimkitQuantized`; the backend is chosen with
 * `window.optimkitBrowser.init('webgpu')` first. Every read-back is `await t.data()` (`dataSync()`
 * on WebGPU breaks the device in headless chromium).
 */
import { adamw } from '@optimkit/adam';
import { setFusedKernels } from '@optimkit/core';
import { lion } from '@optimkit/lion';
import * as tf from '@tensorflow/tfjs-core';
// Core's internal kernels, from its sources (the page is built from them): not public API.
import type { MapTables } from '../../../packages/core/src/quantized-kernels.js';
import { dequantizeKernelRun, quantizeKernelRun } from '../../../packages/core/src/quantized-kernels.js';
import { dynamicMap, quantizedSizes } from '../../../packages/core/src/quantized-state.js';
import { dequantizeWebGPU, quantizeWebGPU } from '../../../packages/core/src/quantized-webgpu.js';
import { seededRandom, tolerance } from './cases.js';
import type {
  Discrepancy,
  HygieneResult,
  KernelCaseResult,
  KernelRequest,
  KernelResult,
  MapKind,
  OptimizerRequest,
  OptimizerResult,
  PackingResult,
} from './quantized-protocol.js';

const BLOCK = 256;
/** How close (in float32 steps) to a midpoint a quotient may be for WGSL's 2.5-ulp division to move it across. */
const NEAR_ULPS = 4;

const scratch = new Float32Array(1);
const scratchBits = new Int32Array(scratch.buffer);
const scratchUnsigned = new Uint32Array(scratch.buffer);

/** The float32 `x` as an integer that orders as the floats do (±0 both 0). */
function ordered(x: number): number {
  scratch[0] = x;
  const bits = scratchBits[0]!;
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

const ulps = (a: number, b: number) => Math.abs(ordered(a) - ordered(b));

function bitsOf(x: number): number {
  scratch[0] = x;
  return scratchUnsigned[0]!;
}

/** Equal float32 bits, or both NaN (a NaN's payload is not specified). */
const sameBits = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || bitsOf(a) === bitsOf(b);

/** The code of value `i` in packed words: byte `i % 4` of word `i / 4`, the top one stored XOR 0x80. */
function codeAt(words: Int32Array, i: number): number {
  const byte = (words[i >> 2]! >>> (8 * (i & 3))) & 0xff;
  return (i & 3) === 3 ? byte ^ 0x80 : byte;
}

/** The dequantised values of packed codes, in float32 (`map[code] · absmax[block]`). */
function dequantized(words: Int32Array, absmax: Float32Array, n: number, t: MapTables): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => t.values[codeAt(words, i)]! * absmax[Math.floor(i / BLOCK)]!,
  );
}

// ---------------------------------------------------------------------------------------------
// The kernels.

/** The float32 `steps` float32 values away from `x` (towards +∞ when positive). */
function nudge(x: number, steps: number): number {
  scratch[0] = x;
  scratchBits[0] = scratchBits[0]! + steps;
  return scratch[0]!;
}

/**
 * Seeded values block by block: each block's magnitude is 10^u, u uniform in [−8, 3]; a value is
 * an exact zero (8 %), uniform in ±magnitude, log-uniform in ±magnitude·[1e-7, 1] (every decade of
 * the map), ±magnitude·1e-9 (a negative one is sign-corrected on the signed map), or a midpoint of
 * the map times the magnitude, moved by up to 3 float32 steps (quotients at or next to a
 * midpoint); ±magnitude itself appears twice (quotients of exactly ±1). Every fifth block of four
 * or more is all zero; with `nan`, one block holds a NaN.
 */
function kernelValues(random: () => number, n: number, nan: boolean, midpoints: Float32Array): Float32Array {
  const x = new Float32Array(n);
  const blocks = Math.ceil(n / BLOCK);
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK;
    const end = Math.min(n, start + BLOCK);
    if (blocks >= 4 && b % 5 === 2) continue;
    const magnitude = Math.fround(10 ** (-8 + 11 * random()));
    for (let i = start; i < end; i++) {
      const kind = random();
      const sign = random() < 0.5 ? -1 : 1;
      if (kind < 0.08) x[i] = 0;
      else if (kind < 0.5) x[i] = sign * magnitude * random();
      else if (kind < 0.9) x[i] = sign * magnitude * 10 ** (-7 * random());
      else if (kind < 0.95) x[i] = sign * magnitude * 1e-9;
      else {
        const mid = midpoints[Math.floor(random() * midpoints.length)]!;
        x[i] = nudge(Math.fround(mid * magnitude), Math.floor(random() * 7) - 3);
      }
    }
    x[start + Math.floor(random() * (end - start))] = magnitude;
    x[start + Math.floor(random() * (end - start))] = -magnitude;
  }
  if (nan) x[Math.min(blocks - 1, 1) * BLOCK + Math.floor(random() * Math.min(BLOCK, n))] = Number.NaN;
  return x;
}

/** The number of midpoints below `v` (its nearest code before the sign correction). */
function midpointsBelow(v: number, midpoints: Float32Array): number {
  let low = 0;
  let high = midpoints.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (v > midpoints[mid]!) low = mid + 1;
    else high = mid;
  }
  return low;
}

async function read<T extends tf.TypedArray>(t: tf.Tensor): Promise<T> {
  return (await t.data()).slice() as T;
}

async function kernelCase(random: () => number, n: number, map: MapKind): Promise<KernelCaseResult> {
  const tables = dynamicMap(map);
  const { blocks, words } = quantizedSizes(n);
  const x = kernelValues(random, n, n >= 4096, tables.midpoints);

  await tf.setBackend('cpu');
  const cpu = tf.tidy(() => {
    const q = quantizeKernelRun(tf.tensor1d(x), words, blocks, tables);
    return { ...q, values: dequantizeKernelRun(q.codes, q.absmax, n, tables) };
  });
  const cpuCodes = await read<Int32Array>(cpu.codes);
  const cpuAbsmax = await read<Float32Array>(cpu.absmax);
  const cpuValues = await read<Float32Array>(cpu.values);
  tf.dispose([cpu.codes, cpu.absmax, cpu.values]);

  await tf.setBackend('webgpu');
  const gpu = tf.tidy(() => {
    const q = quantizeWebGPU(tf.tensor(x, [n], 'float32'), blocks, tables);
    // cpu's codes and absmax, dequantised here.
    const values = dequantizeWebGPU(tf.tensor1d(cpuCodes, 'int32'), tf.tensor1d(cpuAbsmax), n, tables);
    return { ...q, values };
  });
  const [gpuCodes, gpuAbsmax, gpuValues] = await Promise.all([
    read<Int32Array>(gpu.codes),
    read<Float32Array>(gpu.absmax),
    read<Float32Array>(gpu.values),
  ]);
  tf.dispose([gpu.codes, gpu.absmax, gpu.values]);

  const positive = cpuAbsmax.filter((a) => a > 0);
  const result: KernelCaseResult = {
    size: n,
    map,
    blocks,
    nanBlocks: cpuAbsmax.filter(Number.isNaN).length,
    zeroBlocks: cpuAbsmax.filter((a) => a === 0).length,
    smallestAbsmax: positive.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY),
    largestAbsmax: positive.reduce((a, b) => Math.max(a, b), 0),
    absmaxMismatches: [],
    codeMismatches: 0,
    nearMidpointFlips: 0,
    badCodes: [],
    nearMidpointValues: 0,
    badPadding: 0,
    dequantizeMismatches: [],
  };
  for (let b = 0; b < blocks; b++) {
    if (!sameBits(gpuAbsmax[b]!, cpuAbsmax[b]!))
      result.absmaxMismatches.push(`block ${b}: webgpu ${gpuAbsmax[b]}, cpu ${cpuAbsmax[b]}`);
  }
  for (let i = 0; i < n; i++) {
    const absmax = cpuAbsmax[Math.floor(i / BLOCK)]!;
    const v = Math.fround(x[i]! / (absmax > 0 ? absmax : 1));
    const below = midpointsBelow(v, tables.midpoints);
    const near =
      Number.isFinite(v) &&
      ((below > 0 && ulps(v, tables.midpoints[below - 1]!) <= NEAR_ULPS) ||
        (below < tables.midpoints.length && ulps(v, tables.midpoints[below]!) <= NEAR_ULPS));
    if (near) result.nearMidpointValues += 1;
    const want = codeAt(cpuCodes, i);
    const got = codeAt(gpuCodes, i);
    if (got !== want) {
      result.codeMismatches += 1;
      if (near && Math.abs(got - want) === 1) result.nearMidpointFlips += 1;
      else if (result.badCodes.length < 8)
        result.badCodes.push(`value ${i} = ${x[i]} (quotient ${v}): code ${got} on webgpu, ${want} on cpu`);
      else if (result.badCodes.length === 8) result.badCodes.push('…');
    }
    if (!sameBits(gpuValues[i]!, cpuValues[i]!) && result.dequantizeMismatches.length < 8)
      result.dequantizeMismatches.push(`value ${i}: webgpu ${gpuValues[i]}, cpu ${cpuValues[i]}`);
  }
  for (let i = n; i < blocks * BLOCK; i++) if (codeAt(gpuCodes, i) !== tables.zero) result.badPadding += 1;
  return result;
}

/** Repeated quantise → dequantise calls on webgpu: numTensors while held and after disposal. */
async function kernelMemory(n: number, repeats: number): Promise<HygieneResult['tensors']> {
  await tf.setBackend('webgpu');
  const tables = dynamicMap('signed');
  const { blocks } = quantizedSizes(n);
  const x = tf.tensor1d(kernelValues(seededRandom(17), n, false, tables.midpoints));
  const tensors: HygieneResult['tensors'] = { baseline: tf.memory().numTensors, held: [], afterDispose: [] };
  try {
    for (let r = 0; r < repeats; r++) {
      const { codes, absmax } = quantizeWebGPU(x, blocks, tables);
      const values = tf.tidy(() => tf.reshape(dequantizeWebGPU(codes, absmax, n, tables), [n]));
      tensors.held.push(tf.memory().numTensors);
      await values.data();
      tf.dispose([codes, absmax, values]);
      tensors.afterDispose.push(tf.memory().numTensors);
    }
  } finally {
    x.dispose();
  }
  return tensors;
}

/** Bad inputs: each call must throw, and no tensor be left behind. */
async function kernelErrors(): Promise<{ errors: string[]; changedNothing: boolean }> {
  const tables = dynamicMap('unsigned');
  const errors: string[] = [];
  const attempt = (fn: () => unknown) => {
    try {
      fn();
      errors.push('(no error)');
    } catch (error) {
      errors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  };
  await tf.setBackend('webgpu');
  const values = tf.zeros([300]);
  const intValues = tf.zeros([300], 'int32');
  const codes = tf.zeros([128], 'int32');
  const floatCodes = tf.zeros([128]);
  const absmax = tf.zeros([2]);
  const wrongAbsmax = tf.zeros([3]);
  let before = tf.memory().numTensors;
  attempt(() => quantizeWebGPU(intValues, 2, tables));
  attempt(() => quantizeWebGPU(values, 3, tables));
  attempt(() => dequantizeWebGPU(floatCodes, absmax, 300, tables));
  attempt(() => dequantizeWebGPU(codes, absmax, 600, tables));
  attempt(() => dequantizeWebGPU(codes, wrongAbsmax, 300, tables));
  let changedNothing = tf.memory().numTensors === before;
  tf.dispose([values, intValues, codes, floatCodes, absmax, wrongAbsmax]);
  await tf.setBackend('cpu');
  const onCpu = tf.zeros([300]);
  before = tf.memory().numTensors;
  attempt(() => quantizeWebGPU(onCpu, 2, tables));
  changedNothing &&= tf.memory().numTensors === before;
  onCpu.dispose();
  return { errors, changedNothing };
}

/** Reads element `i` of `t`: every command queued before has then run. */
async function readOne(t: tf.Tensor, i: number): Promise<void> {
  const element = tf.slice(t, i, 1);
  await element.data();
  element.dispose();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Median ms of quantise, then of dequantise, of `n` values on `backend` (each ending with a read of one absmax or value). */
async function kernelTimes(
  backend: 'cpu' | 'webgpu',
  n: number,
): Promise<{ quantizeMs: number; dequantizeMs: number }> {
  await tf.setBackend(backend);
  const tables = dynamicMap('signed');
  const { blocks, words } = quantizedSizes(n);
  const x = tf.tensor1d(kernelValues(seededRandom(23), n, false, tables.midpoints));
  const quantizeOnce = () =>
    backend === 'webgpu' ? quantizeWebGPU(x, blocks, tables) : quantizeKernelRun(x, words, blocks, tables);
  const q = quantizeOnce();
  const dequantizeOnce = () =>
    backend === 'webgpu'
      ? dequantizeWebGPU(q.codes, q.absmax, n, tables)
      : dequantizeKernelRun(q.codes, q.absmax, n, tables);
  const quantize: number[] = [];
  const dequantize: number[] = [];
  try {
    // The first of each compiles its shaders.
    for (let r = 0; r < 4; r++) {
      let t0 = performance.now();
      const again = quantizeOnce();
      await readOne(again.absmax, 0);
      if (r > 0) quantize.push(performance.now() - t0);
      tf.dispose([again.codes, again.absmax]);
      t0 = performance.now();
      const values = dequantizeOnce();
      await readOne(values, n - 1);
      if (r > 0) dequantize.push(performance.now() - t0);
      values.dispose();
    }
  } finally {
    tf.dispose([x, q.codes, q.absmax]);
  }
  return { quantizeMs: median(quantize), dequantizeMs: median(dequantize) };
}

async function kernels(request: KernelRequest): Promise<KernelResult> {
  const random = seededRandom(request.seed);
  const cases: KernelCaseResult[] = [];
  for (const n of request.sizes) {
    for (const map of ['signed', 'unsigned'] as const) cases.push(await kernelCase(random, n, map));
  }
  // Past 65535 workgroups tfjs spreads a dispatch over two dimensions.
  if (request.large) cases.push(await kernelCase(random, request.large, 'signed'));
  const times = {
    size: request.timedSize,
    cpu: await kernelTimes('cpu', request.timedSize),
    webgpu: await kernelTimes('webgpu', request.timedSize),
  };
  return { cases, times };
}

/** Memory over `repeats` calls on `size` values, and the refusals of bad inputs. */
async function kernelHygiene(size: number, repeats: number): Promise<HygieneResult> {
  const tensors = await kernelMemory(size, repeats);
  const { errors, changedNothing } = await kernelErrors();
  return { tensors, errors, errorsChangedNothing: changedNothing };
}

// ---------------------------------------------------------------------------------------------
// The optimizers.

const SHAPES: readonly number[][] = [[100, 100], [5000], [5]];
/** The dynamic map of each quantised moment (first moments signed, second unsigned; Lion's `m`). */
const MAP_OF: Readonly<Record<string, MapKind>> = { expAvg: 'signed', expAvgSq: 'unsigned', m: 'signed' };

type Slots = Record<string, Float32Array | Int32Array>;

interface Snapshot {
  params: Float32Array[];
  slots: Slots[];
}

const create = (kind: OptimizerRequest['optimizer']) =>
  kind === 'adamw'
    ? adamw({ learningRate: 1e-2, weightDecay: 1e-2, stateDtype: 'int8' })
    : lion({ learningRate: 1e-3, weightDecay: 1e-2, stateDtype: 'int8' });

type Optimizer = ReturnType<typeof create>;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function startValues(seed: number): Float32Array[] {
  const random = seededRandom(seed);
  return SHAPES.map((shape) => Float32Array.from({ length: sizeOf(shape) }, () => random() * 2 - 1));
}

/** Step `step`'s gradients: seeded, of a scale that changes between steps, with exact zeros. */
function gradients(seed: number, step: number): Float32Array[] {
  const random = seededRandom(seed * 7919 + step);
  const scale = step % 7 === 3 ? 5 : step % 2 ? 0.1 : 1;
  return SHAPES.map((shape) =>
    Float32Array.from({ length: sizeOf(shape) }, (_, i) =>
      i % 11 === step % 11 ? 0 : (random() * 2 - 1) * scale,
    ),
  );
}

function makeVariables(names: string[], values: Float32Array[]): tf.Variable[] {
  return SHAPES.map((shape, i) => {
    const value = tf.tensor(values[i]!, [...shape], 'float32');
    const variable = tf.variable(value, true, names[i]);
    value.dispose();
    return variable;
  });
}

function step(optimizer: Optimizer, variables: tf.Variable[], grads: Float32Array[]): void {
  const map: tf.NamedTensorMap = {};
  variables.forEach((v, i) => {
    map[v.name] = tf.tensor(grads[i]!, v.shape, 'float32');
  });
  optimizer.applyGradients(map);
  tf.dispose(Object.values(map));
}

async function snapshot(optimizer: Optimizer, variables: tf.Variable[]): Promise<Snapshot> {
  const params = await Promise.all(variables.map((v) => read<Float32Array>(v)));
  const slots = await Promise.all(
    variables.map(async (v) => {
      const held = optimizer.getSlots(v.name) ?? {};
      const out: Slots = {};
      for (const name of Object.keys(held).sort()) out[name] = await read(held[name]!);
      return out;
    }),
  );
  return { params, slots };
}

/** Each moment as float32 values (quantised ones dequantised), by slot name. */
function moments(
  slots: Slots,
  size: number,
): Map<string, { values: Float32Array; codes?: Int32Array; map?: MapTables; absmax?: Float32Array }> {
  const out = new Map<
    string,
    { values: Float32Array; codes?: Int32Array; map?: MapTables; absmax?: Float32Array }
  >();
  for (const [name, data] of Object.entries(slots)) {
    if (name.endsWith('Absmax')) continue;
    if (name.endsWith('Codes')) {
      const base = name.slice(0, -'Codes'.length);
      const kind = MAP_OF[base];
      if (!kind) throw new Error(`no dynamic map known for the quantised slot '${base}'`);
      const map = dynamicMap(kind);
      const absmax = slots[`${base}Absmax`] as Float32Array;
      const codes = data as Int32Array;
      out.set(base, { values: dequantized(codes, absmax, size, map), codes, map, absmax });
    } else {
      out.set(name, { values: data as Float32Array });
    }
  }
  return out;
}

class Tally {
  readonly d: Discrepancy = { worst: 0, compared: 0, failures: [] };
  add(where: string, got: number, want: number, allowed: number): void {
    const ratio = Math.abs(got - want) / allowed;
    this.d.compared += 1;
    if (!(ratio <= 1)) {
      if (this.d.failures.length < 8) this.d.failures.push(`${where}: webgpu ${got}, cpu ${want}`);
      this.d.worst = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : Math.max(this.d.worst, ratio);
    } else {
      this.d.worst = Math.max(this.d.worst, ratio);
    }
  }
}

/** Compares webgpu's snapshot with cpu's: params within tolerance, moments within one code step; counts code flips. */
function compare(label: string, gpu: Snapshot, cpu: Snapshot, params: Tally, slots: Tally): number {
  let flips = 0;
  SHAPES.forEach((shape, v) => {
    const where = `${label}, [${shape}]`;
    const want = cpu.params[v]!;
    const got = gpu.params[v]!;
    for (let i = 0; i < want.length; i++)
      params.add(`${where} value[${i}]`, got[i]!, want[i]!, tolerance(want[i]!));
    const wantMoments = moments(cpu.slots[v]!, want.length);
    const gotMoments = moments(gpu.slots[v]!, want.length);
    for (const [name, expected] of wantMoments) {
      const actual = gotMoments.get(name);
      if (!actual) {
        slots.add(`${where} ${name} missing on webgpu`, Number.NaN, 0, 1);
        continue;
      }
      for (let i = 0; i < want.length; i++) {
        const e = expected.values[i]!;
        let allowed = tolerance(e);
        if (expected.codes && expected.map && expected.absmax) {
          const code = codeAt(expected.codes, i);
          const { values } = expected.map;
          const gap = Math.max(
            code > 0 ? values[code]! - values[code - 1]! : 0,
            code < values.length - 1 ? values[code + 1]! - values[code]! : 0,
          );
          allowed += gap * expected.absmax[Math.floor(i / BLOCK)]! * (1 + 1e-4);
          if (actual.codes && codeAt(actual.codes, i) !== code) flips += 1;
        }
        slots.add(`${where} ${name}[${i}]`, actual.values[i]!, e, allowed);
      }
    }
  });
  return flips;
}

interface Run {
  snapshots: Snapshot[];
  /** cpu: the saved state after each step; webgpu: after the last one. */
  states: Uint8Array[];
  /** webgpu: one more step after the last saved state. */
  next?: Snapshot;
  tensors: { baseline: number; steps: number[]; afterDispose: number };
  slotNames: string[][];
  /** Per step: how many times each 8-bit kernel ran. */
  kernels: Record<string, number>[];
  /** The active backend at each step. */
  backends: Set<string>;
}

/** Runs `fn`, counting the engine's calls of each of `names`. */
function countKernels(names: readonly string[], fn: () => void): Record<string, number> {
  const engine = tf.engine();
  const runKernel = engine.runKernel;
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  engine.runKernel = ((kernelName, inputs, attrs) => {
    if (kernelName in counts) counts[kernelName]! += 1;
    return runKernel.call(engine, kernelName, inputs, attrs);
  }) as typeof runKernel;
  try {
    fn();
  } finally {
    engine.runKernel = runKernel;
  }
  return counts;
}

const KERNELS = ['OptimkitQuantize8bit', 'OptimkitDequantize8bit'] as const;

/**
 * `steps` steps on `backend` from the seeded start, with a snapshot after each, and on cpu the
 * saved state after each; on webgpu the saved state after the last step and one step more.
 */
async function trajectory(
  backend: 'cpu' | 'webgpu',
  request: OptimizerRequest,
  names: string[],
): Promise<Run> {
  await tf.setBackend(backend);
  const baseline = tf.memory().numTensors;
  const variables = makeVariables(names, startValues(request.seed));
  const optimizer = create(request.optimizer);
  const run: Run = {
    snapshots: [],
    states: [],
    tensors: { baseline, steps: [], afterDispose: -1 },
    slotNames: [],
    kernels: [],
    backends: new Set(),
  };
  try {
    for (let s = 1; s <= request.steps; s++) {
      run.kernels.push(countKernels(KERNELS, () => step(optimizer, variables, gradients(request.seed, s))));
      run.backends.add(tf.getBackend());
      run.tensors.steps.push(tf.memory().numTensors);
      run.snapshots.push(await snapshot(optimizer, variables));
      if (backend === 'cpu') run.states.push(await optimizer.saveState());
    }
    run.slotNames = variables.map((v) => Object.keys(optimizer.getSlots(v.name) ?? {}).sort());
    if (backend === 'webgpu') {
      run.states.push(await optimizer.saveState());
      step(optimizer, variables, gradients(request.seed, request.steps + 1));
      run.next = await snapshot(optimizer, variables);
    }
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  run.tensors.afterDispose = tf.memory().numTensors;
  return run;
}

let runs = 0;

async function optimizer(request: OptimizerRequest): Promise<OptimizerResult> {
  const previous = setFusedKernels(request.fusedKernels);
  try {
    return await compareOptimizer(request);
  } finally {
    setFusedKernels(previous);
  }
}

async function compareOptimizer(request: OptimizerRequest): Promise<OptimizerResult> {
  runs += 1;
  const names = SHAPES.map((_, i) => `q8run${runs}/v${i}`);
  const label =
    `${request.optimizer}({ stateDtype: 'int8' }) on [${SHAPES.map((s) => `[${s}]`).join(', ')}], ` +
    `fused kernels ${request.fusedKernels ? 'on' : 'off'}`;
  const cpu = await trajectory('cpu', request, names);
  const gpu = await trajectory('webgpu', request, names);

  const trajectoryParams = new Tally();
  const trajectoryMoments = new Tally();
  const trajectoryCodeFlips = cpu.snapshots.map((want, s) =>
    compare(`trajectory step ${s + 1}`, gpu.snapshots[s]!, want, trajectoryParams, trajectoryMoments),
  );

  // Every step again on webgpu, from cpu's parameters and saved state before it.
  const stepwiseParams = new Tally();
  const stepwiseMoments = new Tally();
  let stepwiseCodeFlips = 0;
  await tf.setBackend('webgpu');
  {
    const variables = makeVariables(names, startValues(request.seed));
    const optimizer = create(request.optimizer);
    try {
      for (let s = 1; s <= request.steps; s++) {
        if (s > 1) {
          await optimizer.loadState(cpu.states[s - 2]!);
          variables.forEach((v, i) => {
            const value = tf.tensor(cpu.snapshots[s - 2]!.params[i]!, v.shape, 'float32');
            v.assign(value);
            value.dispose();
          });
        }
        step(optimizer, variables, gradients(request.seed, s));
        const got = await snapshot(optimizer, variables);
        stepwiseCodeFlips += compare(
          `step ${s} from cpu's state`,
          got,
          cpu.snapshots[s - 1]!,
          stepwiseParams,
          stepwiseMoments,
        );
      }
    } finally {
      optimizer.dispose();
      tf.dispose(variables);
    }
  }

  // webgpu's state after its trajectory, loaded on cpu with its parameters: one more step each.
  const next = request.steps + 1;
  const bytes = gpu.states[0]!;
  await tf.setBackend('cpu');
  const nextStep = new Tally();
  let stateBytesEqual: boolean;
  {
    const variables = makeVariables(names, gpu.snapshots[request.steps - 1]!.params);
    const optimizer = create(request.optimizer);
    try {
      await optimizer.loadState(bytes);
      const again = await optimizer.saveState();
      stateBytesEqual = again.length === bytes.length && again.every((b, i) => b === bytes[i]);
      step(optimizer, variables, gradients(request.seed, next));
      compare(
        `step ${next} on cpu from webgpu's state`,
        gpu.next!,
        await snapshot(optimizer, variables),
        nextStep,
        nextStep,
      );
    } finally {
      optimizer.dispose();
      tf.dispose(variables);
    }
  }

  return {
    label,
    trajectoryParams: trajectoryParams.d,
    trajectoryMoments: trajectoryMoments.d,
    trajectoryCodeFlips,
    stepwiseParams: stepwiseParams.d,
    stepwiseMoments: stepwiseMoments.d,
    stepwiseCodeFlips,
    stateBytesEqual,
    stateBytes: bytes.length,
    nextStep: nextStep.d,
    slotNames: gpu.slotNames,
    tensors: { cpu: cpu.tensors, webgpu: gpu.tensors },
    kernels: { cpu: cpu.kernels, webgpu: gpu.kernels },
    backends: { cpu: [...cpu.backends], webgpu: [...gpu.backends] },
  };
}

/**
 * State across packings: `steps` adamw steps on webgl (codes three per int32) then one more step
 * from its saved state on webgpu and on cpu (both four per int32), compared; and the reverse
 * direction, webgpu's state stepped once on webgl and on cpu (parameters compared).
 */
async function packings(request: OptimizerRequest): Promise<PackingResult> {
  runs += 1;
  const names = SHAPES.map((_, i) => `q8pack${runs}/v${i}`);
  const result: PackingResult = {
    webglCodes: 0,
    webgpuCodes: 0,
    fromWebGL: new Tally().d,
    fromWebGPU: new Tally().d,
  };
  /** `steps` steps from the seeded start on `backend`: the parameters, the saved state and the [5000] variable's codes length. */
  const train = async (backend: string) => {
    await tf.setBackend(backend);
    const variables = makeVariables(names, startValues(request.seed));
    const optimizer = create(request.optimizer);
    try {
      for (let s = 1; s <= request.steps; s++) step(optimizer, variables, gradients(request.seed, s));
      const codes = Object.entries(optimizer.getSlots(names[1]!) ?? {}).find(([n]) =>
        n.endsWith('Codes'),
      )?.[1];
      return {
        params: (await snapshot(optimizer, variables)).params,
        bytes: await optimizer.saveState(),
        codes: codes?.size ?? 0,
      };
    } finally {
      optimizer.dispose();
      tf.dispose(variables);
    }
  };
  /** One step on `backend` from saved parameters and state. */
  const resume = async (backend: string, from: { params: Float32Array[]; bytes: Uint8Array }) => {
    await tf.setBackend(backend);
    const variables = makeVariables(names, from.params);
    const optimizer = create(request.optimizer);
    try {
      await optimizer.loadState(from.bytes);
      step(optimizer, variables, gradients(request.seed, request.steps + 1));
      return await snapshot(optimizer, variables);
    } finally {
      optimizer.dispose();
      tf.dispose(variables);
    }
  };
  const webgl = await train('webgl');
  result.webglCodes = webgl.codes;
  const fromWebGL = new Tally();
  compare(
    'webgl state, one step',
    await resume('webgpu', webgl),
    await resume('cpu', webgl),
    fromWebGL,
    fromWebGL,
  );
  result.fromWebGL = fromWebGL.d;
  const webgpu = await train('webgpu');
  result.webgpuCodes = webgpu.codes;
  const onWebGL = await resume('webgl', webgpu);
  const onCpu = await resume('cpu', webgpu);
  const fromWebGPU = new Tally();
  SHAPES.forEach((shape, v) => {
    const want = onCpu.params[v]!;
    for (let i = 0; i < want.length; i++)
      fromWebGPU.add(
        `webgpu state on webgl, [${shape}] value[${i}]`,
        onWebGL.params[v]![i]!,
        want[i]!,
        tolerance(want[i]!),
      );
  });
  result.fromWebGPU = fromWebGPU.d;
  return result;
}

declare global {
  interface Window {
    optimkitQuantized: {
      kernels: typeof kernels;
      kernelHygiene: typeof kernelHygiene;
      optimizer: typeof optimizer;
      packings: typeof packings;
    };
  }
}

window.optimkitQuantized = { kernels, kernelHygiene, optimizer, packings };
