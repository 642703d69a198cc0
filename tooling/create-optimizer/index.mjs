#!/usr/bin/env node
/**
 * Generates a standalone optimkit optimizer plugin package: a working Signum optimizer made with
 * `defineOptimizer` and written as a `rule` (the starting point to edit; core derives from the rule
 * both the composite tfjs-ops path and the fused kernels), its golden, fused-equivalence and
 * conformance tests, and a package.json whose peers, exports and files follow optimkit's
 * conventions.
 *
 *   node tooling/create-optimizer/index.mjs ../my-optimizer --name signum
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cac } from 'cac';

const here = dirname(fileURLToPath(import.meta.url));

/** optimkit's own package.json files: the generated package uses the versions they are tested with. */
function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const CLASS_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
// tfjs's own optimizer classNames (tf.train.*): a plugin must not replace them.
const TFJS_CLASS_NAMES = new Set(['SGD', 'Momentum', 'RMSProp', 'Adagrad', 'Adadelta', 'Adam', 'Adamax']);
const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

function camelCase(kebab) {
  return kebab.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function pascalCase(kebab) {
  const camel = camelCase(kebab);
  return camel[0].toUpperCase() + camel.slice(1);
}

/**
 * The options of a generated package, validated.
 * @param {{ dir: string, name?: string, packageName?: string, className?: string, core?: string, testing?: string, author?: string }} input
 */
export function resolveOptions(input) {
  const dir = resolve(input.dir);
  const name = input.name ?? basename(dir);
  if (!KEBAB.test(name))
    throw new Error(`--name must be kebab-case (like 'signum' or 'sign-sgd'): '${name}'`);
  const packageName = input.packageName ?? `optimkit-${name}`;
  if (!NPM_NAME.test(packageName) || packageName.length > 214) {
    throw new Error(`--package-name is not a valid npm package name: '${packageName}'`);
  }
  const className = input.className ?? pascalCase(name);
  if (!CLASS_NAME.test(className)) {
    throw new Error(`--class-name must be letters and digits, starting with a letter: '${className}'`);
  }
  if (TFJS_CLASS_NAMES.has(className) || className.startsWith('Optimkit')) {
    throw new Error(`--class-name '${className}' is taken by tfjs or optimkit; pick another`);
  }
  const factory = camelCase(name);
  const typeName = pascalCase(name);
  return {
    dir,
    name,
    factory,
    typeName,
    className,
    packageName,
    core: input.core,
    testing: input.testing,
    author: input.author ?? `The ${packageName} authors`,
  };
}

function versions(coreSpec, testingSpec) {
  const core = readJson(join(here, '../../packages/core/package.json'));
  const testing = readJson(join(here, '../../packages/testing/package.json'));
  const dev = core.devDependencies;
  return {
    corePeer: `^${core.version}`,
    coreDev: coreSpec ?? `^${core.version}`,
    testingDev: testingSpec ?? `^${testing.version}`,
    tfjsPeer: core.peerDependencies['@tensorflow/tfjs-core'],
    tfjs: dev['@tensorflow/tfjs'],
    tfjsCore: dev['@tensorflow/tfjs-core'],
    tfjsWasm: dev['@tensorflow/tfjs-backend-wasm'],
    typescript: dev.typescript,
    vitest: dev.vitest,
    typesNode: dev['@types/node'],
  };
}

function packageJson(o, v) {
  return {
    name: o.packageName,
    version: '0.1.0',
    description: `The ${o.typeName} optimizer (sign momentum) for TensorFlow.js, an optimkit plugin.`,
    license: 'MIT',
    type: 'module',
    sideEffects: false,
    keywords: ['optimkit', 'optimkit-plugin', 'tensorflow', 'tfjs', 'optimizer'],
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './package.json': './package.json',
    },
    files: ['dist', 'README.md', 'LICENSE'],
    engines: { node: '>=20.19' },
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc -p tsconfig.json',
      test: 'vitest run',
      prepack: 'npm run build',
    },
    peerDependencies: {
      '@optimkit/core': v.corePeer,
      '@tensorflow/tfjs-core': v.tfjsPeer,
    },
    devDependencies: {
      '@optimkit/core': v.coreDev,
      '@optimkit/testing': v.testingDev,
      '@tensorflow/tfjs': v.tfjs,
      // For the fused-equivalence test on wasm (describeFusedEquivalence loads it).
      '@tensorflow/tfjs-backend-wasm': v.tfjsWasm,
      '@tensorflow/tfjs-core': v.tfjsCore,
      '@types/node': v.typesNode,
      typescript: v.typescript,
      vitest: v.vitest,
    },
  };
}

const tsconfig = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2022', 'DOM'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    skipLibCheck: true,
    declaration: true,
    noEmit: true,
    types: ['node'],
  },
  include: ['src', 'vitest.config.ts', 'vitest.setup.ts'],
};

const tsconfigBuild = {
  extends: './tsconfig.json',
  compilerOptions: { noEmit: false, rootDir: 'src', outDir: 'dist' },
  include: ['src'],
  exclude: ['src/**/*.test.ts'],
};

const vitestConfig = `import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // tfjs-core alone registers no backend and no gradients in Node: load the full tfjs once.
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
`;

const vitestSetup = `import * as tf from '@tensorflow/tfjs';

await tf.setBackend('cpu');
await tf.ready();
`;

function source(o) {
  return `import {
  checkNonNegative,
  checkUnitInterval,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';

const defaults = {
  learningRate: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
};

/** Hyperparameters of {@link ${o.factory}}. */
export type ${o.typeName}Defaults = typeof defaults;
/** Options of {@link ${o.factory}}: each numeric one a number or a schedule, plus \`paramGroups\`. */
export type ${o.typeName}Options = OptimizerOptions<${o.typeName}Defaults>;
/** A ${o.typeName} optimizer instance. */
export type ${o.typeName} = OptimkitOptimizer<${o.typeName}Defaults>;

/** The ${o.typeName} optimizer class (serialization name \`${o.className}\`). */
export const ${o.typeName} = /* @__PURE__ */ defineOptimizer({
  className: '${o.className}',
  // Recorded in saved states and named when a state is loaded without importing this package.
  packageName: '${o.packageName}',
  packageVersion: '0.1.0',
  defaults,
  validate(h) {
    checkUnitInterval('momentum', h.momentum);
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: { momentum: 0 },
  // What the rule branches on besides the boolean options: each distinct value is traced once.
  variant: (h) => ({ decay: h.weightDecay !== 0 }),
  // Numbers computed from the options (in float64, once per step), rounded to float32 where the
  // rule uses them, as a number passed to a tfjs op is. The rule reads them, and every numeric
  // option, from \`s\`.
  scalars: (h) => ({
    oneMinusMomentum: 1 - h.momentum,
    decay: 1 - h.learningRate * h.weightDecay,
  }),
  // The per-variable update, written once against core's rule vocabulary (\`op\`, not \`tf\`):
  // core traces it and derives both the composite tfjs-ops path and the fused kernels (one kernel
  // per variable on the cpu and wasm backends).
  rule({ param, grad, slots, s, op, v }) {
    const m = op.add(op.mul(slots.momentum, s.momentum), op.mul(grad, s.oneMinusMomentum));
    const decayed = v.decay ? op.mul(param, s.decay) : param;
    return { param: op.sub(decayed, op.mul(op.sign(m), s.learningRate)), slots: { momentum: m } };
  },
});

/**
 * ${o.typeName} (Signum): sign descent on an exponential moving average of the gradients, with
 * optional decoupled weight decay. Every coordinate moves by exactly the learning rate (or not at
 * all where the average is 0), so the update is invariant to the gradient's scale. Its update is
 * a rule: it runs as one fused kernel per variable on the cpu and wasm backends, and as the
 * equivalent tfjs ops on the others.
 *
 * Update rule, for a gradient \`g\` of parameter \`p\`:
 * \`\`\`
 * m ← momentum · m + (1 − momentum) · g        (m starts at zeros)
 * p ← p · (1 − learningRate · weightDecay) − learningRate · sign(m)
 * \`\`\`
 * With momentum 0 it is signSGD.
 *
 * Paper: Bernstein, Wang, Azizzadenesheli, Anandkumar, "signSGD: Compressed Optimisation for
 * Non-Convex Problems", ICML 2018 (Signum is Algorithm 3).
 *
 * @param options.learningRate Step size per coordinate, default \`1e-3\`.
 * @param options.momentum Averaging factor of the gradients in [0, 1), default \`0.9\`.
 * @param options.weightDecay Decoupled weight decay, default \`0\`.
 * @param options.paramGroups Per-variable overrides of the options above.
 *
 * @example
 * \`\`\`ts
 * import { ${o.factory} } from '${o.packageName}';
 *
 * const optimizer = ${o.factory}({ learningRate: 1e-4, momentum: 0.9, weightDecay: 0.01 });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * \`\`\`
 */
export function ${o.factory}(options?: ${o.typeName}Options): ${o.typeName} {
  return new ${o.typeName}(options);
}
`;
}

function test(o) {
  return `import { readFileSync } from 'node:fs';
import { fusedKernelName, setFusedKernels } from '@optimkit/core';
import {
  describeFusedEquivalence,
  describeOptimizerConformance,
  recordKernels,
  traceSteps,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ${o.typeName}, type ${o.typeName}Options, ${o.factory} } from './index.js';

const linearDecay =
  (from: number, steps: number) =>
  (step: number): number =>
    from * Math.max(0, 1 - step / steps);

/** The optimizer's values after each of the given gradients, on a fresh vector variable. */
const run = (options: ${o.typeName}Options, initial: number[], gradients: number[][]): number[][] =>
  traceSteps(${o.factory}(options), initial, gradients);

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
}

describe('${o.factory}', () => {
  it('takes hand-derived steps', () => {
    // m₁ = 0.1·g₁ = [0.03, −0.01, 0]: sign [1, −1, 0], p₁ = p₀ − 0.1·sign = [0.9, −1.9, 0.5].
    // m₂ = 0.9·m₁ + 0.1·g₂ = [0.027 − 0.1, −0.009 − 0.005, 0 + 0.02] = [−0.073, −0.014, 0.02]:
    // sign [−1, −1, 1], p₂ = [0.9 + 0.1, −1.9 + 0.1, 0.5 − 0.1] = [1, −1.8, 0.4].
    const [p1, p2] = run({ learningRate: 0.1, momentum: 0.9 }, [1, -2, 0.5], [
      [0.3, -0.1, 0],
      [-1, -0.05, 0.2],
    ]);
    expectClose(p1!, [0.9, -1.9, 0.5]);
    expectClose(p2!, [1, -1.8, 0.4]);
  });

  it('decays weights decoupled from the gradient', () => {
    // p₁ = 2·(1 − 0.1·0.5) − 0.1·sign(0.1·3) = 1.9 − 0.1 = 1.8; p₂ = 1.8·0.95 − 0.1 = 1.61.
    const [p1, p2] = run({ learningRate: 0.1, weightDecay: 0.5 }, [2], [[3], [3]]);
    expectClose(p1!, [1.8]);
    expectClose(p2!, [1.61]);
  });

  it('with momentum 0 is signSGD', () => {
    const [p1, p2] = run({ learningRate: 0.25, momentum: 0 }, [0, 0], [
      [5, -1e-6],
      [-0.5, 0],
    ]);
    expectClose(p1!, [-0.25, 0.25]);
    expectClose(p2!, [0, 0.25]);
  });

  it('records this package in its saved state', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const optimizer = ${o.factory}();
    expect(${o.typeName}.className).toBe('${o.className}');
    expect(optimizer.definition.packageName).toBe(pkg.name);
    expect(optimizer.definition.packageVersion).toBe(pkg.version);
    optimizer.dispose();
  });
});

describeOptimizerConformance<${o.typeName}Options>({
  name: '${o.factory}',
  create: (options) => ${o.factory}(options),
  optionSets: [
    {},
    {
      learningRate: 0.01,
      momentum: 0.5,
      weightDecay: 0.1,
      paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }],
    },
  ],
  // A sign method moves every coordinate by the learning rate: with a constant one it ends up
  // oscillating around the minimum (loss ≈ 3.5e-4 here); in Rosenbrock's valley it needs a decaying one.
  quadratic: { options: { learningRate: 0.005 }, steps: 1000, tolerance: 1e-3 },
  rosenbrock: { options: { learningRate: linearDecay(3e-3, 3000) }, steps: 3000, tolerance: 1e-4 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});

describe('${o.factory}: fused', () => {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    setFusedKernels(true);
    await tf.setBackend(previous);
  });

  it('runs one fused kernel per variable on cpu, and none with fused kernels off', () => {
    const variables = [tf.variable(tf.tensor1d([1, -2])), tf.variable(tf.ones([2, 3]))];
    const optimizer = ${o.factory}({ learningRate: 0.1, weightDecay: 0.01 });
    const name = fusedKernelName('${o.className}');
    const step = (fused: boolean): string[] => {
      const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
      const before = setFusedKernels(fused);
      try {
        return recordKernels(() => optimizer.applyGradients(grads));
      } finally {
        setFusedKernels(before);
        tf.dispose(grads.map((g) => g.tensor));
      }
    };
    expect(step(true).filter((k) => k === name)).toEqual([name, name]);
    expect(step(false)).not.toContain(name);
    optimizer.dispose();
    tf.dispose(variables);
  });
});

// The fused kernels equal the composite tfjs ops bit for bit, on cpu and on wasm, over option
// sets that together exercise every option (schedules and param groups included).
describeFusedEquivalence<${o.typeName}Options>({
  name: '${o.factory}',
  create: (options) => ${o.factory}(options),
  optionSets: [
    {},
    { learningRate: 0.01, momentum: 0.5, weightDecay: 0.1 },
    { learningRate: 0.02, momentum: 0 },
    {
      learningRate: (step) => 0.01 * 0.9 ** step,
      momentum: (step) => 0.5 + 0.02 * step,
      weightDecay: 0.05,
      paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.003 }],
    },
    { clipGradNorm: 1, accumulateSteps: 2 },
    { skipNonFinite: true, weightDecay: 0.1 },
  ],
  bitIdentical: ['cpu', 'wasm'],
});
`;
}

const index = (o) =>
  `export { ${o.typeName}, type ${o.typeName}Defaults, type ${o.typeName}Options, ${o.factory} } from './${o.name}.js';\n`;

function readme(o) {
  return `# ${o.packageName}

The ${o.typeName} optimizer (Signum: sign descent on a momentum average of the gradients) for
[TensorFlow.js](https://www.tensorflow.org/js), written as an [optimkit](https://www.npmjs.com/package/@optimkit/core)
plugin. It is a \`tf.Optimizer\`: \`model.compile\`, \`model.fit\` and
\`model.save(…, { includeOptimizer: true })\` work unchanged, and its state saves and loads with
optimkit's \`saveState\`, \`loadState\` and \`loadOptimizer\`. Its update is written once as an
optimkit rule, from which optimkit derives a fused kernel per variable on the cpu and wasm
backends and the equivalent tfjs ops on the others (webgl, webgpu).

## Install

\`\`\`sh
npm install ${o.packageName} @optimkit/core @tensorflow/tfjs
\`\`\`

\`@optimkit/core\` and \`@tensorflow/tfjs-core\` are peer dependencies: one copy of each is shared
with your other optimizers, so \`loadOptimizer\` finds every registered class.

## Example

\`\`\`ts
import { loadOptimizer } from '@optimkit/core';
import { ${o.factory} } from '${o.packageName}';

const optimizer = ${o.factory}({ learningRate: 1e-4, weightDecay: 0.01 });
model.compile({ optimizer, loss: 'categoricalCrossentropy' });
await model.fit(xs, ys, { epochs: 5 });

const bytes = await optimizer.saveState();
const restored = await loadOptimizer(bytes); // a ${o.typeName} with the same config and state
\`\`\`

## Options

| option         | default | meaning                                                     |
| -------------- | ------- | ----------------------------------------------------------- |
| \`learningRate\` | \`1e-3\`  | step size per coordinate                                    |
| \`momentum\`     | \`0.9\`   | averaging factor of the gradients, in [0, 1); 0 is signSGD  |
| \`weightDecay\`  | \`0\`     | decoupled weight decay: \`p ← p · (1 − learningRate · wd)\`   |
| \`paramGroups\`  | \`[]\`    | per-variable overrides, e.g. \`weightDecay: 0\` for biases    |

Every numeric option also accepts a schedule \`(step) => number\`. The update, per variable:

\`\`\`
m ← momentum · m + (1 − momentum) · g
p ← p · (1 − learningRate · weightDecay) − learningRate · sign(m)
\`\`\`

## Development

\`\`\`sh
npm install
npm test          # golden steps, fused ≡ composite, and optimkit's conformance suite
npm run typecheck
npm run build     # ESM and .d.ts into dist/
\`\`\`

Edit the \`rule\` in \`src/${o.name}.ts\` to change the algorithm. It is written with \`op.*\` (the
rule vocabulary of \`@optimkit/core\`), not \`tf.*\`: numeric options and what \`scalars()\` returns
are read from \`s\`, booleans and what \`variant()\` returns from \`v\`. Keep the golden tests
hand-derived, and the fused-equivalence (\`describeFusedEquivalence\`) and conformance suites
passing. The \`className\` must stay unique: it is the optimizer's name in saved states, in tfjs
serialization and in the fused kernel's name (\`OptimkitFused_${o.className}\`).
`;
}

function license(o) {
  return `MIT License

Copyright (c) ${new Date().getFullYear()} ${o.author}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;
}

const json = (value) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Writes the plugin package into `input.dir` (which must be missing or empty) and returns the
 * list of files written, relative to it.
 */
export function createOptimizer(input) {
  const o = resolveOptions(input);
  if (existsSync(o.dir) && readdirSync(o.dir).length > 0) {
    throw new Error(`${o.dir} is not empty; pick a new directory`);
  }
  const v = versions(o.core, o.testing);
  const files = {
    'package.json': json(packageJson(o, v)),
    'tsconfig.json': json(tsconfig),
    'tsconfig.build.json': json(tsconfigBuild),
    'vitest.config.ts': vitestConfig,
    'vitest.setup.ts': vitestSetup,
    [`src/${o.name}.ts`]: source(o),
    [`src/${o.name}.test.ts`]: test(o),
    'src/index.ts': index(o),
    'README.md': readme(o),
    LICENSE: license(o),
    '.gitignore': 'node_modules/\ndist/\n',
  };
  for (const [path, content] of Object.entries(files)) {
    const target = join(o.dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  return Object.keys(files);
}

function main() {
  const cli = cac('create-optimkit-optimizer');
  cli
    .command('<dir>', 'Generate an optimizer plugin package in <dir> (missing or empty)')
    .option('--name <name>', 'kebab-case optimizer name: file, factory and class names (default: dir name)')
    .option('--package-name <package>', 'npm package name (default: optimkit-<name>)')
    .option('--class-name <className>', 'tfjs serialization name (default: PascalCase of name)')
    .option('--core <spec>', "dependency spec of @optimkit/core for development (default: ^<core's version>)")
    .option(
      '--testing <spec>',
      "dependency spec of @optimkit/testing for development (default: ^<testing's version>)",
    )
    .option('--author <author>', 'copyright holder in LICENSE')
    .example('create-optimkit-optimizer ./optimkit-signum --name signum')
    .action((dir, flags) => {
      const files = createOptimizer({
        dir,
        name: flags.name,
        packageName: flags.packageName,
        className: flags.className,
        core: flags.core,
        testing: flags.testing,
        author: flags.author,
      });
      const target = resolve(dir);
      console.log(`Created ${files.length} files in ${target}:\n  ${files.join('\n  ')}`);
      console.log(`\nNext:\n  cd ${target}\n  npm install\n  npm test`);
    });
  cli.help();
  try {
    cli.parse(process.argv, { run: false });
    cli.runMatchedCommand();
  } catch (error) {
    console.error(`create-optimkit-optimizer: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) main();
