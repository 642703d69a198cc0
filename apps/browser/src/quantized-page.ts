/**
 * 8-bit optimizer state on a GPU backend (webgl or webgpu, named in each request) against the cpu
 * backend: core's GLSL and WGSL (de)quantisation kernels against the cpu kernels on seeded values,
 * and `adamw`/`lion` with `stateDtype: 'int8'` trained on both backends; on webgl also a backend
 * switch mid-training and the refusal without float32 textures. Installs `window.optimkitQuantized`;
 * the backend is started with `window.optimkitBrowser.init(backend)` first. Codes are read with a
 * decoder of the page's own, by the packing of the backend that made them (four per int32 on cpu
 * and webgpu, three on webgl). Every read-back is `await t.data()` (`dataSync()` on WebGPU breaks
 * the device in headless chromium).
 */
import { adamw } from '@optimkit/adam';
import { setFusedKernels } from '@optimkit/core';
import { lion } from '@optimkit/lion';
import * as tf from '@tensorflow/tfjs-core';
// Core's internal kernels, from its sources (the page is built from them): not public API.
import type { MapTables } from '../../../packages/core/src/quantized-kernels.js';
import { dequantizeKernelRun, quantizeKernelRun } from '../../../packages/core/src/quantized-kernels.js';
import { dynamicMap, quantizedSizes } from '../../../packages/core/src/quantized-state.js';
import { dequantizeWebGL, quantizeWebGL } from '../../../packages/core/src/quantized-webgl.js';
import { dequantizeWebGPU, quantizeWebGPU } from '../../../packages/core/src/quantized-webgpu.js';
import { seededRandom, tolerance } from './cases.js';
import type { GpuBackend } from './protocol.js';
import type {
  Discrepancy,
  Float16RefusalResult,
  KernelCaseResult,
  KernelRequest,
  KernelResult,
  KernelTimes,
  MapKind,
  MemoryRequest,
  MemoryResult,
  OptimizerRequest,
  OptimizerResult,
  PackingResult,
  RefusalResult,
  SwitchRequest,
  SwitchResult,
  TensorCounts,
} from './quantized-protocol.js';

const BLOCK = 256;
/** How close (in float32 steps) to a midpoint a quotient may be for a 2.5-ulp division (WGSL's, GLSL ES 3's) to move it across. */
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

/** Codes per int32 as `backend` packs them: three on webgl (words below 2^24, exact in float32 texels), else four. */
type PerWord = 3 | 4;
const perWordOf = (backend: string): PerWord => (backend === 'webgl' ? 3 : 4);

/** The int32 elements that hold the codes of `blocks` blocks, `perWord` to an element. */
const wordsFor = (blocks: number, perWord: PerWord) => Math.ceil((blocks * BLOCK) / perWord);

/**
 * The code of value `i` in words packed `perWord` to an int32: byte `i % perWord` of word
 * `i / perWord`, lowest first; with four, the top byte is stored XOR 0x80 (so that words fit int32).
 */
function codeAt(words: Int32Array, i: number, perWord: PerWord): number {
  const word = Math.floor(i / perWord);
  const k = i - word * perWord;
  const byte = (words[word]! >>> (8 * k)) & 0xff;
  return perWord === 4 && k === 3 ? byte ^ 0x80 : byte;
}

/** `codes` packed `perWord` to an int32 as {@link codeAt} reads them; the last word filled with `fill`. */
function packCodes(codes: Uint8Array, perWord: PerWord, fill: number): Int32Array {
  const words = new Int32Array(Math.ceil(codes.length / perWord));
  for (let w = 0; w < words.length; w++) {
    let word = 0;
    for (let k = 0; k < perWord; k++) {
      const code = w * perWord + k < codes.length ? codes[w * perWord + k]! : fill;
      word |= (perWord === 4 && k === 3 ? code ^ 0x80 : code) << (8 * k);
    }
    words[w] = word;
  }
  return words;
}

/** The dequantised values of packed codes, in float32 (`map[code] · absmax[block]`). */
function dequantized(
  words: Int32Array,
  perWord: PerWord,
  absmax: Float32Array,
  n: number,
  t: MapTables,
): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => t.values[codeAt(words, i, perWord)]! * absmax[Math.floor(i / BLOCK)]!,
  );
}

/** Each GPU backend's (de)quantisation kernels, as core runs them there. */
const GPU_KERNELS: Record<
  GpuBackend,
  {
    quantize: (
      values: tf.Tensor,
      blocks: number,
      tables: MapTables,
    ) => { codes: tf.Tensor; absmax: tf.Tensor };
    dequantize: (codes: tf.Tensor, absmax: tf.Tensor, size: number, tables: MapTables) => tf.Tensor;
  }
> = {
  webgl: { quantize: quantizeWebGL, dequantize: dequantizeWebGL },
  webgpu: { quantize: quantizeWebGPU, dequantize: dequantizeWebGPU },
};

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

async function kernelCase(
  backend: GpuBackend,
  random: () => number,
  n: number,
  map: MapKind,
): Promise<KernelCaseResult> {
  const tables = dynamicMap(map);
  const { blocks, words } = quantizedSizes(n);
  const perWord = perWordOf(backend);
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

  // cpu's codes as this backend packs them (the same codes, padding included).
  const cpuCodesHere =
    perWord === 4
      ? cpuCodes
      : packCodes(
          Uint8Array.from({ length: blocks * BLOCK }, (_, i) => codeAt(cpuCodes, i, 4)),
          perWord,
          tables.zero,
        );
  const kernels = GPU_KERNELS[backend];
  await tf.setBackend(backend);
  const gpu = tf.tidy(() => {
    const q = kernels.quantize(tf.tensor(x, [n], 'float32'), blocks, tables);
    // cpu's codes and absmax, dequantised here.
    const values = kernels.dequantize(tf.tensor1d(cpuCodesHere, 'int32'), tf.tensor1d(cpuAbsmax), n, tables);
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
    words: gpuCodes.length,
    codesPerWord: perWord,
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
    badWords: 0,
    dequantizeMismatches: [],
  };
  if (gpuCodes.length !== wordsFor(blocks, perWord))
    throw new Error(
      `${backend}: ${gpuCodes.length} codes words for ${blocks} blocks, not ${wordsFor(blocks, perWord)} (${perWord} codes each)`,
    );
  for (let b = 0; b < blocks; b++) {
    if (!sameBits(gpuAbsmax[b]!, cpuAbsmax[b]!))
      result.absmaxMismatches.push(`block ${b}: ${backend} ${gpuAbsmax[b]}, cpu ${cpuAbsmax[b]}`);
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
    const want = codeAt(cpuCodes, i, 4);
    const got = codeAt(gpuCodes, i, perWord);
    if (got !== want) {
      result.codeMismatches += 1;
      if (near && Math.abs(got - want) === 1) result.nearMidpointFlips += 1;
      else if (result.badCodes.length < 8)
        result.badCodes.push(
          `value ${i} = ${x[i]} (quotient ${v}): code ${got} on ${backend}, ${want} on cpu`,
        );
      else if (result.badCodes.length === 8) result.badCodes.push('…');
    }
    if (!sameBits(gpuValues[i]!, cpuValues[i]!) && result.dequantizeMismatches.length < 8)
      result.dequantizeMismatches.push(`value ${i}: ${backend} ${gpuValues[i]}, cpu ${cpuValues[i]}`);
  }
  for (let i = n; i < gpuCodes.length * perWord; i++)
    if (codeAt(gpuCodes, i, perWord) !== tables.zero) result.badPadding += 1;
  if (perWord === 3) result.badWords = gpuCodes.filter((w) => w < 0 || w >= 2 ** 24).length;
  return result;
}

/** Repeated quantise → dequantise calls on the GPU backend: numTensors while held and after disposal. */
async function kernelMemory({ backend, size: n, repeats }: MemoryRequest): Promise<MemoryResult> {
  await tf.setBackend(backend);
  const kernels = GPU_KERNELS[backend];
  const tables = dynamicMap('signed');
  const { blocks } = quantizedSizes(n);
  const x = tf.tensor1d(kernelValues(seededRandom(17), n, false, tables.midpoints));
  const tensors: MemoryResult = { baseline: tf.memory().numTensors, held: [], afterDispose: [] };
  try {
    for (let r = 0; r < repeats; r++) {
      const { codes, absmax } = kernels.quantize(x, blocks, tables);
      const values = tf.tidy(() => tf.reshape(kernels.dequantize(codes, absmax, n, tables), [n]));
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

/** Bad inputs of the WebGPU kernels (the WebGL ones check none): each call must throw, and no tensor be left behind. */
async function kernelRefusals(): Promise<RefusalResult> {
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
async function kernelTimes(backend: 'cpu' | GpuBackend, n: number): Promise<KernelTimes> {
  await tf.setBackend(backend);
  const tables = dynamicMap('signed');
  const { blocks, words } = quantizedSizes(n);
  const x = tf.tensor1d(kernelValues(seededRandom(23), n, false, tables.midpoints));
  const kernels =
    backend === 'cpu'
      ? {
          quantize: () => quantizeKernelRun(x, words, blocks, tables),
          dequantize: (codes: tf.Tensor, absmax: tf.Tensor) => dequantizeKernelRun(codes, absmax, n, tables),
        }
      : {
          quantize: () => GPU_KERNELS[backend].quantize(x, blocks, tables),
          dequantize: (codes: tf.Tensor, absmax: tf.Tensor) =>
            GPU_KERNELS[backend].dequantize(codes, absmax, n, tables),
        };
  const quantizeOnce = kernels.quantize;
  const q = quantizeOnce();
  const dequantizeOnce = () => kernels.dequantize(q.codes, q.absmax);
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
  const { backend } = request;
  for (const n of request.sizes) {
    for (const map of ['signed', 'unsigned'] as const) cases.push(await kernelCase(backend, random, n, map));
  }
  // Past 65535 workgroups tfjs spreads a WebGPU dispatch over two dimensions; WebGL takes textures past 4096² texels.
  if (request.large) cases.push(await kernelCase(backend, random, request.large, 'signed'));
  const times = {
    size: request.timedSize,
    cpu: await kernelTimes('cpu', request.timedSize),
    gpu: await kernelTimes(backend, request.timedSize),
  };
  return { backend, cases, times };
}

// ---------------------------------------------------------------------------------------------
// The optimizers.

const SHAPES: readonly number[][] = [[100, 100], [5000], [5]];
/** The dynamic map of each quantised moment (first moments signed, second unsigned; Lion's `m`). */
const MAP_OF: Readonly<Record<string, MapKind>> = { expAvg: 'signed', expAvgSq: 'unsigned', m: 'signed' };

type Slots = Record<string, Float32Array | Int32Array>;

interface Snapshot {
  /** The active backend when it was taken: the one whose packing its codes have. */
  backend: string;
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

function makeVariables(
  names: string[],
  values: Float32Array[],
  shapes: readonly number[][] = SHAPES,
): tf.Variable[] {
  return shapes.map((shape, i) => {
    const value = tf.tensor(values[i]!, [...shape], 'float32');
    const variable = tf.variable(value, true, names[i]);
    value.dispose();
    return variable;
  });
}

function gradientMap(variables: tf.Variable[], grads: Float32Array[]): tf.NamedTensorMap {
  const map: tf.NamedTensorMap = {};
  variables.forEach((v, i) => {
    map[v.name] = tf.tensor(grads[i]!, v.shape, 'float32');
  });
  return map;
}

function step(optimizer: Optimizer, variables: tf.Variable[], grads: Float32Array[]): void {
  const map = gradientMap(variables, grads);
  optimizer.applyGradients(map);
  tf.dispose(Object.values(map));
}

async function snapshot(optimizer: Optimizer, variables: tf.Variable[]): Promise<Snapshot> {
  const backend = tf.getBackend();
  const params = await Promise.all(variables.map((v) => read<Float32Array>(v)));
  const slots = await Promise.all(
    variables.map(async (v) => {
      const held = optimizer.getSlots(v.name) ?? {};
      const out: Slots = {};
      for (const name of Object.keys(held).sort()) out[name] = await read(held[name]!);
      return out;
    }),
  );
  return { backend, params, slots };
}

/** The element counts of the codes of every quantised slot: the variables in order, slots by name. */
function codeLengths(optimizer: Optimizer, variables: tf.Variable[]): number[] {
  return variables.flatMap((v) =>
    Object.entries(optimizer.getSlots(v.name) ?? {})
      .filter(([name]) => name.endsWith('Codes'))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, codes]) => codes.size),
  );
}

interface Moment {
  values: Float32Array;
  codes?: Int32Array;
  perWord?: PerWord;
  map?: MapTables;
  absmax?: Float32Array;
}

/** Each moment as float32 values (quantised ones dequantised by `backend`'s packing), by slot name. */
function moments(slots: Slots, size: number, backend: string): Map<string, Moment> {
  const out = new Map<string, Moment>();
  const perWord = perWordOf(backend);
  for (const [name, data] of Object.entries(slots)) {
    if (name.endsWith('Absmax')) continue;
    if (name.endsWith('Codes')) {
      const base = name.slice(0, -'Codes'.length);
      const kind = MAP_OF[base];
      if (!kind) throw new Error(`no dynamic map known for the quantised slot '${base}'`);
      const map = dynamicMap(kind);
      const absmax = slots[`${base}Absmax`] as Float32Array;
      const codes = data as Int32Array;
      if (codes.length !== wordsFor(absmax.length, perWord))
        throw new Error(
          `${name} on ${backend}: ${codes.length} words for ${absmax.length} blocks, not ${wordsFor(absmax.length, perWord)} (${perWord} codes each)`,
        );
      out.set(base, { values: dequantized(codes, perWord, absmax, size, map), codes, perWord, map, absmax });
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
      if (this.d.failures.length < 8) this.d.failures.push(`${where}: ${got} against ${want}`);
      this.d.worst = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : Math.max(this.d.worst, ratio);
    } else {
      this.d.worst = Math.max(this.d.worst, ratio);
    }
  }
}

/** Adds the parameters of `got` against those of `want` (within `1e-6 + 1e-4·|want|`) to `params`. */
function compareParams(label: string, got: Snapshot, want: Snapshot, params: Tally): void {
  SHAPES.forEach((shape, v) => {
    const where = `${label}, [${shape}] (${got.backend} against ${want.backend})`;
    const expected = want.params[v]!;
    const actual = got.params[v]!;
    for (let i = 0; i < expected.length; i++)
      params.add(`${where} value[${i}]`, actual[i]!, expected[i]!, tolerance(expected[i]!));
  });
}

/** Compares snapshot `got` with `want` (cpu's, say): params within tolerance, moments within one code step; counts code flips. */
function compare(label: string, got: Snapshot, want: Snapshot, params: Tally, slots: Tally): number {
  compareParams(label, got, want, params);
  let flips = 0;
  SHAPES.forEach((shape, v) => {
    const where = `${label}, [${shape}] (${got.backend} against ${want.backend})`;
    const size = sizeOf(shape);
    const wantMoments = moments(want.slots[v]!, size, want.backend);
    const gotMoments = moments(got.slots[v]!, size, got.backend);
    for (const [name, expected] of wantMoments) {
      const actual = gotMoments.get(name);
      if (!actual) {
        slots.add(`${where} ${name} missing on ${got.backend}`, Number.NaN, 0, 1);
        continue;
      }
      for (let i = 0; i < size; i++) {
        const e = expected.values[i]!;
        let allowed = tolerance(e);
        if (expected.codes && expected.perWord && expected.map && expected.absmax) {
          const code = codeAt(expected.codes, i, expected.perWord);
          const { values } = expected.map;
          const gap = Math.max(
            code > 0 ? values[code]! - values[code - 1]! : 0,
            code < values.length - 1 ? values[code + 1]! - values[code]! : 0,
          );
          allowed += gap * expected.absmax[Math.floor(i / BLOCK)]! * (1 + 1e-4);
          if (actual.codes && actual.perWord && codeAt(actual.codes, i, actual.perWord) !== code) flips += 1;
        }
        slots.add(`${where} ${name}[${i}]`, actual.values[i]!, e, allowed);
      }
    }
  });
  return flips;
}

interface Run {
  snapshots: Snapshot[];
  /** cpu: the saved state after each step; the GPU backend: after the last one. */
  states: Uint8Array[];
  /** The GPU backend: one more step after the last saved state. */
  next?: Snapshot;
  tensors: TensorCounts;
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
 * saved state after each; on a GPU backend the saved state after the last step and one step more.
 */
async function trajectory(
  backend: 'cpu' | GpuBackend,
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
    if (backend !== 'cpu') {
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
  const { backend } = request;
  const names = SHAPES.map((_, i) => `q8run${runs}/v${i}`);
  const label =
    `${backend} ${request.optimizer}({ stateDtype: 'int8' }) on [${SHAPES.map((s) => `[${s}]`).join(', ')}], ` +
    `fused kernels ${request.fusedKernels ? 'on' : 'off'}`;
  const cpu = await trajectory('cpu', request, names);
  const gpu = await trajectory(backend, request, names);

  const trajectoryParams = new Tally();
  const trajectoryMoments = new Tally();
  const trajectoryCodeFlips = cpu.snapshots.map((want, s) =>
    compare(`trajectory step ${s + 1}`, gpu.snapshots[s]!, want, trajectoryParams, trajectoryMoments),
  );

  // Every step again on the GPU backend, from cpu's parameters and saved state before it.
  const stepwiseParams = new Tally();
  const stepwiseMoments = new Tally();
  let stepwiseCodeFlips = 0;
  await tf.setBackend(backend);
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

  // The GPU backend's state after its trajectory, loaded on cpu with its parameters: one more step each.
  const next = request.steps + 1;
  const bytes = gpu.states[0]!;
  await tf.setBackend('cpu');
  const nextStep = new Tally();
  let stateBytesEqual: boolean;
  let savedCodes: number[];
  {
    const variables = makeVariables(names, gpu.snapshots[request.steps - 1]!.params);
    const optimizer = create(request.optimizer);
    try {
      await optimizer.loadState(bytes);
      savedCodes = codeLengths(optimizer, variables);
      const again = await optimizer.saveState();
      stateBytesEqual = again.length === bytes.length && again.every((b, i) => b === bytes[i]);
      step(optimizer, variables, gradients(request.seed, next));
      compare(
        `step ${next} on cpu from ${backend}'s state`,
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
    savedCodes,
    nextStep: nextStep.d,
    slotNames: gpu.slotNames,
    tensors: { cpu: cpu.tensors, gpu: gpu.tensors },
    kernels: { cpu: cpu.kernels, gpu: gpu.kernels },
    backends: { cpu: [...cpu.backends], gpu: [...gpu.backends] },
  };
}

interface Trained {
  snapshot: Snapshot;
  bytes: Uint8Array;
  /** The codes lengths of the quantised slots (see {@link codeLengths}). */
  codes: number[];
}

/** Steps `first` … `last` of `kind` on `backend`, from `from`'s parameters and state, or from the seeded start. */
async function train(
  backend: string,
  kind: OptimizerRequest['optimizer'],
  seed: number,
  names: string[],
  first: number,
  last: number,
  from?: Trained,
): Promise<Trained> {
  await tf.setBackend(backend);
  const variables = makeVariables(names, from ? from.snapshot.params : startValues(seed));
  const optimizer = create(kind);
  try {
    if (from) await optimizer.loadState(from.bytes);
    for (let s = first; s <= last; s++) step(optimizer, variables, gradients(seed, s));
    return {
      snapshot: await snapshot(optimizer, variables),
      bytes: await optimizer.saveState(),
      codes: codeLengths(optimizer, variables),
    };
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
}

/**
 * State across packings: `steps` adamw steps on webgl (codes three per int32) then one more step
 * from its saved state on webgpu and on cpu (both four per int32), compared; and the reverse
 * direction, webgpu's state stepped once on webgl and on cpu (parameters compared).
 */
async function packings(request: OptimizerRequest): Promise<PackingResult> {
  runs += 1;
  const names = SHAPES.map((_, i) => `q8pack${runs}/v${i}`);
  const { optimizer: kind, seed, steps } = request;
  const next = steps + 1;
  // The [5000] variable's first moment: the third codes tensor (after the [100, 100] variable's two).
  const firstMomentOf5000 = 2;
  const webgl = await train('webgl', kind, seed, names, 1, steps);
  const fromWebGL = new Tally();
  compare(
    'webgl state, one step',
    (await train('webgpu', kind, seed, names, next, next, webgl)).snapshot,
    (await train('cpu', kind, seed, names, next, next, webgl)).snapshot,
    fromWebGL,
    fromWebGL,
  );
  const webgpu = await train('webgpu', kind, seed, names, 1, steps);
  const onWebGL = await train('webgl', kind, seed, names, next, next, webgpu);
  const onCpu = await train('cpu', kind, seed, names, next, next, webgpu);
  const fromWebGPU = new Tally();
  compareParams('webgpu state, one step', onWebGL.snapshot, onCpu.snapshot, fromWebGPU);
  return {
    webglCodes: webgl.codes[firstMomentOf5000]!,
    webgpuCodes: webgpu.codes[firstMomentOf5000]!,
    fromWebGL: fromWebGL.d,
    fromWebGPU: fromWebGPU.d,
  };
}

/**
 * `adamw` int8 on webgl with `tf.setBackend` switched between steps: `before` steps on webgl,
 * `after` on cpu (the codes repacked four per int32 at the first), `back` on webgl again (three per
 * int32), against the same steps resumed on cpu from webgl's saved state and against cpu alone.
 */
async function backendSwitch(request: SwitchRequest): Promise<SwitchResult> {
  runs += 1;
  const names = SHAPES.map((_, i) => `q8switch${runs}/v${i}`);
  const { seed, before, after, back } = request;
  const plan = [
    ...Array<string>(before).fill('webgl'),
    ...Array<string>(after).fill('cpu'),
    ...Array<string>(back).fill('webgl'),
  ];
  await tf.setBackend('webgl');
  const tensors: TensorCounts = { baseline: tf.memory().numTensors, steps: [], afterDispose: -1 };
  const backends: string[] = [];
  const lengths: number[][] = [];
  let atSwitchBack: Snapshot | undefined;
  let final: Snapshot;
  {
    const variables = makeVariables(names, startValues(seed));
    const optimizer = create('adamw');
    try {
      for (let s = 1; s <= plan.length; s++) {
        if (tf.getBackend() !== plan[s - 1]) await tf.setBackend(plan[s - 1]!);
        step(optimizer, variables, gradients(seed, s));
        backends.push(tf.getBackend());
        tensors.steps.push(tf.memory().numTensors);
        lengths.push(codeLengths(optimizer, variables));
        if (s === before + after) atSwitchBack = await snapshot(optimizer, variables);
      }
      final = await snapshot(optimizer, variables);
    } finally {
      optimizer.dispose();
      tf.dispose(variables);
    }
  }
  tensors.afterDispose = tf.memory().numTensors;
  if (!atSwitchBack) throw new RangeError(`backendSwitch: no step after ${before} + ${after}`);

  const onWebGL = await train('webgl', 'adamw', seed, names, 1, before);
  const resumed = await train('cpu', 'adamw', seed, names, before + 1, before + after, onWebGL);
  const cpuOnly = await train('cpu', 'adamw', seed, names, 1, before + after);
  const cpuAll = await train('cpu', 'adamw', seed, names, 1, plan.length);
  const againstResumed = new Tally();
  const againstCpu = new Tally();
  const finalAgainstCpu = new Tally();
  const label = `step ${before + after} of the switched run`;
  compare(label, atSwitchBack, resumed.snapshot, againstResumed, againstResumed);
  compare(label, atSwitchBack, cpuOnly.snapshot, againstCpu, againstCpu);
  compare(
    `step ${plan.length} of the switched run`,
    final,
    cpuAll.snapshot,
    finalAgainstCpu,
    finalAgainstCpu,
  );
  return {
    backends,
    codeLengths: lengths,
    tensors,
    againstResumed: againstResumed.d,
    againstCpu: againstCpu.d,
    finalAgainstCpu: finalAgainstCpu.d,
  };
}

/**
 * On webgl without float32 textures (the page's `?f16`): one `adamw({ stateDtype: 'int8' })` step
 * on a [64, 64] variable (quantised moments) and a [5] one (float32 moments) must be refused, and
 * change nothing.
 */
async function float16Refusal(): Promise<Float16RefusalResult> {
  runs += 1;
  await tf.setBackend('webgl');
  const shapes = [[64, 64], [5]];
  const names = shapes.map((_, i) => `q8f16${runs}/v${i}`);
  const random = seededRandom(43);
  const variables = makeVariables(
    names,
    shapes.map((shape) => Float32Array.from({ length: sizeOf(shape) }, () => random() * 2 - 1)),
    shapes,
  );
  const optimizer = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
  const grads = gradientMap(
    variables,
    shapes.map((shape) => Float32Array.from({ length: sizeOf(shape) }, () => random() - 0.5)),
  );
  try {
    // What the 16-bit textures hold, before the step.
    const start = await Promise.all(variables.map((v) => read<Float32Array>(v)));
    const tensorsBefore = tf.memory().numTensors;
    let error = '(no error)';
    try {
      optimizer.applyGradients(grads);
    } catch (caught) {
      error = caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught);
    }
    const tensorsAfter = tf.memory().numTensors;
    const end = await Promise.all(variables.map((v) => read<Float32Array>(v)));
    return {
      float32Textures: tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED'),
      error,
      slotsKept: variables.some((v) => optimizer.getSlots(v.name) !== undefined),
      iterations: optimizer.iterations,
      variablesUnchanged: end.every((values, v) => values.every((x, i) => sameBits(x, start[v]![i]!))),
      tensorsBefore,
      tensorsAfter,
    };
  } finally {
    optimizer.dispose();
    tf.dispose([...variables, ...Object.values(grads)]);
  }
}

declare global {
  interface Window {
    optimkitQuantized: {
      kernels: typeof kernels;
      kernelMemory: typeof kernelMemory;
      kernelRefusals: typeof kernelRefusals;
      optimizer: typeof optimizer;
      packings: typeof packings;
      backendSwitch: typeof backendSwitch;
      float16Refusal: typeof float16Refusal;
    };
  }
}

window.optimkitQuantized = {
  kernels,
  kernelMemory,
  kernelRefusals,
  optimizer,
  packings,
  backendSwitch,
  float16Refusal,
};
