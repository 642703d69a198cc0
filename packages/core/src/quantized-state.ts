/**
 * 8-bit optimizer state: block-wise dynamic quantisation of a slot, as bitsandbytes' 8-bit
 * optimizers keep their moments (Dettmers, Lewis, Shleifer & Zettlemoyer, "8-bit Optimizers via
 * Block-wise Quantization", ICLR 2022). A quantised slot of `n` values is stored as two tensors:
 * `<slot>Codes`, int32, four 8-bit codes per element (`ceil(n / 256) · 64` elements), and
 * `<slot>Absmax`, float32, the largest magnitude of each block of 256 values. A value is
 * `map[code] · absmax[block]`, `map` being the signed dynamic map (first moments) or the unsigned
 * one (second moments). Every step dequantises, runs the rule in float32 and re-quantises each
 * value to its nearest code. Both directions are composite tfjs ops here, one kernel each on cpu
 * and wasm (`quantized-kernels.ts`, the same bits) and WGSL kernels on WebGPU
 * (`quantized-webgpu.ts`); all run inside the caller's `tidy`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelsEnabled } from './fused.js';
import { SIGNED_DYNAMIC_MAP, UNSIGNED_DYNAMIC_MAP } from './quantization-maps.js';
import {
  dequantizeKernelRun,
  type MapTables,
  QUANTIZED_KERNEL_BACKENDS,
  quantizeKernelRun,
} from './quantized-kernels.js';
import { dequantizeWebGPU, quantizeWebGPU } from './quantized-webgpu.js';

/** Which dynamic map a quantised slot uses: signed for first moments, unsigned for second. */
export type QuantizedMap = 'signed' | 'unsigned';

/**
 * Values per absmax. bitsandbytes' 8-bit blockwise optimizer kernels use 256 (`BLOCKSIZE_2STATE`
 * in csrc/ops.cu; the paper used 2048): smaller blocks confine an outlier's loss of precision to
 * fewer values, for 4 bytes per 256 values (0.016 B per value).
 */
export const QUANTIZATION_BLOCK = 256;

/** Slots of fewer values keep float32 (bitsandbytes' `min_8bit_size`, 4096). */
export const MIN_QUANTIZED_SIZE = 4096;

/** Suffixes of the two stored tensors of a quantised slot. */
export const CODES_SUFFIX = 'Codes';
export const ABSMAX_SUFFIX = 'Absmax';

/**
 * Backends whose int32 tensors hold every 32-bit value exactly. On WebGPU (i32 buffers) only
 * optimkit's own kernels handle the packed words (tfjs's int32 ops go through float32 there).
 * WebGL keeps int32 in float32 texels (exact only below 2^24), so four packed codes would lose
 * bits there: it is refused with an error rather than risk wrong bits.
 */
export const QUANTIZED_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgpu'];

/** The number of blocks and of packed int32 elements of a quantised slot of `size` values. */
export function quantizedSizes(size: number): { blocks: number; words: number } {
  const blocks = Math.ceil(size / QUANTIZATION_BLOCK);
  return { blocks, words: (blocks * QUANTIZATION_BLOCK) / 4 };
}

/** Whether a slot of a variable of `size` values is stored quantised. */
export function storedQuantized(size: number): boolean {
  return size >= MIN_QUANTIZED_SIZE;
}

const maps = new Map<QuantizedMap, MapTables>();

/**
 * The dynamic map (256 increasing float32 values), its 255 midpoints and the code of 0. The maps
 * are bitsandbytes' `create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)`: for each
 * decade 10^-6 … 10^0, the midpoints of an even split of [0.1, 1] (2^i of them signed, 2^(i+1)
 * unsigned), scaled by the decade (and negated, signed), plus 0 and 1, sorted; the table is
 * generated with torch (tooling/torch-fixtures/dynamic-map.py) because its float32 values follow
 * `torch.linspace`'s rounding.
 */
export function dynamicMap(kind: QuantizedMap): MapTables {
  let found = maps.get(kind);
  if (!found) {
    const values = Float32Array.from(kind === 'signed' ? SIGNED_DYNAMIC_MAP : UNSIGNED_DYNAMIC_MAP);
    // bitsandbytes compares with (lower + upper) · 0.5f, in float32.
    const midpoints = values.subarray(1).map((upper, k) => Math.fround(values[k]! + upper) * 0.5);
    found = {
      values,
      midpoints,
      zero: values.indexOf(0),
      signed: kind === 'signed',
      block: QUANTIZATION_BLOCK,
    };
    maps.set(kind, found);
  }
  return found;
}

/** The packed word of four codes of 0: a quantised slot's initial codes (its absmax starts at 0). */
export function zeroWord(kind: QuantizedMap): number {
  const z = dynamicMap(kind).zero;
  return z + z * 2 ** 8 + z * 2 ** 16 + (z - 128) * 2 ** 24;
}

const int = (x: number) => tf.scalar(x, 'int32');

/** The codes of packed int32 words, four per word, lowest byte first: int32 `[words · 4]`. */
function unpack(words: tf.Tensor): tf.Tensor {
  // The top byte is stored minus 128 so that every word fits int32: w = c0 + c1·2^8 + c2·2^16 + (c3 − 128)·2^24.
  const top = tf.floorDiv(words, int(2 ** 24));
  const low24 = tf.sub(words, tf.mul(top, int(2 ** 24)));
  const c2 = tf.floorDiv(low24, int(2 ** 16));
  const low16 = tf.sub(low24, tf.mul(c2, int(2 ** 16)));
  const c1 = tf.floorDiv(low16, int(2 ** 8));
  const c0 = tf.sub(low16, tf.mul(c1, int(2 ** 8)));
  return tf.reshape(tf.stack([c0, c1, c2, tf.add(top, int(128))], 1), [-1]);
}

/** Packs codes (int32, a multiple of four of them) into words, as {@link unpack} reads them. */
function pack(codes: tf.Tensor): tf.Tensor {
  const quads = tf.sub(tf.reshape(codes, [-1, 4]), tf.tensor1d([0, 0, 0, 128], 'int32'));
  return tf.sum(tf.mul(quads, tf.tensor1d([1, 2 ** 8, 2 ** 16, 2 ** 24], 'int32')), 1);
}

/**
 * The float32 values of a quantised slot: `map[code] · absmax[block]` (bitsandbytes'
 * `dequantize_blockwise`), in the variable's `shape`.
 */
export function dequantize(
  codes: tf.Tensor,
  absmax: tf.Tensor,
  kind: QuantizedMap,
  shape: readonly number[],
): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (tf.getBackend() === 'webgpu')
    return tf.reshape(dequantizeWebGPU(codes, absmax, size, dynamicMap(kind)), [...shape]);
  if (kernelsApply())
    return tf.reshape(dequantizeKernelRun(codes, absmax, size, dynamicMap(kind)), [...shape]);
  const blocks = absmax.size;
  const values = tf.gather(tf.tensor1d(dynamicMap(kind).values), unpack(codes));
  const scaled = tf.mul(tf.reshape(values, [blocks, QUANTIZATION_BLOCK]), tf.reshape(absmax, [blocks, 1]));
  return tf.reshape(tf.slice(tf.reshape(scaled, [-1]), 0, size), [...shape]);
}

/**
 * Quantises float32 values block by block, as bitsandbytes' 8-bit blockwise optimizer kernels do:
 * each block's absmax is its largest magnitude; each value divided by it (a block of zeros
 * divides by 1) takes the nearest code of the map (an exact midpoint takes the lower code). On the
 * signed map a negative value never takes the code of 0 but the smallest negative code, so that a
 * first moment keeps its sign (bitsandbytes' sign correction).
 */
export function quantize(values: tf.Tensor, kind: QuantizedMap): { codes: tf.Tensor; absmax: tf.Tensor } {
  const { blocks, words } = quantizedSizes(values.size);
  if (tf.getBackend() === 'webgpu') return quantizeWebGPU(values, blocks, dynamicMap(kind));
  if (kernelsApply()) return quantizeKernelRun(values, words, blocks, dynamicMap(kind));
  const padded = blocks * QUANTIZATION_BLOCK;
  const flat = tf.reshape(values, [values.size]);
  const full = padded > values.size ? tf.concat([flat, tf.zeros([padded - values.size])]) : flat;
  const rows = tf.reshape(full, [blocks, QUANTIZATION_BLOCK]);
  const absmax = tf.max(tf.abs(rows), 1);
  const divisor = tf.where(tf.greater(absmax, 0), absmax, tf.onesLike(absmax));
  const normalized = tf.div(rows, tf.reshape(divisor, [blocks, 1]));
  const { midpoints, zero } = dynamicMap(kind);
  const mids = tf.tensor1d(midpoints);
  // The nearest code is the number of midpoints below the value: a binary search of 8 halvings.
  let code = tf.zeros([blocks, QUANTIZATION_BLOCK], 'int32');
  for (let half = 128; half >= 1; half /= 2) {
    const next = tf.add(code, int(half));
    code = tf.where(tf.greater(normalized, tf.gather(mids, tf.sub(next, int(1)))), next, code);
  }
  if (kind === 'signed') {
    const lostSign = tf.logicalAnd(tf.less(normalized, 0), tf.equal(code, int(zero)));
    code = tf.where(lostSign, tf.fill(code.shape, zero - 1, 'int32'), code);
  }
  return { codes: pack(code), absmax };
}

/**
 * Whether (de)quantisation runs as one kernel (cpu and wasm, unless fused kernels are switched off)
 * rather than as composite tfjs ops; both give the same bits.
 */
function kernelsApply(): boolean {
  return fusedKernelsEnabled() && QUANTIZED_KERNEL_BACKENDS.includes(tf.getBackend());
}

/**
 * A moment slot in the chosen precision: float32 zeros, or, with `'int8'`, a slot quantised with
 * the given dynamic map (signed for first moments, unsigned for second ones).
 */
export function momentSlot(
  stateDtype: string,
  map: 'signed' | 'unsigned',
): 0 | { quantized: 'signed' | 'unsigned' } {
  return stateDtype === 'int8' ? { quantized: map } : 0;
}

/** Throws unless the active backend keeps packed codes exactly (see {@link QUANTIZED_BACKENDS}). */
export function checkQuantizedBackend(className: string, variableName: string): void {
  const backend = tf.getBackend();
  if (QUANTIZED_BACKENDS.includes(backend)) return;
  throw new Error(
    `${className}: 8-bit state (stateDtype 'int8') of '${variableName}' runs on the ${QUANTIZED_BACKENDS.slice(0, -1).join(', ')} and ${QUANTIZED_BACKENDS.at(-1)} ` +
      `backends, not on '${backend}'` +
      (backend === 'webgl'
        ? ', which keeps int32 tensors in float32 texels where four packed 8-bit codes are not exact'
        : '') +
      "; use stateDtype 'float32' there",
  );
}
