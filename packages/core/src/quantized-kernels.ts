/**
 * Block-wise 8-bit (de)quantisation as tfjs kernels of the cpu and wasm backends: one pass over
 * typed arrays instead of some forty tfjs ops (the binary search over the map's midpoints is the
 * costly part), with the same float32 arithmetic as the composite ops of `quantized-state.ts`, so
 * both give the same bits. Registered with `tf.registerKernel` on first use.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What a kernel needs of the dynamic map. */
export interface MapTables {
  values: Float32Array;
  midpoints: Float32Array;
  zero: number;
  signed: boolean;
  block: number;
}

interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(
    shape: number[],
    dtype: 'float32' | 'int32',
    values: Float32Array | Int32Array,
  ): tf.TensorInfo;
}

interface WasmBackendLike {
  dataIdMap: { get(dataId: tf.DataId): unknown };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
}

const DEQUANTIZE = 'OptimkitDequantize8bit';
const QUANTIZE = 'OptimkitQuantize8bit';

/** Backends with these kernels. */
export const QUANTIZED_KERNEL_BACKENDS: readonly string[] = ['cpu', 'wasm'];

// Four codes per int32, lowest byte first; the top byte is stored XOR 0x80, which makes the word
// the int32 c₀ + c₁·2⁸ + c₂·2¹⁶ + (c₃ − 128)·2²⁴ that the composite ops compute.
function dequantizeInto(codes: Int32Array, absmax: Float32Array, out: Float32Array, t: MapTables): void {
  const { values, block } = t;
  const size = out.length;
  const wordsPerBlock = block >> 2;
  // Whole words while all four values are in range; the last word may be partly padding.
  const fullWords = size >> 2;
  for (let b = 0; b < absmax.length; b++) {
    const scale = absmax[b]!;
    const end = Math.min(fullWords, (b + 1) * wordsPerBlock);
    for (let w = b * wordsPerBlock; w < end; w++) {
      const word = codes[w]!;
      const i = w << 2;
      out[i] = values[word & 0xff]! * scale;
      out[i + 1] = values[(word >>> 8) & 0xff]! * scale;
      out[i + 2] = values[(word >>> 16) & 0xff]! * scale;
      out[i + 3] = values[(word >>> 24) ^ 0x80]! * scale;
    }
  }
  for (let i = fullWords << 2; i < size; i++) {
    const byte = (codes[i >> 2]! >>> (8 * (i & 3))) & 0xff;
    out[i] = values[(i & 3) === 3 ? byte ^ 0x80 : byte]! * absmax[Math.floor(i / block)]!;
  }
}

const scratch = new Float32Array(1);
const bits = new Uint32Array(scratch.buffer);

/** The number of midpoints below `v` (its nearest code): 8 halvings. */
function searchCode(v: number, midpoints: Float32Array): number {
  let code = 0;
  for (let half = 128; half >= 1; half >>= 1) if (v > midpoints[code + half - 1]!) code += half;
  return code;
}

const buckets = new WeakMap<Float32Array, { lowest: Uint8Array; spans: Uint8Array }>();

/**
 * Per float32 bucket (its top 16 bits: sign, exponent and 7 bits of mantissa), the least code of
 * its values and how many more it may need; as the code grows with the value, a value's code is
 * then the least one plus the midpoints of the bucket's span it exceeds (mostly none or one).
 */
function bucketsOf(midpoints: Float32Array): { lowest: Uint8Array; spans: Uint8Array } {
  let found = buckets.get(midpoints);
  if (found) return found;
  const lowest = new Uint8Array(65536);
  const spans = new Uint8Array(65536);
  for (let b = 0; b < 65536; b++) {
    bits[0] = b << 16;
    const a = searchCode(scratch[0]!, midpoints);
    bits[0] = ((b << 16) | 0xffff) >>> 0;
    const c = searchCode(scratch[0]!, midpoints);
    // NaN buckets: every comparison is false, code 0 (as the composite ops give).
    lowest[b] = Math.min(a, c);
    spans[b] = Math.max(a, c) - Math.min(a, c);
  }
  found = { lowest, spans };
  buckets.set(midpoints, found);
  return found;
}

function quantizeInto(x: Float32Array, codes: Int32Array, absmax: Float32Array, t: MapTables): void {
  const { midpoints, zero, signed, block } = t;
  const { lowest, spans } = bucketsOf(midpoints);
  const size = x.length;
  // One block's quotients as float32 (each the quotient of two float32 values rounded once, as
  // the composite ops divide) and their bits, which pick the bucket; then its codes.
  const quotients = new Float32Array(block);
  const quotientBits = new Uint32Array(quotients.buffer);
  const blockCodes = new Uint8Array(block);
  const wordsPerBlock = block >> 2;
  for (let b = 0; b < absmax.length; b++) {
    const start = b * block;
    const end = Math.min(size, start + block);
    let max = 0;
    for (let i = start; i < end; i++) {
      const magnitude = Math.abs(x[i]!);
      if (magnitude > max || Number.isNaN(magnitude)) max = magnitude;
    }
    absmax[b] = max;
    const divisor = max > 0 ? max : 1;
    const count = end - start;
    // The padding after the last value quantises 0, as the composite ops do.
    quotients.fill(0, count);
    for (let k = 0; k < count; k++) quotients[k] = x[start + k]! / divisor;
    for (let k = 0; k < block; k++) {
      const bucket = quotientBits[k]! >>> 16;
      const v = quotients[k]!;
      let code = lowest[bucket]!;
      const span = spans[bucket]!;
      if (span !== 0) {
        const highest = code + span;
        while (code < highest && v > midpoints[code]!) code++;
      }
      blockCodes[k] = signed && code === zero && v < 0 ? zero - 1 : code;
    }
    for (let w = 0, k = 0; w < wordsPerBlock; w++, k += 4) {
      codes[b * wordsPerBlock + w] =
        blockCodes[k]! |
        (blockCodes[k + 1]! << 8) |
        (blockCodes[k + 2]! << 16) |
        ((blockCodes[k + 3]! ^ 0x80) << 24);
    }
  }
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

function tablesOf(args: KernelArgs): MapTables {
  return (args.attrs as unknown as { tables: MapTables }).tables;
}

function dequantizeKernel(args: KernelArgs): tf.TensorInfo {
  const { codes, absmax } = args.inputs as { codes: tf.TensorInfo; absmax: tf.TensorInfo };
  const size = (args.attrs as unknown as { size: number }).size;
  const tables = tablesOf(args);
  if (tf.getBackend() === 'wasm') {
    const backend = args.backend as WasmBackendLike;
    backend.dataIdMap.get(codes.dataId);
    backend.dataIdMap.get(absmax.dataId);
    const out = backend.makeOutput([size], 'float32');
    // Views after the allocation, which may grow (and detach) the heap.
    dequantizeInto(
      backend.typedArrayFromHeap(codes) as Int32Array,
      backend.typedArrayFromHeap(absmax) as Float32Array,
      backend.typedArrayFromHeap(out) as Float32Array,
      tables,
    );
    return out;
  }
  const backend = args.backend as CpuBackendLike;
  const out = new Float32Array(size);
  dequantizeInto(
    backend.data.get(codes.dataId).values as Int32Array,
    backend.data.get(absmax.dataId).values as Float32Array,
    out,
    tables,
  );
  return backend.makeTensorInfo([size], 'float32', out);
}

function quantizeKernel(args: KernelArgs): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { words, blocks } = args.attrs as unknown as { words: number; blocks: number };
  const tables = tablesOf(args);
  if (tf.getBackend() === 'wasm') {
    const backend = args.backend as WasmBackendLike;
    backend.dataIdMap.get(x.dataId);
    const codes = backend.makeOutput([words], 'int32');
    const absmax = backend.makeOutput([blocks], 'float32');
    quantizeInto(
      backend.typedArrayFromHeap(x) as Float32Array,
      backend.typedArrayFromHeap(codes) as Int32Array,
      backend.typedArrayFromHeap(absmax) as Float32Array,
      tables,
    );
    return [codes, absmax];
  }
  const backend = args.backend as CpuBackendLike;
  const codes = new Int32Array(words);
  const absmax = new Float32Array(blocks);
  quantizeInto(backend.data.get(x.dataId).values as Float32Array, codes, absmax, tables);
  return [
    backend.makeTensorInfo([words], 'int32', codes),
    backend.makeTensorInfo([blocks], 'float32', absmax),
  ];
}

const registered = new Set<string>();

function ensureKernels(backendName: string): void {
  if (registered.has(backendName)) return;
  registered.add(backendName);
  tf.registerKernel({ kernelName: DEQUANTIZE, backendName, kernelFunc: dequantizeKernel as tf.KernelFunc });
  tf.registerKernel({ kernelName: QUANTIZE, backendName, kernelFunc: quantizeKernel as tf.KernelFunc });
}

/** The values of packed codes and absmax (float32 `[size]`), as one kernel. */
export function dequantizeKernelRun(
  codes: tf.Tensor,
  absmax: tf.Tensor,
  size: number,
  tables: MapTables,
): tf.Tensor {
  ensureKernels(tf.getBackend());
  return tf
    .engine()
    .runKernel(DEQUANTIZE, { codes, absmax }, { size, tables } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Codes and absmax of float32 values, as one kernel. */
export function quantizeKernelRun(
  x: tf.Tensor,
  words: number,
  blocks: number,
  tables: MapTables,
): { codes: tf.Tensor; absmax: tf.Tensor } {
  ensureKernels(tf.getBackend());
  const [codes, absmax] = tf.engine().runKernel(QUANTIZE, { x }, {
    words,
    blocks,
    tables,
  } as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { codes: codes!, absmax: absmax! };
}
