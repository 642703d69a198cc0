import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceDynamicMap, seededRandom, useBackend } from '../../testing/src/index.js';
import { setFusedKernels } from './fused.js';
import {
  dequantize,
  dynamicMap,
  packingOf,
  QUANTIZATION_BLOCK,
  quantize,
  quantizedSizes,
  repackCodes,
  zeroWord,
} from './quantized-state.js';

afterAll(async () => {
  await tf.setBackend('cpu');
});

/** Nearest code by a linear scan in float64 over the fixture's map (ties to the lower code). */
function nearest(map: readonly number[], x: number, signed: boolean): number {
  let code = 0;
  for (let k = 1; k < map.length; k++) {
    const mid = Math.fround(map[k - 1]! + map[k]!) * 0.5;
    if (x > mid) code = k;
  }
  if (signed && x < 0 && map[code] === 0) code -= 1;
  return code;
}

const fixture = {
  signed: Array.from(dynamicMap('signed').values),
  unsigned: Array.from(dynamicMap('unsigned').values),
};

describe('dynamic maps', () => {
  it("are bitsandbytes' create_dynamic_map, within torch's float32 rounding of linspace (≤ 2 ulp)", () => {
    for (const kind of ['signed', 'unsigned'] as const) {
      const reference = referenceDynamicMap(kind === 'signed');
      const table = fixture[kind];
      expect(table.length).toBe(256);
      for (let k = 0; k < 256; k++) {
        const ulp = Math.abs(Math.fround(reference[k]!)) * 2 ** -23;
        expect(Math.abs(table[k]! - reference[k]!)).toBeLessThanOrEqual(2 * ulp);
      }
    }
  });

  it('have 256 increasing values from −0.99297 (signed) or 0 (unsigned) to 1, with 0 at code 127 or 0', () => {
    for (const kind of ['signed', 'unsigned'] as const) {
      const { values, zero } = dynamicMap(kind);
      expect(values.length).toBe(256);
      for (let k = 1; k < 256; k++) expect(values[k]!).toBeGreaterThan(values[k - 1]!);
      expect(values[255]).toBe(1);
      expect(zero).toBe(kind === 'signed' ? 127 : 0);
    }
    expect(dynamicMap('signed').values[0]).toBeCloseTo(-0.99296875, 7);
    // The smallest non-zero magnitude: 10^-6 · (0.1 + 1) / 2.
    expect(dynamicMap('signed').values[128]).toBe(Math.fround(Math.fround(1e-6) * Math.fround(0.55)));
  });
});

async function roundTrip(values: Float32Array, kind: 'signed' | 'unsigned') {
  const x = tf.tensor1d(values);
  const { codes, absmax } = quantize(x, kind);
  const back = dequantize(codes, absmax, kind, [values.length]);
  const result = {
    codes: (await codes.data()) as Int32Array,
    absmax: (await absmax.data()) as Float32Array,
    back: (await back.data()) as Float32Array,
  };
  tf.dispose([x, codes, absmax, back]);
  return result;
}

describe.each(['cpu', 'wasm'])('block-wise quantisation on %s', (backend) => {
  it('takes the nearest code of value / absmax in each block of 256, packs 4 codes per int32 exactly', async () => {
    await useBackend(backend);
    const random = seededRandom(7);
    const n = 5000;
    const values = Float32Array.from({ length: n }, (_, i) => (random() - 0.5) * (i % 997 === 0 ? 40 : 1));
    values[3] = -1e-9; // tiny negative: keeps its sign
    values[300] = 0;
    for (const kind of ['signed', 'unsigned'] as const) {
      const input = kind === 'signed' ? values : values.map(Math.abs);
      const { codes, absmax, back } = await roundTrip(input, kind);
      const { blocks, words } = quantizedSizes(n);
      expect(blocks).toBe(20);
      expect(codes.length).toBe(words);
      expect(absmax.length).toBe(blocks);
      const map = kind === 'signed' ? fixture.signed : fixture.unsigned;
      for (let b = 0; b < blocks; b++) {
        let max = 0;
        for (let i = b * QUANTIZATION_BLOCK; i < Math.min(n, (b + 1) * QUANTIZATION_BLOCK); i++)
          max = Math.max(max, Math.abs(input[i]!));
        expect(absmax[b]).toBe(max);
      }
      for (let i = 0; i < n; i++) {
        const scale = absmax[Math.floor(i / QUANTIZATION_BLOCK)]!;
        const code = nearest(map, Math.fround(input[i]! / scale), kind === 'signed');
        const word = codes[i >> 2]!;
        // The packed byte of element i, read in float64 (lowest byte first, the top one offset by 128).
        const unsignedWord =
          word - Math.floor(word / 2 ** 24) * 2 ** 24 + (Math.floor(word / 2 ** 24) + 128) * 2 ** 24;
        expect(Math.floor(unsignedWord / 2 ** (8 * (i & 3))) % 256).toBe(code);
        expect(back[i]).toBe(Math.fround(map[code]! * scale));
      }
      if (kind === 'signed') expect(back[3]).toBeLessThan(0);
      expect(back[300]).toBe(0);
    }
  });

  it('keeps a block of zeros at zero (absmax 0), and codes spanning the whole map round-trip', async () => {
    await useBackend(backend);
    const n = 4096;
    const values = new Float32Array(n);
    for (let i = 0; i < 256; i++) values[i] = (i - 128) / 128; // codes spanning the whole map, top byte included
    const { absmax, back } = await roundTrip(values, 'signed');
    expect(absmax[1]).toBe(0);
    expect(Array.from(back.subarray(256))).toEqual(new Array(n - 256).fill(0));
    const map = fixture.signed;
    for (let i = 0; i < 256; i++) expect(back[i]).toBe(map[nearest(map, values[i]!, true)]);
  });
});

describe.each(['cpu', 'wasm'])('kernels and composite tfjs ops on %s', (backend) => {
  it('give the same codes, absmax and values, bit for bit', async () => {
    await useBackend(backend);
    const random = seededRandom(11);
    const n = 4099;
    const values = Float32Array.from({ length: n }, (_, i) => (random() - 0.5) * 10 ** ((i % 9) - 6));
    values[5] = -1e-12;
    for (const kind of ['signed', 'unsigned'] as const) {
      const input = kind === 'signed' ? values : values.map(Math.abs);
      const runs = [];
      for (const fused of [true, false]) {
        const previous = setFusedKernels(fused);
        try {
          runs.push(await roundTrip(input, kind));
        } finally {
          setFusedKernels(previous);
        }
      }
      const [kernel, composite] = runs as [
        Awaited<ReturnType<typeof roundTrip>>,
        Awaited<ReturnType<typeof roundTrip>>,
      ];
      expect(Array.from(kernel.codes)).toEqual(Array.from(composite.codes));
      expect(Array.from(kernel.absmax)).toEqual(Array.from(composite.absmax));
      expect(Array.from(kernel.back)).toEqual(Array.from(composite.back));
    }
  });
});

describe('first values by hand', () => {
  it('a block [0.5, −0.25, 0.001, 0, …]: absmax 0.5, codes of 1, −0.5, 0.002', async () => {
    await tf.setBackend('cpu');
    const values = new Float32Array(4096);
    values[0] = 0.5;
    values[1] = -0.25;
    values[2] = 0.001;
    const { absmax, back, codes } = await roundTrip(values, 'signed');
    expect(absmax[0]).toBe(0.5);
    // 0.5 / 0.5 = 1 is code 255 (the map's 1): dequantised 1 · 0.5.
    expect(codes[0]! & 0xff).toBe(255);
    expect(back[0]).toBe(0.5);
    // −0.25 / 0.5 = −0.5: the nearest signed value is −0.5 exactly? The map around it:
    const map = fixture.signed;
    const c1 = nearest(map, -0.5, true);
    expect(map[c1]).toBeCloseTo(-0.50078, 4);
    expect(back[1]).toBe(Math.fround(map[c1]! * 0.5));
    // 0.001 / 0.5 = 0.002: in the 10^-2 decade, whose 16 values are 0.01·(0.1 + 0.05625·(k + ½)):
    // 0.00128125, 0.00184375, 0.00240625, …; the nearest is 0.00184375 (k = 1).
    const c2 = nearest(map, 0.002, true);
    expect(map[c2]).toBeCloseTo(0.00184375, 8);
    expect(back[2]).toBe(Math.fround(map[c2]! * 0.5));
  });
});

describe('codes packed three per int32 (webgl) and four (cpu, wasm, webgpu)', () => {
  it('repack losslessly both ways; three per int32 stay below 2^24; the lengths tell the packing', async () => {
    await tf.setBackend('cpu');
    const random = seededRandom(5);
    const n = 4099; // 17 blocks, the last one with 3 values
    const values = Float32Array.from({ length: n }, () => random() - 0.5);
    const { codes } = await roundTrip(values, 'signed');
    const blocks = 17;
    expect(quantizedSizes(n, 4)).toEqual({ blocks, words: 1088 });
    expect(quantizedSizes(n, 3)).toEqual({ blocks, words: 1451 });
    expect(packingOf(1088, blocks)).toBe(4);
    expect(packingOf(1451, blocks)).toBe(3);
    expect(packingOf(1450, blocks)).toBeUndefined();
    const three = repackCodes(codes, blocks, 3, 'signed');
    expect(three.length).toBe(1451);
    expect(three.every((w) => w >= 0 && w < 2 ** 24)).toBe(true);
    // Element k holds codes 3k, 3k + 1, 3k + 2; the four-per-int32 word w holds codes 4w … 4w + 3.
    const code4 = (i: number) => {
      const byte = (codes[i >> 2]! >>> (8 * (i & 3))) & 0xff;
      return (i & 3) === 3 ? byte ^ 0x80 : byte;
    };
    for (const i of [0, 1, 2, 3, 4, 255, 256, 4098, 4099, 4351]) {
      expect(Math.floor(three[Math.floor(i / 3)]! / 256 ** (i % 3)) % 256).toBe(code4(i));
    }
    // The last element's third code is past the blocks (4352 codes): the code of 0.
    expect(Math.floor(three[1450]! / 65536)).toBe(dynamicMap('signed').zero);
    expect(Array.from(repackCodes(three, blocks, 4, 'signed'))).toEqual(Array.from(codes));
    expect(repackCodes(codes, blocks, 4, 'signed')).toBe(codes);
    expect(() => repackCodes(codes.subarray(1), blocks, 3, 'signed')).toThrow(
      /1087 codes words do not hold 17 blocks/,
    );
    // Fresh codes: every code that of 0, in either packing.
    for (const kind of ['signed', 'unsigned'] as const) {
      const z = dynamicMap(kind).zero;
      expect(zeroWord(kind, 3)).toBe(z * (1 + 256 + 65536));
      const four = new Int32Array(64).fill(zeroWord(kind, 4));
      expect(Array.from(repackCodes(four, 1, 3, kind))).toEqual(new Array(86).fill(zeroWord(kind, 3)));
    }
  });
});
