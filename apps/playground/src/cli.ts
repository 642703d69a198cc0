import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, program } from 'commander';
import { UsageError } from './catalog.js';
import { quietTfjsBanner } from './quiet.js';
import { DEFAULTS, QUICK, runComparisons } from './run.js';

quietTfjsBanner();

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const DEFAULT_OUT = fileURLToPath(new URL('../report', import.meta.url));

program
  .name('optimkit-playground')
  .description(
    'Classic optimizer comparisons with every optimkit optimizer: the classic MNIST experiment, every ' +
      'optimizer on the same MLP, 2-D trajectories, and the MLP trained data-parallel with ZeRO on worker ' +
      'threads. Writes a markdown report with SVG plots.',
  )
  .option(
    '--quick',
    `CI-sized run: ${QUICK.limit} digits, ${QUICK.seeds} seeds, 1 epoch, short trajectories (its rankings mean nothing)`,
    false,
  )
  .option(
    '--optimizers <names>',
    'comma-separated optimizer names for the comparison and the surfaces (default: all)',
    (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  )
  .option(
    '--epochs <n>',
    `epochs of the every-optimizer comparison (default ${DEFAULTS.epochs})`,
    positiveInteger,
  )
  .option(
    '--seeds <n>',
    `seeds per optimizer: every figure is a mean ± standard deviation over them (default ${DEFAULTS.seeds}, or ${QUICK.seeds} with --quick)`,
    positiveInteger,
  )
  .addOption(
    new Option('--backend <name>', 'tfjs backend for the MNIST runs')
      .choices(['cpu', 'wasm'])
      .default('wasm'),
  )
  .option(
    '--out <dir>',
    'report directory, relative to where you run the command; a previous report there is replaced',
    DEFAULT_OUT,
  )
  .option('--classic', `only the classic experiment (${DEFAULTS.classicEpochs} epochs, 7 optimizers)`)
  .option('--no-classic', 'skip the classic experiment')
  .option('--no-mnist', 'skip the every-optimizer MNIST comparison')
  .option('--no-surfaces', 'skip the 2-D trajectories')
  .option(
    '--data-parallel',
    'only the data-parallel section: the MLP with ZeRO-sharded AdamW on 1, 2 and 4 worker threads (2 with --quick)',
  )
  .option('--no-data-parallel', 'skip the data-parallel section')
  .showHelpAfterError(false)
  .configureOutput({ outputError: (message, write) => write(`${message.trim().split('\n')[0]}\n`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

// `pnpm --filter @optimkit/playground start -- --help` passes the literal `--` through.
program.parse(process.argv.filter((arg, i) => i < 2 || arg !== '--'));
const options = program.opts<{
  quick: boolean;
  optimizers?: string[];
  epochs?: number;
  seeds?: number;
  backend: 'cpu' | 'wasm';
  out: string;
  classic?: boolean;
  mnist: boolean;
  surfaces: boolean;
  dataParallel?: boolean;
}>();
const classicOnly = options.classic === true;
const dataParallelOnly = options.dataParallel === true;
if (classicOnly && dataParallelOnly) {
  console.error('error: --classic and --data-parallel each ask for one section only: choose one');
  process.exit(2);
}

try {
  // pnpm runs scripts in the package's folder and keeps the user's in INIT_CWD.
  const out = resolve(process.env.INIT_CWD ?? process.cwd(), options.out);
  const { written } = await runComparisons({
    ...options,
    out,
    classic: options.classic !== false && !dataParallelOnly,
    mnist: options.mnist && !classicOnly && !dataParallelOnly,
    surfaces: options.surfaces && !classicOnly && !dataParallelOnly,
    dataParallel: options.dataParallel !== false && !classicOnly,
  });
  console.log(`report: ${written.find((f) => f.endsWith('README.md'))}`);
  for (const file of written) console.log(`  ${file}`);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
