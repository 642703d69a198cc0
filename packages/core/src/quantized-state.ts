/**
 * 8-bit optimizer state: block-wise dynamic quantisation of a slot, as bitsandbytes' 8-bit
 * optimizers keep their moments (Dettmers, Lewis, Shleifer & Zettlemoyer, "8-bit Optimizers via
 * Block-wise Quantization", ICLR 2022). A quantised slot of `n` values is stored as two tensors:
 * `<slot>Codes`, int32, its 8-bit codes packed into int32 elements, and `<slot>Absmax`, float32,
 * the largest magnitude of each block of 256 values. A value is `map[code] · absmax[block]`, `map`
 * being the signed dynamic map (first moments) or the unsigned one (second moments). Every step
 * dequantises, runs the rule in float32 and re-quantises each value to its nearest code.
 *
 * Codes are packed four per int32 (`ceil(n / 256) · 64` elements) on the cpu, wasm and webgpu
 * backends, and three per int32 (`ceil(ceil(n / 256) · 256 / 3)` elements, each below 2^24) on
 * webgl, which keeps int32 tensors in float32 texels, exact only below 2^24. Which one a codes
 * tensor holds is told by its length; restored state of either packing is accepted everywhere and
 * repacked for the backend at its next step. (De)quantisation is one kernel per direction on every
 * backend (`quantized-kernels.ts`, `quantized-webgl.ts`, `quantized-webgpu.ts`), and composite
 * tfjs ops on cpu and wasm when fused kernels are switched off; all run inside the caller's `tidy`.
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
import { dequantizeWebGL, quantizeWebGL } from './quantized-webgl.js';
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
 * Backends that keep 8-bit state: those whose int32 tensors hold every 32-bit value exactly (on
 * webgpu, i32 buffers, only optimkit's own kernels touch the packed words: tfjs's int32 ops go
 * through float32 there), and webgl (WebGL 2 with float32 textures), where codes are packed three
 * per int32.
 */
export const QUANTIZED_BACKENDS: readonly string[] = ['cpu', 'wasm', 'webgl', 'webgpu'];

/** Codes per int32 element of a codes tensor: 4, or 3 on webgl (values below 2^24). */
export type CodesPerWord = 3 | 4;

/** How the active backend (or `backend`) packs codes. */
export function codesPerWord(backend: string = tf.getBackend()): CodesPerWord {
  return backend === 'webgl' ? 3 : 4;
}

/** The number of blocks and of packed int32 elements of a quantised slot of `size` values. */
export function quantizedSizes(size: number, perWord: CodesPerWord = 4): { blocks: number; words: number } {
  const blocks = Math.ceil(size / QUANTIZATION_BLOCK);
  return { blocks, words: Math.ceil((blocks * QUANTIZATION_BLOCK) / perWord) };
}

/** The packing of a codes tensor of `words` elements for `blocks` blocks (none when neither fits). */
export function packingOf(words: number, blocks: number): CodesPerWord | undefined {
  for (const perWord of [4, 3] as const)
    if (quantizedSizes(blocks * QUANTIZATION_BLOCK, perWord).words === words) return perWord;
  return undefined;
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

/**
 * The packed int32 of codes of 0 (a quantised slot's initial codes; its absmax starts at 0): with
 * four per word, c₀ + c₁·2⁸ + c₂·2¹⁶ + (c₃ − 128)·2²⁴, the top byte offset so that every word fits
 * int32; with three, c₀ + c₁·2⁸ + c₂·2¹⁶.
 */
export function zeroWord(kind: QuantizedMap, perWord: CodesPerWord = 4): number {
  const z = dynamicMap(kind).zero;
  return perWord === 4 ? z + z * 2 ** 8 + z * 2 ** 16 + (z - 128) * 2 ** 24 : z + z * 2 ** 8 + z * 2 ** 16;
}

/** The `count` codes of packed words, lowest byte first. */
function unpackWords(words: Int32Array, perWord: CodesPerWord, count: number): Uint8Array {
  const codes = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const byte = (words[Math.floor(i / perWord)]! >>> (8 * (i % perWord))) & 0xff;
    codes[i] = perWord === 4 && i % 4 === 3 ? byte ^ 0x80 : byte;
  }
  return codes;
}

/**
 * The codes of a quantised slot of `blocks` blocks repacked `to` codes per word (what a restored
 * state needs on a backend of the other packing). Codes after the blocks' values are those of 0.
 */
export function repackCodes(
  words: Int32Array,
  blocks: number,
  to: CodesPerWord,
  kind: QuantizedMap,
): Int32Array {
  const count = blocks * QUANTIZATION_BLOCK;
  const from = packingOf(words.length, blocks);
  if (from === undefined) throw new RangeError(`${words.length} codes words do not hold ${blocks} blocks`);
  if (from === to) return words;
  const codes = unpackWords(words, from, count);
  const zero = dynamicMap(kind).zero;
  const out = new Int32Array(quantizedSizes(count, to).words);
  for (let w = 0; w < out.length; w++) {
    let word = 0;
    for (let k = to - 1; k >= 0; k--) {
      const i = w * to + k;
      const code = i < count ? codes[i]! : zero;
      word = (word << 8) | (to === 4 && k === 3 ? code ^ 0x80 : code);
    }
    out[w] = word;
  }
  return out;
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
  if (tf.getBackend() === 'webgl')
    return tf.reshape(dequantizeWebGL(codes, absmax, size, dynamicMap(kind)), [...shape]);
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
 * Quantises float32 values block by block (codes packed as the active backend keeps them), as
 * bitsandbytes' 8-bit blockwise optimizer kernels do:
 * each block's absmax is its largest magnitude; each value divided by it (a block of zeros
 * divides by 1) takes the nearest code of the map (an exact midpoint takes the lower code). On the
 * signed map a negative value never takes the code of 0 but the smallest negative code, so that a
 * first moment keeps its sign (bitsandbytes' sign correction).
 */
export function quantize(values: tf.Tensor, kind: QuantizedMap): { codes: tf.Tensor; absmax: tf.Tensor } {
  const { blocks, words } = quantizedSizes(values.size);
  if (tf.getBackend() === 'webgl') return quantizeWebGL(values, blocks, dynamicMap(kind));
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
 * Whether (de)quantisation runs as one kernel on cpu or wasm (unless fused kernels are switched off)
 * rather than as composite tfjs ops; both give the same bits. (On webgl and webgpu the kernels always
 * run: composite int32 ops there go through float32.)
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

/**
 * Throws unless the active backend keeps 8-bit state (see {@link QUANTIZED_BACKENDS}); on webgl,
 * WebGL 2 (its shaders use integer arithmetic) with float32 textures (16-bit texels would not hold
 * three codes).
 */
export function checkQuantizedBackend(className: string, variableName: string): void {
  const backend = tf.getBackend();
  const what = `${className}: 8-bit state (stateDtype 'int8') of '${variableName}'`;
  if (backend === 'webgl') {
    if (tf.env().getNumber('WEBGL_VERSION') !== 2)
      throw new Error(
        `${what} needs WebGL 2, not WebGL ${tf.env().getNumber('WEBGL_VERSION')}; use stateDtype 'float32' there`,
      );
    if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED'))
      throw new Error(
        `${what} needs float32 textures, which this WebGL device lacks (it renders 16-bit floats); use stateDtype 'float32' there`,
      );
    return;
  }
  if (QUANTIZED_BACKENDS.includes(backend)) return;
  throw new Error(
    `${what} runs on the ${QUANTIZED_BACKENDS.slice(0, -1).join(', ')} and ${QUANTIZED_BACKENDS.at(-1)} backends, ` +
      `not on '${backend}'; use stateDtype 'float32' there`,
  );
}
