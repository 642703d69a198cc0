import { InvalidArgumentError, Option, program } from 'commander';
import { UsageError } from './catalog.js';
import { runComparisons } from './run.js';

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

program
  .name('optimkit-playground')
  .description(
    'Classic optimizer comparisons with every optimkit optimizer: an MLP on MNIST and 2-D trajectories.',
  )
  .option('--quick', 'CI-sized run: a subset of MNIST, one epoch, short trajectories', false)
  .option('--optimizers <names>', 'comma-separated optimizer names (default: all)', (v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .option('--epochs <n>', 'MNIST epochs (default 3, or 1 with --quick)', positiveInteger)
  .addOption(new Option('--backend <name>', 'tfjs backend').choices(['cpu', 'wasm']).default('wasm'))
  .option('--out <dir>', 'report directory', 'report')
  .option('--no-mnist', 'skip the MNIST comparison')
  .option('--no-surfaces', 'skip the 2-D trajectories')
  .showHelpAfterError(false)
  .configureOutput({ outputError: (message, write) => write(`${message.trim().split('\n')[0]}\n`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

program.parse();
const options = program.opts<{
  quick: boolean;
  optimizers?: string[];
  epochs?: number;
  backend: 'cpu' | 'wasm';
  out: string;
  mnist: boolean;
  surfaces: boolean;
}>();

try {
  await runComparisons(options);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
