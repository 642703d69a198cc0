/**
 * An independent float64 model of 8-bit optimizer state (`stateDtype: 'int8'`), for golden tests:
 * bitsandbytes' dynamic maps built from their definition, block-wise absmax quantisation with
 * nearest rounding in float64, and a driver that runs an optimizer against a float64 reference
 * whose slots go through that quantisation after every step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { expectClose, float32Values, seededRandom } from './golden.js';

/** Values per absmax block and the least slot size kept in 8 bits (bitsandbytes' `min_8bit_size`). */
export const REFERENCE_BLOCK = 256;
export const REFERENCE_MIN_SIZE = 4096;

/**
 * bitsandbytes' `create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)` from its
 * definition (functional.py), in float64 and rounded to float32 at the end: per decade
 * 10^(i−6), i = 0…6, the means of neighbouring points of `linspace(0.1, 1, 2^i + 1)`
 * (`2^(i+1) + 1` unsigned), scaled (and negated, signed); then 0 and 1; sorted.
 */
export function referenceDynamicMap(signed: boolean): number[] {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const count = (signed ? 2 ** i : 2 ** (i + 1)) + 1;
    const edge = (k: number) => 0.1 + (0.9 * k) / (count - 1);
    for (let k = 0; k + 1 < count; k++) {
      const mean = (edge(k) + edge(k + 1)) / 2;
      data.push(Math.fround(10 ** (i - 6) * mean));
      if (signed) data.push(Math.fround(-(10 ** (i - 6)) * mean));
    }
  }
  return [...data, 0, 1].sort((a, b) => a - b);
}

/** One quantised slot: a code per value and an absmax per block of 256. */
export interface ReferenceQuantized {
  codes: Int32Array;
  absmax: Float64Array;
}

/**
 * Quantises float64 values as specified: each block's absmax is its largest magnitude; each value
 * over it takes the nearest map value (ties to the lower code); on the signed map a negative value
 * never takes the code of 0 but the next one down.
 *
 * `observed` (the codes the float32 optimizer chose) settles values that lie on a midpoint within
 * float32 rounding (|x − midpoint| ≤ 2e-6 + 1e-5·|midpoint| of the normalised value): there either
 * neighbour is right, and a float64 reference cannot say which one float32 arithmetic reaches.
 */
export function referenceQuantize(
  values: ArrayLike<number>,
  map: readonly number[],
  observed?: ArrayLike<number>,
): ReferenceQuantized {
  const blocks = Math.ceil(values.length / REFERENCE_BLOCK);
  const absmax = new Float64Array(blocks);
  for (let i = 0; i < values.length; i++) {
    const b = Math.floor(i / REFERENCE_BLOCK);
    absmax[b] = Math.max(absmax[b]!, Math.abs(values[i]!));
  }
  const zero = map.indexOf(0);
  const codes = Int32Array.from({ length: values.length }, (_, i) => {
    const scale = absmax[Math.floor(i / REFERENCE_BLOCK)]!;
    const x = scale > 0 ? values[i]! / scale : 0;
    // The first map value ≥ x by bisection, then the nearer of it and the one below (ties: lower).
    let lo = 0;
    let hi = map.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    let best = lo > 0 && Math.abs(x - map[lo - 1]!) <= Math.abs(x - map[lo]!) ? lo - 1 : lo;
    if (x < 0 && best === zero) best = zero - 1;
    const other = observed?.[i];
    if (other !== undefined && Math.abs(other - best) === 1) {
      const midpoint = (map[other]! + map[best]!) / 2;
      if (Math.abs(x - midpoint) <= 2e-6 + 1e-5 * Math.abs(midpoint)) return other;
    }
    return best;
  });
  return { codes, absmax };
}

/** The codes of packed int32 words (four per word, lowest byte first, the top one stored minus 128). */
export function unpackCodes(words: ArrayLike<number>): Int32Array {
  const out = new Int32Array(words.length * 4);
  for (let i = 0; i < words.length; i++) {
    const top = Math.floor(words[i]! / 2 ** 24);
    let low = words[i]! - top * 2 ** 24;
    for (let k = 0; k < 3; k++) {
      out[4 * i + k] = low % 256;
      low = Math.floor(low / 256);
    }
    out[4 * i + 3] = top + 128;
  }
  return out;
}

/** The float64 values of a quantised slot: `map[code] · absmax[block]`. */
export function referenceDequantize(q: ReferenceQuantized, map: readonly number[]): Float64Array {
  return Float64Array.from(q.codes, (c, i) => map[c]! * q.absmax[Math.floor(i / REFERENCE_BLOCK)]!);
}

/** A float64 reference step: updates `p` and the (dequantised) slots in place, at update `t`. */
export type QuantizedReferenceStep = (
  p: Float64Array,
  g: Float64Array,
  slots: Record<string, Float64Array>,
  t: number,
) => void;

/** Shapes of ranks 0–3, two below the 4096-value threshold and two above it (not multiples of 256). */
export const QUANTIZED_TEST_SHAPES: readonly (readonly number[])[] = [[], [7], [65, 70], [3, 40, 41]];

/**
 * Runs `optimizer` for `steps` steps on variables of {@link QUANTIZED_TEST_SHAPES} against a
 * float64 `reference` whose slots (named in `slots`, with their maps) are quantised after every
 * step for the variables of 4096 values or more, and float64 below it. Every step's parameters
 * must agree within the golden tolerance; at the end, each large variable's absmax values too.
 * Returns the worst |difference| / tolerance.
 */
export function runQuantizedGolden(
  optimizer: tf.Optimizer & { getSlots(name: string): Readonly<Record<string, tf.Tensor>> | undefined },
  reference: QuantizedReferenceStep,
  {
    steps,
    seed,
    slots,
    gradientScale = 1,
  }: { steps: number; seed: number; slots: Record<string, 'signed' | 'unsigned'>; gradientScale?: number },
): number {
  const random = seededRandom(seed);
  const maps = { signed: referenceDynamicMap(true), unsigned: referenceDynamicMap(false) };
  const sizes = QUANTIZED_TEST_SHAPES.map((s) => s.reduce((a, b) => a * b, 1));
  const params = sizes.map((n) => float32Values(random, n, 1.5));
  const variables = QUANTIZED_TEST_SHAPES.map((shape, i) =>
    tf.variable(tf.tensor(Float32Array.from(params[i]!), [...shape]), true, `quantizedGolden${seed}/v${i}`),
  );
  const state = sizes.map((n) => {
    const entries = Object.entries(slots).map(([name, map]) => {
      const zeros = new Float64Array(n);
      return [name, n >= REFERENCE_MIN_SIZE ? referenceQuantize(zeros, maps[map]) : zeros] as const;
    });
    return Object.fromEntries(entries) as Record<string, ReferenceQuantized | Float64Array>;
  });
  let worst = 0;
  try {
    for (let t = 1; t <= steps; t++) {
      const scale = gradientScale * (t % 5 === 0 ? 3 : t <= 10 ? 1 : 0.2);
      const grads = sizes.map((n) => float32Values(random, n, scale));
      const map: tf.NamedTensorMap = {};
      variables.forEach((v, i) => {
        map[v.name] = tf.tensor(Float32Array.from(grads[i]!), [...v.shape]);
      });
      optimizer.applyGradients(map);
      tf.dispose(Object.values(map));
      sizes.forEach((n, i) => {
        const values: Record<string, Float64Array> = {};
        for (const [name, kind] of Object.entries(slots)) {
          const s = state[i]![name]!;
          values[name] = s instanceof Float64Array ? s : referenceDequantize(s, maps[kind]);
        }
        reference(params[i]!, grads[i]!, values, t);
        for (const [name, kind] of Object.entries(slots)) {
          if (n < REFERENCE_MIN_SIZE) {
            state[i]![name] = values[name]!;
            continue;
          }
          const words = optimizer.getSlots(variables[i]!.name)![`${name}Codes`]!.dataSync();
          state[i]![name] = referenceQuantize(values[name]!, maps[kind], unpackCodes(words));
        }
        const got = variables[i]!.dataSync() as Float32Array;
        worst = Math.max(
          worst,
          expectClose(got, params[i]!, `step ${t}, variable of shape [${variables[i]!.shape}]`),
        );
      });
    }
    variables.forEach((v, i) => {
      const kept = optimizer.getSlots(v.name)!;
      for (const name of Object.keys(slots)) {
        const s = state[i]![name]!;
        if (s instanceof Float64Array) {
          expect(kept[name]!.dtype).toBe('float32');
          continue;
        }
        expect(kept[`${name}Codes`]!.dtype).toBe('int32');
        expect(kept[`${name}Codes`]!.size).toBe(s.absmax.length * (REFERENCE_BLOCK / 4));
        expectClose(kept[`${name}Absmax`]!.dataSync() as Float32Array, s.absmax, `absmax of ${name}`);
      }
    });
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  return worst;
}
