import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Backend, type BenchConfig, FULL_CONFIG, QUICK_CONFIG, runBench } from './bench.js';
import type { BrowserBackend } from './browser/protocol.js';
import { benchOptimizers, selectOptimizers } from './optimizers.js';
import { toMarkdown, writeResults } from './report.js';

const usage = `Usage: pnpm bench [-- options]   (or: pnpm --filter @optimkit/bench bench [options])

  --quick               tiny configuration: 1e4 and 1e5 parameters, few repetitions (writes results/quick.*)
  --browser             the browser mode: webgl and webgpu in headless chromium (writes results/browser.*;
                        with --quick, results/browser-quick.*)
  --backend <names>     comma-separated: cpu,wasm (default both); with --browser: webgl,webgpu (default both)
  --sizes <numbers>     comma-separated parameter counts, e.g. 1e4,1e6 (default 1e4,1e6,4e6)
  --optimizers <names>  comma-separated, default all: ${benchOptimizers.map((o) => o.name).join(', ')}
  --no-mlp              skip the MNIST MLP step
  --zero                the ZeRO mode: sharded data-parallel AdamW on 1, 2 and 4 worker threads
                        (state bytes per rank, bytes per step, step time; with --quick, a small model)
  --out <dir>           where to write <name>.md and <name>.json (default apps/bench/results)
  --name <name>         results file name (default latest, or quick with --quick)
  --help`;

const list = (value: string | undefined) =>
  value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
    backend: { type: 'string' },
    sizes: { type: 'string' },
    optimizers: { type: 'string' },
    'no-mlp': { type: 'boolean', default: false },
    zero: { type: 'boolean', default: false },
    out: { type: 'string' },
    name: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  // `pnpm bench -- --quick` passes a literal `--` through turbo.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
});

if (values.help) {
  console.log(usage);
  process.exit(0);
}

if (values.zero) {
  // Imported here: the ZeRO mode starts worker threads, the other modes none.
  const { runZeroBench, ZERO_FULL, ZERO_QUICK } = await import('./zero.js');
  console.log(await runZeroBench(values.quick ? ZERO_QUICK : ZERO_FULL, (line) => console.error(line)));
  process.exit(0);
}

const out = values.out ?? fileURLToPath(new URL('../results/', import.meta.url));
const backends = list(values.backend);

if (values.browser) {
  // Imported here: the browser mode needs vite and playwright, the Node bench neither.
  const { BROWSER_FULL_CONFIG, BROWSER_QUICK_CONFIG, runBrowserBench } = await import('./browser/run.js');
  const { toBrowserMarkdown, writeBrowserResults } = await import('./browser/report.js');
  for (const b of backends)
    if (b !== 'webgl' && b !== 'webgpu')
      throw new Error(`Unknown backend ${b} for --browser: use webgl or webgpu`);
  if (values.sizes)
    throw new Error('--sizes does not apply to --browser: it measures a matrix and a transformer set');
  const base = values.quick ? BROWSER_QUICK_CONFIG : BROWSER_FULL_CONFIG;
  const optimizers = list(values.optimizers);
  selectOptimizers(optimizers); // throws on an unknown name before anything is built
  const results = await runBrowserBench(
    {
      ...base,
      name: values.name ?? base.name,
      backends: backends.length > 0 ? (backends as BrowserBackend[]) : base.backends,
      optimizers: optimizers.length > 0 ? optimizers : base.optimizers,
    },
    { log: (line) => console.error(line) },
  );
  const written = await writeBrowserResults(results, out);
  console.log(`\n${toBrowserMarkdown(results)}`);
  console.log(`Wrote ${written.markdown} and ${written.json}`);
  process.exit(0);
}

const base = values.quick ? QUICK_CONFIG : FULL_CONFIG;
for (const b of backends)
  if (b !== 'cpu' && b !== 'wasm') throw new Error(`Unknown backend ${b}: use cpu or wasm`);
const sizes = list(values.sizes).map(Number);
for (const s of sizes)
  if (!Number.isInteger(s) || s < 2) throw new Error(`Invalid size in --sizes: ${values.sizes}`);

const config: BenchConfig = {
  ...base,
  name: values.name ?? base.name,
  backends: backends.length > 0 ? (backends as Backend[]) : base.backends,
  sizes: sizes.length > 0 ? sizes : base.sizes,
  optimizers: list(values.optimizers),
  mlp: values['no-mlp'] ? null : base.mlp,
};

const results = await runBench(config, (line) => console.error(line));
const written = await writeResults(results, out);
console.log(`\n${toMarkdown(results)}`);
console.log(`Wrote ${written.markdown} and ${written.json}`);
