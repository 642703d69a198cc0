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

function dequantizeInto(codes: Int32Array, absmax: Float32Array, out: Float32Array, t: MapTables): void {
  const { values, block } = t;
  for (let i = 0; i < out.length; i++) {
    const word = codes[i >> 2]!;
    const top = Math.floor(word / 2 ** 24);
    const shift = i & 3;
    const code = shift === 3 ? top + 128 : Math.floor((word - top * 2 ** 24) / 2 ** (8 * shift)) % 256;
    out[i] = values[code]! * absmax[Math.floor(i / block)]!;
  }
}

function quantizeInto(x: Float32Array, codes: Int32Array, absmax: Float32Array, t: MapTables): void {
  const { midpoints, zero, signed, block } = t;
  const f = Math.fround;
  for (let b = 0; b < absmax.length; b++) {
    const end = Math.min(x.length, (b + 1) * block);
    let max = 0;
    for (let i = b * block; i < end; i++) max = Math.max(max, Math.abs(x[i]!));
    absmax[b] = max;
  }
  for (let w = 0; w < codes.length; w++) {
    let word = 0;
    for (let k = 0; k < 4; k++) {
      const i = 4 * w + k;
      const divisor = absmax[Math.floor(i / block)]! > 0 ? absmax[Math.floor(i / block)]! : 1;
      const v = i < x.length ? f(x[i]! / divisor) : 0;
      let code = 0;
      for (let half = 128; half >= 1; half >>= 1) if (v > midpoints[code + half - 1]!) code += half;
      if (signed && v < 0 && code === zero) code = zero - 1;
      word += k === 3 ? (code - 128) * 2 ** 24 : code * 2 ** (8 * k);
    }
    codes[w] = word;
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
