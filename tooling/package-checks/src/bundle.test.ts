import { build } from 'esbuild';
import { describe, expect, inject, it } from 'vitest';

/**
 * Tree-shaking as a user's bundler sees the published packages: esbuild bundles, minifies and
 * tree-shakes an entry that imports from the extracted tarballs, with tfjs-core external.
 */
const packRoot = inject('packRoot');

/** Every optimizer's tfjs serialization name: a string each one's code carries. */
const CLASS_NAMES = [
  'OptimkitSGD',
  'OptimkitAdagrad',
  'OptimkitRMSprop',
  'OptimkitAdadelta',
  'OptimkitAdam',
  'OptimkitAdamW',
  'OptimkitAdamax',
  'OptimkitNAdam',
  'OptimkitRAdam',
  'OptimkitAdaBelief',
  'OptimkitYogi',
  'OptimkitADOPT',
  'OptimkitLARS',
  'OptimkitLAMB',
  'OptimkitLion',
  'OptimkitAdafactor',
  'OptimkitCAME',
  'OptimkitAdan',
  'OptimkitAdEMAMix',
];

async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, resolveDir: packRoot, loader: 'js', sourcefile: 'entry.js' },
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    external: ['@tensorflow/tfjs-core'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** The classNames that occur in `code` as whole string literals. */
function classNamesIn(code: string): string[] {
  return CLASS_NAMES.filter((name) => new RegExp(`["'\`]${name}["'\`]`).test(code));
}

describe('bundling only what is imported', () => {
  it('finds every optimizer of a family when the whole family is used (the check can fail)', async () => {
    const code = await bundle(`import * as adam from '@optimkit/adam'; console.log(adam);`);
    expect(classNamesIn(code)).toEqual([
      'OptimkitAdam',
      'OptimkitAdamW',
      'OptimkitAdamax',
      'OptimkitNAdam',
      'OptimkitRAdam',
      'OptimkitAdaBelief',
      'OptimkitYogi',
      'OptimkitADOPT',
    ]);
  });

  it('keeps nothing of a family when nothing is used', async () => {
    const code = await bundle(
      `import { adamw } from '@optimkit/adam'; import { lion } from '@optimkit/lion';`,
    );
    expect(classNamesIn(code)).toEqual([]);
    expect(code.length).toBeLessThan(200);
  });

  it('lion from @optimkit/lion pulls in no other optimizer', async () => {
    const code = await bundle(
      `import { lion } from '@optimkit/lion'; export const make = () => lion({ learningRate: 3e-4 });`,
    );
    expect(classNamesIn(code)).toEqual(['OptimkitLion']);
    // The conformance suite (vitest) stays out of a user's bundle.
    expect(code).not.toMatch(/vitest|conformance/i);
  });

  it('adamw from @optimkit/adam pulls in no other optimizer of its family', async () => {
    const code = await bundle(
      `import { adamw } from '@optimkit/adam'; export const make = () => adamw({ weightDecay: 0.05 });`,
    );
    expect(classNamesIn(code)).toEqual(['OptimkitAdamW']);
    expect(code).not.toMatch(/vitest|conformance/i);
  });

  it('a used optimizer keeps its registration with tf.serialization', async () => {
    const code = await bundle(
      `import { lion } from '@optimkit/lion'; export const make = () => lion({ learningRate: 3e-4 });`,
    );
    expect(code).toMatch(/registerClass/);
  });
});
