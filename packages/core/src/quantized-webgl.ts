/**
 * Block-wise 8-bit (de)quantisation on tfjs's WebGL backend (WebGL 2, float32 textures): one
 * fragment shader per pass run by the backend's `runWebGLProgram`, with the arithmetic of the cpu
 * kernel (`quantized-kernels.ts`). WebGL keeps int32 tensors in float32 texels, exact below 2^24,
 * so codes are packed three per int32 here (c₀ + c₁·2⁸ + c₂·2¹⁶). The dynamic map and its
 * midpoints are constant arrays of float32 bits in the shader source, so no table is uploaded and
 * every value is read exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MapTables } from './quantized-kernels.js';

/** The parts of tfjs-backend-webgl's `MathBackendWebGL` used here. */
interface WebGLBackendLike {
  runWebGLProgram(program: object, inputs: tf.TensorInfo[], outputDtype: 'float32' | 'int32'): tf.TensorInfo;
}

/** A `GPGPUProgram` of tfjs-backend-webgl: one value per texel in and out. */
class OptimkitQuantizedProgram {
  readonly packedInputs = false;
  readonly packedOutput = false;
  readonly enableShapeUniforms = false;
  constructor(
    readonly variableNames: string[],
    readonly outputShape: number[],
    readonly userCode: string,
  ) {}
}

const bitsOf = (values: Float32Array) =>
  Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length), (b) => `${b}u`).join(', ');

const sources = new WeakMap<MapTables, string>();

/** The map's values and midpoints as `uint` constant arrays (their float32 bits). */
function tableSource(tables: MapTables): string {
  let source = sources.get(tables);
  if (source === undefined) {
    source =
      `const uint optkMapBits[256] = uint[256](${bitsOf(tables.values)});\n` +
      `const uint optkMidBits[255] = uint[255](${bitsOf(tables.midpoints)});\n`;
    sources.set(tables, source);
  }
  return source;
}

/** float32 `[size]`: `map[code] · absmax[block]`, codes read from `codes` (three per int32). */
function dequantizeSource(tables: MapTables): string {
  return `${tableSource(tables)}
void main() {
  int i = getOutputCoords();
  int word = int(getCodes(i / 3));
  int code = (word >> (8 * (i - (i / 3) * 3))) & 255;
  setOutput(uintBitsToFloat(optkMapBits[code]) * getAbsmax(i / ${tables.block}));
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
  return `${tableSource(tables)}
int optkCode(int i) {
  if (i >= ${size}) return ${zero};
  float largest = getAbsmax(i / ${tables.block});
  float divisor = !isnan(largest) && largest > 0.0 ? largest : 1.0;
  float v = getX(i) / divisor;
  int code = 0;
  for (int step = 128; step >= 1; step /= 2) {
    if (v > uintBitsToFloat(optkMidBits[code + step - 1])) code += step;
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

const DEQUANTIZE = 'OptimkitDequantize8bit';
const QUANTIZE = 'OptimkitQuantize8bit';

type KernelArgs = Parameters<tf.KernelFunc>[0];

interface Attrs {
  size: number;
  blocks: number;
  words: number;
  tables: MapTables;
}

/** A program run once (tfjs keys its compiled shaders by source and input shapes). */
function program(names: string[], outputShape: number[], source: string): OptimkitQuantizedProgram {
  return new OptimkitQuantizedProgram(names, outputShape, source);
}

function dequantizeKernel(args: KernelArgs): tf.TensorInfo {
  const { codes, absmax } = args.inputs as { codes: tf.TensorInfo; absmax: tf.TensorInfo };
  const { size, tables } = args.attrs as unknown as Attrs;
  const backend = args.backend as unknown as WebGLBackendLike;
  const run = program(['codes', 'absmax'], [size], dequantizeSource(tables));
  return backend.runWebGLProgram(run, [codes, absmax], 'float32');
}

function quantizeKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { size, blocks, words, tables } = args.attrs as unknown as Attrs;
  const backend = args.backend as unknown as WebGLBackendLike;
  const absmax = backend.runWebGLProgram(
    program(['x'], [blocks], absmaxSource(size, tables)),
    [x],
    'float32',
  );
  const codes = backend.runWebGLProgram(
    program(['x', 'absmax'], [words], quantizeSource(size, tables)),
    [x, absmax],
    'int32',
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
  return tf
    .engine()
    .runKernel(DEQUANTIZE, { codes, absmax }, { size, tables } as unknown as tf.NamedAttrMap) as tf.Tensor;
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
  const attrs = { size: values.size, blocks, words, tables } as unknown as tf.NamedAttrMap;
  // The shaders read values by flat index: a vector (a reshape, free for unpacked textures).
  const [codes, absmax] = tf.tidy(
    () => tf.engine().runKernel(QUANTIZE, { x: tf.reshape(values, [values.size]) }, attrs) as tf.Tensor[],
  );
  return { codes: codes!, absmax: absmax! };
}
