/**
 * Block-wise 8-bit (de)quantisation on tfjs's WebGL backend (WebGL 2, float32 textures): one
 * fragment shader per pass run by the backend's `runWebGLProgram`, with the arithmetic of the cpu
 * kernel (`quantized-kernels.ts`). WebGL keeps int32 tensors in float32 texels, exact below 2^24,
 * so codes are packed three per int32 here (c₀ + c₁·2⁸ + c₂·2¹⁶). The dynamic map and its
 * midpoints are uniform arrays (64 `vec4` each: uniforms are read exactly and indexed cheaply,
 * where constant arrays in the source are rebuilt by some compilers for every fragment).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DEQUANTIZE,
  type MapTables,
  QUANTIZE,
  runDequantizeKernel,
  runQuantizeKernel,
} from './quantized-kernels.js';

/** The parts of tfjs-backend-webgl's `MathBackendWebGL` used here. */
interface WebGLBackendLike {
  runWebGLProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: 'float32' | 'int32',
    customUniformValues?: number[][],
  ): tf.TensorInfo;
}

type UniformSpec = { name: string; arrayIndex: number; type: 'vec4' };
const MAP_UNIFORM: UniformSpec = { name: 'optkMap', arrayIndex: 64, type: 'vec4' };
const MIDPOINT_UNIFORM: UniformSpec = { name: 'optkMid', arrayIndex: 64, type: 'vec4' };

/** A `GPGPUProgram` of tfjs-backend-webgl: one value per texel in and out. */
class OptimkitQuantizedProgram {
  readonly packedInputs = false;
  readonly packedOutput = false;
  readonly enableShapeUniforms = false;
  constructor(
    readonly variableNames: string[],
    readonly outputShape: number[],
    readonly userCode: string,
    readonly customUniforms: UniformSpec[],
  ) {}
}

const uniformValues = new WeakMap<MapTables, { map: number[]; midpoints: number[] }>();

/** The map's 256 values and its 255 midpoints (padded to 256) as uniform values. */
function tableValues(tables: MapTables): { map: number[]; midpoints: number[] } {
  let found = uniformValues.get(tables);
  if (!found) {
    found = { map: Array.from(tables.values), midpoints: [...tables.midpoints, 0] };
    uniformValues.set(tables, found);
  }
  return found;
}

const MAP_LOOKUP = 'float optkMapValue(int code) { return optkMap[code >> 2][code & 3]; }\n';
const MIDPOINT_LOOKUP = 'float optkMidpoint(int k) { return optkMid[k >> 2][k & 3]; }\n';

/** float32 `[size]`: `map[code] · absmax[block]`, codes read from `codes` (three per int32). */
function dequantizeSource(tables: MapTables): string {
  return `${MAP_LOOKUP}
void main() {
  int i = getOutputCoords();
  int word = int(getCodes(i / 3));
  int code = (word >> (8 * (i - (i / 3) * 3))) & 255;
  setOutput(optkMapValue(code) * getAbsmax(i / ${tables.block}));
}
`;
}

/** float32 `[blocks]`: the largest |x| of each block; a NaN, once met, stays (as on cpu). */
function absmaxSource(size: number, tables: MapTables): string {
  return `
void main() {
  int start = getOutputCoords() * ${tables.block};
  float largest = 0.0;
  for (int k = 0; k < ${tables.block}; k++) {
    int i = start + k;
    if (i >= ${size}) break;
    float magnitude = abs(getX(i));
    if (isnan(magnitude) || (!isnan(largest) && magnitude > largest)) largest = magnitude;
  }
  setOutput(largest);
}
`;
}

/** int32 `[words]`: three codes per element, each the nearest code of `x / absmax` (cpu's rule). */
function quantizeSource(size: number, tables: MapTables): string {
  const zero = tables.zero;
  return `${MIDPOINT_LOOKUP}
int optkCode(int i) {
  if (i >= ${size}) return ${zero};
  float largest = getAbsmax(i / ${tables.block});
  float divisor = !isnan(largest) && largest > 0.0 ? largest : 1.0;
  float v = getX(i) / divisor;
  int code = 0;
  for (int step = 128; step >= 1; step /= 2) {
    if (v > optkMidpoint(code + step - 1)) code += step;
  }
  ${tables.signed ? `if (v < 0.0 && code == ${zero}) code = ${zero - 1};` : ''}
  return code;
}

void main() {
  int first = getOutputCoords() * 3;
  setOutput(float(optkCode(first) + optkCode(first + 1) * 256 + optkCode(first + 2) * 65536));
}
`;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

interface Attrs {
  size: number;
  blocks: number;
  words: number;
  tables: MapTables;
}

/** A program run once (tfjs keys its compiled shaders by source and input shapes). */
function program(
  names: string[],
  outputShape: number[],
  source: string,
  uniforms: UniformSpec[] = [],
): OptimkitQuantizedProgram {
  return new OptimkitQuantizedProgram(names, outputShape, source, uniforms);
}

function dequantizeKernel(args: KernelArgs): tf.TensorInfo {
  const { codes, absmax } = args.inputs as { codes: tf.TensorInfo; absmax: tf.TensorInfo };
  const { size, tables } = args.attrs as unknown as Attrs;
  const backend = args.backend as unknown as WebGLBackendLike;
  const run = program(['codes', 'absmax'], [size], dequantizeSource(tables), [MAP_UNIFORM]);
  return backend.runWebGLProgram(run, [codes, absmax], 'float32', [tableValues(tables).map]);
}

function quantizeKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { blocks, words, tables } = args.attrs as unknown as Attrs;
  const size = x.shape.reduce((a, b) => a * b, 1);
  const backend = args.backend as unknown as WebGLBackendLike;
  const absmax = backend.runWebGLProgram(
    program(['x'], [blocks], absmaxSource(size, tables)),
    [x],
    'float32',
  );
  const codes = backend.runWebGLProgram(
    program(['x', 'absmax'], [words], quantizeSource(size, tables), [MIDPOINT_UNIFORM]),
    [x, absmax],
    'int32',
    [tableValues(tables).midpoints],
  );
  return [codes, absmax];
}

let registered = false;

function ensureKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: DEQUANTIZE,
    backendName: 'webgl',
    kernelFunc: dequantizeKernel as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: QUANTIZE,
    backendName: 'webgl',
    kernelFunc: quantizeKernel as tf.KernelFunc,
  });
}

/**
 * The float32 values (`[size]`) of a quantised slot on webgl: codes int32 `[ceil(blocks · 256 / 3)]`
 * packed three per element, absmax float32 `[blocks]`.
 */
export function dequantizeWebGL(
  codes: tf.Tensor,
  absmax: tf.Tensor,
  size: number,
  tables: MapTables,
): tf.Tensor {
  ensureKernels();
  return runDequantizeKernel(codes, absmax, size, tables);
}

/**
 * The codes (int32 `[ceil(blocks · 256 / 3)]`, three per element) and absmax (float32 `[blocks]`)
 * of float32 values on webgl, by the rule of the cpu kernel.
 */
export function quantizeWebGL(
  values: tf.Tensor,
  blocks: number,
  tables: MapTables,
): { codes: tf.Tensor; absmax: tf.Tensor } {
  ensureKernels();
  const words = Math.ceil((blocks * tables.block) / 3);
  // The shaders read values by flat index: a vector (a reshape, free for unpacked textures).
  return tf.tidy(() => runQuantizeKernel(tf.reshape(values, [values.size]), words, blocks, tables));
}
