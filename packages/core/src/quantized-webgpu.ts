/**
 * Block-wise 8-bit (de)quantisation on tfjs's WebGPU backend, as WGSL compute shaders run by the
 * backend's `runWebGPUProgram` inside tfjs kernels named as the cpu and wasm ones
 * (`OptimkitDequantize8bit`, `OptimkitQuantize8bit`, registered for `webgpu` on first use), so
 * tensors are tfjs's and `tidy` disposes them. tfjs's composite int32 ops go through float32 on
 * WebGPU, which would lose the bits of four packed codes; these shaders handle each word as u32.
 * The map's values and midpoints are uniforms (64 `vec4<f32>` each, read exactly), not constant
 * arrays of the source, which compilers may copy into every invocation to index them; no tensor is
 * held between calls. The backend is typed structurally: core imports no backend package.
 *
 * Where they may differ from cpu's `quantizeInto`: WGSL's float32 division is accurate to 2.5 ulp,
 * so a value whose quotient lies within a few ulp of a midpoint may take the neighbouring code; and
 * GPUs may flush subnormal floats to zero. Absmax and dequantised values are the same bits.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DEQUANTIZE,
  type MapTables,
  QUANTIZE,
  runDequantizeKernel,
  runQuantizeKernel,
} from './quantized-kernels.js';

/** A program-defined uniform of tfjs-backend-webgpu (its values in declaration order). */
type Uniform = { type: 'int32' | 'float32'; data: number[] };

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` used here. */
interface WebGPUBackendLike {
  runWebGPUProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: 'float32' | 'int32',
    programDefinedUniform?: Uniform[],
  ): tf.TensorInfo;
}

const WORKGROUP = 64;

/** A `WebGPUProgram` of tfjs-backend-webgpu; made anew for every run (tfjs writes into it). */
class Optimkit8bitProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;
  readonly uniforms: string;
  private readonly code: string;

  constructor(
    inputs: number,
    outputSize: number,
    workgroups: number,
    code: { source: string; key: string },
    table?: 'optkMap' | 'optkMidpoints',
  ) {
    this.variableNames = Array.from({ length: inputs }, (_, i) => `optk${i}`);
    this.uniforms = `optkN : i32,${table ? ` ${table} : array<vec4<f32>, ${TABLE_VEC4S}>,` : ''}`;
    this.outputShape = [outputSize];
    this.dispatch = [workgroups, 1, 1];
    this.shaderKey = code.key;
    this.code = code.source;
  }

  getUserCode(): string {
    return this.code;
  }
}

interface Shaders {
  dequantize: { source: string; key: string };
  absmax: { source: string; key: string };
  codes: { source: string; key: string };
}

/** A table of 256 floats as uniforms: 64 `vec4<f32>` (an array's elements are 16-byte aligned there). */
const TABLE_VEC4S = 64;

const tableUniforms = new WeakMap<Float32Array, Uniform[]>();

/** The map's values or midpoints (255, padded with a 0) as the uniform entries of one table. */
function tableOf(values: Float32Array): Uniform[] {
  let found = tableUniforms.get(values);
  if (!found) {
    const padded = Array.from({ length: TABLE_VEC4S * 4 }, (_, i) => values[i] ?? 0);
    found = Array.from({ length: TABLE_VEC4S }, (_, k) => ({
      type: 'float32' as const,
      data: padded.slice(4 * k, 4 * k + 4),
    }));
    tableUniforms.set(values, found);
  }
  return found;
}

/**
 * Inputs are read by flat index (`optk0[i]`); `uniforms.optkN` is the number of values, `size` the
 * number of outputs. The absmax pass runs one workgroup per block; NaN and sign are read from the
 * bits, since WGSL lets implementations assume floats are never NaN.
 */
function shadersOf(t: MapTables, id: string): Shaders {
  const block = t.block;
  const perLane = block / WORKGROUP;
  const wordsPerBlock = block / 4;
  const dequantize = `
fn main(index : i32) {
  if (index < uniforms.size) {
    let word = bitcast<u32>(optk0[index / 4]);
    let lane = u32(index % 4);
    let code = ((word >> (8u * lane)) & 0xffu) ^ select(0u, 0x80u, lane == 3u);
    setOutputAtIndex(index, uniforms.optkMap[code >> 2u][code & 3u] * optk1[index / ${block}]);
  }
}
`;
  const absmax = `
var<workgroup> optkBlockMax : atomic<u32>;

fn main(index : i32) {
  let block = index / ${WORKGROUP};
  let lane = index % ${WORKGROUP};
  var magnitude = 0u;
  for (var k = 0; k < ${perLane}; k++) {
    let i = block * ${block} + k * ${WORKGROUP} + lane;
    if (i < uniforms.optkN) {
      magnitude = max(magnitude, bitcast<u32>(optk0[i]) & 0x7fffffffu);
    }
  }
  // As unsigned integers, the bits of non-negative floats order as the floats; every NaN is above
  // +inf. WebGPU zero-initialises workgroup memory, so the maximum starts at +0.
  atomicMax(&optkBlockMax, magnitude);
  workgroupBarrier();
  if (lane == 0 && block < uniforms.size) {
    let top = atomicLoad(&optkBlockMax);
    setOutputAtIndex(block, bitcast<f32>(select(top, 0x7fc00000u, top > 0x7f800000u)));
  }
}
`;
  const codes = `
fn optkCode(v : f32) -> u32 {
  let bits = bitcast<u32>(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return 0u;
  }
  var code = 0u;
  for (var half = 128u; half >= 1u; half = half >> 1u) {
    let k = code + half - 1u;
    if (v > uniforms.optkMidpoints[k >> 2u][k & 3u]) {
      code = code + half;
    }
  }
  ${t.signed ? `if (code == ${t.zero}u && (bits & 0x80000000u) != 0u && (bits & 0x7fffffffu) != 0u) { return ${t.zero - 1}u; }` : ''}
  return code;
}

fn main(index : i32) {
  if (index < uniforms.size) {
    let scaleBits = bitcast<u32>(optk1[index / ${wordsPerBlock}]);
    // A block of zeros (or with a NaN) divides by 1.
    let divisor = select(1.0, bitcast<f32>(scaleBits), scaleBits != 0u && scaleBits <= 0x7f800000u);
    var word = 0u;
    for (var k = 0; k < 4; k++) {
      let i = index * 4 + k;
      var code = ${t.zero}u;
      if (i < uniforms.optkN) {
        code = optkCode(optk0[i] / divisor);
      }
      word = word | (code << (8u * u32(k)));
    }
    setOutputAtIndexI32(index, bitcast<i32>(word ^ 0x80000000u));
  }
}
`;
  const key = (name: string) => ({ key: `optimkit8bit_${name}_${id}` });
  return {
    dequantize: { source: dequantize, ...key('dequantize') },
    absmax: { source: absmax, ...key('absmax') },
    codes: { source: codes, ...key('codes') },
  };
}

/** Shaders by what their source depends on (tfjs caches pipelines by shader key). */
const bySource = new Map<string, Shaders>();

function shaders(t: MapTables): Shaders {
  const source = `${t.signed ? 'signed' : 'unsigned'}${t.zero}_${t.block}`;
  let found = bySource.get(source);
  if (!found) {
    found = shadersOf(t, source);
    bySource.set(source, found);
  }
  return found;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

interface DequantizeAttrs {
  size: number;
  tables: MapTables;
}

interface QuantizeAttrs {
  words: number;
  blocks: number;
  tables: MapTables;
}

function dequantizeKernel(args: KernelArgs): tf.TensorInfo {
  const { codes, absmax } = args.inputs as { codes: tf.TensorInfo; absmax: tf.TensorInfo };
  const { size, tables } = args.attrs as unknown as DequantizeAttrs;
  const backend = args.backend as unknown as WebGPUBackendLike;
  const workgroups = Math.ceil(size / WORKGROUP);
  const program = new Optimkit8bitProgram(2, size, workgroups, shaders(tables).dequantize, 'optkMap');
  return backend.runWebGPUProgram(program, [codes, absmax], 'float32', [
    { type: 'int32', data: [size] },
    ...tableOf(tables.values),
  ]);
}

function quantizeKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { words, blocks, tables } = args.attrs as unknown as QuantizeAttrs;
  const backend = args.backend as unknown as WebGPUBackendLike;
  const n = x.shape.reduce((a, b) => a * b, 1);
  const found = shaders(tables);
  const size: Uniform = { type: 'int32', data: [n] };
  const absmax = backend.runWebGPUProgram(
    new Optimkit8bitProgram(1, blocks, blocks, found.absmax),
    [x],
    'float32',
    [size],
  );
  const codes = backend.runWebGPUProgram(
    new Optimkit8bitProgram(2, words, Math.ceil(words / WORKGROUP), found.codes, 'optkMidpoints'),
    [x, absmax],
    'int32',
    [size, ...tableOf(tables.midpoints)],
  );
  return [codes, absmax];
}

let registered = false;

function ensureKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of [
    [DEQUANTIZE, dequantizeKernel],
    [QUANTIZE, quantizeKernel],
  ] as const) {
    // These are the only exact (de)quantisation on webgpu: they replace any other of the name.
    if (tf.getKernel(kernelName, 'webgpu') !== undefined) tf.unregisterKernel(kernelName, 'webgpu');
    tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

function checkWebGPU(fn: string, tables: MapTables): void {
  const backend = tf.getBackend();
  if (backend !== 'webgpu') throw new Error(`${fn} runs on the webgpu backend, not on '${backend}'`);
  // A workgroup of 64 threads reduces one block.
  if (!(tables.block > 0 && tables.block % WORKGROUP === 0))
    throw new RangeError(`${fn}: the block must be a positive multiple of ${WORKGROUP}, got ${tables.block}`);
}

/**
 * The float32 values `map[code] · absmax[block]` of a quantised slot of `size` values, on tfjs's
 * WebGPU backend: one shader thread per value reads its byte of the packed word (lowest byte first,
 * the top one stored XOR 0x80) and scales the map value by its block's absmax. The same bits as
 * the cpu kernel (`dequantizeInto`), as one tfjs kernel (`OptimkitDequantize8bit`) inside the
 * caller's `tidy`.
 *
 * @param codes int32 `[blocks · block / 4]`: four 8-bit codes per element.
 * @param absmax float32 `[blocks]`: each block's largest magnitude.
 * @param size The number of values, `(blocks − 1) · block < size ≤ blocks · block`.
 * @param tables The dynamic map (`dynamicMap('signed' | 'unsigned')`): values, midpoints, block.
 * @returns float32 `[size]`.
 * @throws Error when the backend is not webgpu; RangeError when shapes, dtypes, `size` or the block disagree.
 * @example
 * ```ts
 * await tf.setBackend('webgpu');
 * const values = tf.tidy(() => dequantizeWebGPU(codes, absmax, 4096, dynamicMap('signed')));
 * ```
 */
export function dequantizeWebGPU(
  codes: tf.Tensor,
  absmax: tf.Tensor,
  size: number,
  tables: MapTables,
): tf.Tensor {
  checkWebGPU('dequantizeWebGPU', tables);
  const blocks = absmax.size;
  if (codes.dtype !== 'int32' || codes.size !== (blocks * tables.block) / 4)
    throw new RangeError(
      `dequantizeWebGPU: codes must be int32 of ${(blocks * tables.block) / 4} elements for ${blocks} blocks, got ${codes.dtype} [${codes.shape}]`,
    );
  if (absmax.dtype !== 'float32')
    throw new RangeError(`dequantizeWebGPU: absmax must be float32, got ${absmax.dtype}`);
  if (!Number.isInteger(size) || size <= (blocks - 1) * tables.block || size > blocks * tables.block)
    throw new RangeError(
      `dequantizeWebGPU: size ${size} does not fit ${blocks} blocks of ${tables.block} values`,
    );
  ensureKernels();
  return runDequantizeKernel(codes, absmax, size, tables);
}

/**
 * The codes and absmax of float32 `values` (any shape, `n = values.size`, read in row-major order)
 * on tfjs's WebGPU backend, as bitsandbytes' blockwise quantisation: absmax is each block's largest
 * magnitude (a NaN makes it NaN), computed by one workgroup per block; each value divided by it (a
 * block of zeros, or with a NaN, divides by 1) takes the number of midpoints it exceeds as its
 * code, on the signed map a negative value whose code is that of 0 the code below; padding up to
 * `blocks · block` takes the code of 0. One shader thread per packed word. As the cpu kernel
 * (`quantizeInto`), except that WGSL's division (2.5 ulp) can move a quotient within a few ulp of
 * a midpoint to the neighbouring code. One tfjs kernel (`OptimkitQuantize8bit`) inside the
 * caller's `tidy`.
 *
 * @param values float32, `n` values.
 * @param blocks `ceil(n / block)`.
 * @param tables The dynamic map (`dynamicMap('signed' | 'unsigned')`).
 * @returns `codes` int32 `[blocks · block / 4]`, `absmax` float32 `[blocks]`.
 * @throws Error when the backend is not webgpu; RangeError for a non-float32 `values`, a wrong `blocks` or block.
 * @example
 * ```ts
 * await tf.setBackend('webgpu');
 * const { codes, absmax } = quantizeWebGPU(moment, Math.ceil(moment.size / 256), dynamicMap('signed'));
 * ```
 */
export function quantizeWebGPU(
  values: tf.Tensor,
  blocks: number,
  tables: MapTables,
): { codes: tf.Tensor; absmax: tf.Tensor } {
  checkWebGPU('quantizeWebGPU', tables);
  if (values.dtype !== 'float32')
    throw new RangeError(`quantizeWebGPU: values must be float32, got ${values.dtype}`);
  if (blocks !== Math.ceil(values.size / tables.block))
    throw new RangeError(
      `quantizeWebGPU: ${values.size} values make ${Math.ceil(values.size / tables.block)} blocks of ${tables.block}, not ${blocks}`,
    );
  ensureKernels();
  return runQuantizeKernel(values, (blocks * tables.block) / 4, blocks, tables);
}
