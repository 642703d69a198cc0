/**
 * Records the learning-rate search of every catalog optimizer on every 2-D surface with a minimum
 * (`searchLearningRate` in `src/surfaces.ts`) in `src/surface-learning-rates.json`, which the CLI
 * and the web page read. Run it after adding an optimizer or changing one
 * (`pnpm --filter @optimkit/playground tune [names…]`: with names, only those are searched again);
 * until then the CLI searches the missing ones itself.
 * Runs on tfjs's cpu backend, as the CLI's trajectories do.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { catalog } from '../src/catalog.js';
import { quietTfjsBanner } from '../src/quiet.js';
import {
  LEARNING_RATE_GRID,
  REACHED,
  type SearchResult,
  searchLearningRate,
  surfaces,
} from '../src/surfaces.js';

quietTfjsBanner();
await tf.setBackend('cpu');
const names = process.argv.slice(2).filter((a) => a !== '--');
const file = fileURLToPath(new URL('../src/surface-learning-rates.json', import.meta.url));
// Named optimizers are searched again; the others keep what the file has.
const results: Record<string, Record<string, SearchResult>> = names.length > 0 && existsSync(file)
  ? (JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, Record<string, SearchResult>> })
      .results
  : {};
for (const surface of surfaces.filter((s) => s.minimum)) {
  results[surface.name] ??= {};
  for (const entry of catalog.filter((e) => names.length === 0 || names.includes(e.name))) {
    const began = performance.now();
    const result = searchLearningRate(entry, surface);
    results[surface.name]![entry.name] = result;
    console.log(
      `${surface.name} ${entry.name}: lr ${result.learningRate}, reached at ${result.reachedAt ?? 'never'}, ` +
        `distance ${result.finalDistance.toExponential(2)} (${((performance.now() - began) / 1000).toFixed(1)} s)`,
    );
  }
}
const document = {
  description:
    'Learning rates for the 2-D surfaces, chosen by searchLearningRate (src/surfaces.ts): every rate of the grid ' +
    'runs the surface for its steps from its start; the chosen one reaches the minimum first (within ' +
    `${REACHED} of the plotted width of it, to the end of the run), else ends nearest to it. ` +
    'Regenerate with `pnpm --filter @optimkit/playground tune` (cpu backend).',
  grid: LEARNING_RATE_GRID,
  steps: Object.fromEntries(surfaces.filter((s) => s.minimum).map((s) => [s.name, s.steps])),
  results,
};
writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${file}`);
