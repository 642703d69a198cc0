/**
 * The compact binary form of the `mnist` package's digits that the web page downloads (built from
 * the package's JSON by `scripts/mnist-asset.ts`, never committed): a header, then one byte per
 * pixel. The package stores each pixel as round(p / 255, 3) for a byte p, so the bytes are exact
 * and {@link decodeDigits} gives back the very numbers the CLI reads in Node.
 *
 * Layout (little-endian): "OKMN", uint32 version (1), uint32 classes, uint32 image count per class,
 * then the pixels of class 0, class 1, …, 784 bytes per image.
 */
import { IMAGE_SIZE } from '../mnist.js';

/**
 * The page downloads the gzip of these bytes under a name that no server maps to an encoding: a
 * `.gz` name makes servers such as `vite preview` (sirv) add `Content-Encoding: gzip`, after which
 * the browser inflates the bytes itself and the page's own inflation fails. {@link inflateAsset}
 * accepts either form, should a proxy still decode it on the way.
 */
export const MNIST_ASSET_NAME = 'mnist-digits.okmn-gzip';
const MAGIC = 'OKMN';
const VERSION = 1;

export function encodeDigits(digits: readonly ArrayLike<number>[]): Uint8Array {
  const counts = digits.map((pixels) => Math.floor(pixels.length / IMAGE_SIZE));
  const headerBytes = 12 + 4 * digits.length;
  const out = new Uint8Array(headerBytes + counts.reduce((a, n) => a + n * IMAGE_SIZE, 0));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, digits.length, true);
  counts.forEach((n, i) => {
    view.setUint32(12 + 4 * i, n, true);
  });
  let offset = headerBytes;
  digits.forEach((pixels, label) => {
    for (let k = 0; k < counts[label]! * IMAGE_SIZE; k++) {
      const byte = Math.round(pixels[k]! * 255);
      if (!(byte >= 0 && byte <= 255)) throw new RangeError(`digit ${label}: pixel ${k} is ${pixels[k]}`);
      out[offset++] = byte;
    }
  });
  return out;
}

/** The OKMN bytes of a downloaded asset: inflated if they are gzip (magic 1f 8b), as they are otherwise. */
export async function inflateAsset(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The pixels of each class (index = label), values in [0, 1], 784 per image. */
export function decodeDigits(bytes: Uint8Array): Float32Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error('The MNIST asset is not in the expected format');
  }
  if (view.getUint32(4, true) !== VERSION) throw new Error('The MNIST asset has an unknown version');
  const classes = view.getUint32(8, true);
  const counts = Array.from({ length: classes }, (_, i) => view.getUint32(12 + 4 * i, true));
  let offset = 12 + 4 * classes;
  if (bytes.length !== offset + counts.reduce((a, n) => a + n * IMAGE_SIZE, 0)) {
    throw new Error('The MNIST asset is truncated');
  }
  const table = Float32Array.from({ length: 256 }, (_, b) => Math.round((b / 255) * 1000) / 1000);
  return counts.map((n) => {
    const pixels = new Float32Array(n * IMAGE_SIZE);
    for (let k = 0; k < pixels.length; k++) pixels[k] = table[bytes[offset++]!]!;
    return pixels;
  });
}
