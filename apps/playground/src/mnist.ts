/** MNIST digits as flat arrays, split deterministically into train and test sets. */
export interface MnistData {
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  testImages: Float32Array;
  testLabels: Uint8Array;
  trainCount: number;
  testCount: number;
}

export const IMAGE_SIZE = 784;

/** A small seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Builds train and test sets from the pixels of each digit class (index = label, values in [0, 1],
 * 784 per image): the last `testFraction` of every class is held out, and both sets are shuffled
 * with a fixed seed so that every run sees the same batches.
 */
export function buildMnist(
  digits: readonly ArrayLike<number>[],
  { testFraction = 0.15, limit = Number.POSITIVE_INFINITY, seed = 1 } = {},
): MnistData {
  const train: [number, number][] = [];
  const test: [number, number][] = [];
  digits.forEach((pixels, label) => {
    const count = Math.min(Math.floor(pixels.length / IMAGE_SIZE), Math.ceil(limit / digits.length));
    const testCount = Math.round(count * testFraction);
    for (let i = 0; i < count; i++) (i < count - testCount ? train : test).push([label, i]);
  });
  const random = mulberry32(seed);
  for (const set of [train, test]) {
    for (let i = set.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [set[i], set[j]] = [set[j]!, set[i]!];
    }
  }
  const pack = (set: [number, number][]) => {
    const images = new Float32Array(set.length * IMAGE_SIZE);
    const labels = new Uint8Array(set.length);
    set.forEach(([label, index], row) => {
      const pixels = digits[label]!;
      for (let k = 0; k < IMAGE_SIZE; k++) images[row * IMAGE_SIZE + k] = pixels[index * IMAGE_SIZE + k]!;
      labels[row] = label;
    });
    return { images, labels };
  };
  const a = pack(train);
  const b = pack(test);
  return {
    trainImages: a.images,
    trainLabels: a.labels,
    testImages: b.images,
    testLabels: b.labels,
    trainCount: train.length,
    testCount: test.length,
  };
}
