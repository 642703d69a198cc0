import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildMnistAsset } from '../../scripts/mnist-asset.js';
import { loadMnistDigits } from '../mnist-node.js';
import { decodeDigits, encodeDigits, inflateAsset } from './mnist-format.js';

describe('the web page’s MNIST asset', () => {
  it('decodes to exactly the digits the CLI reads in Node', () => {
    const digits = loadMnistDigits();
    const decoded = decodeDigits(gunzipSync(buildMnistAsset()));
    expect(decoded).toHaveLength(10);
    decoded.forEach((pixels, label) => {
      const expected = Float32Array.from(digits[label]!);
      expect(pixels.length).toBe(expected.length);
      let mismatches = 0;
      for (let k = 0; k < expected.length; k++) if (pixels[k] !== expected[k]) mismatches++;
      expect(mismatches).toBe(0);
    });
  });

  it('rejects other bytes and truncated assets', () => {
    const bytes = encodeDigits([[0, 0.5, 1, ...new Array(781).fill(0)]]);
    expect(decodeDigits(bytes)[0]!.slice(0, 3)).toEqual(Float32Array.from([0, 0.502, 1]));
    expect(() => decodeDigits(bytes.subarray(0, bytes.length - 1))).toThrow('truncated');
    expect(() => decodeDigits(new TextEncoder().encode('not the asset'))).toThrow('expected format');
  });
});

describe('inflateAsset', () => {
  it('inflates the gzip the server sends, and passes bytes a proxy already inflated through', async () => {
    const plain = encodeDigits([[0, 0.5, 1, ...new Array(781).fill(0)]]);
    expect(await inflateAsset(gzipSync(plain))).toEqual(plain);
    expect(await inflateAsset(plain)).toEqual(plain);
  });
});
