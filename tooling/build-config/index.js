import { defineConfig } from 'tsdown';

/**
 * The build of every published package: each entry (name → source) as ESM (`dist/<name>.js`, with
 * `dist/<name>.d.ts`) and as CommonJS (`dist/<name>.cjs`, with `dist/<name>.d.cts`), tfjs and
 * `@optimkit/*` dependencies left external. A package's `tsdown.config.ts` is one line:
 * `export default optimkitBuild({ index: 'src/index.ts' });`. Its `exports` map must list both
 * forms (see CONTRIBUTING.md, "Adding a package"); the package checks verify that it does.
 *
 * @param {Record<string, string>} entry entry name (without extension) → source file
 * @param {import('tsdown').UserConfig} [overrides]
 */
export function optimkitBuild(entry, overrides = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    platform: 'neutral',
    dts: true,
    fixedExtension: false,
    // Nothing from node_modules is ever bundled (tfjs, vitest for core's conformance kit, …),
    // whether or not the manifest declares it.
    deps: { skipNodeModulesBundle: true },
    ...overrides,
  });
}
