import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from './bench.js';
import type { BrowserResults } from './browser/run.js';
import { machineLine, mlpTable, summarySize, summaryTable, targetsTable } from './report.js';

// Rewrites the "Benchmarks" section of the repository README (between the two markers) from
// results/latest.json and, when there is one, results/browser.json: `pnpm --filter @optimkit/bench
// readme` after a full run.

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

export function readmeSection(results: BenchResults, browser: BrowserResults | null = null): string {
  const at = summarySize(results.rows);
  const parts = [
    START,
    '',
    `Measured by \`pnpm bench\` on ${machineLine(results)}; full tables (1e4, 1e6 and 4e6 parameters, ` +
      'GB/s, the JavaScript-loop reference, sample counts) in [apps/bench/results/latest.md](apps/bench/results/latest.md), ' +
      'raw figures in `latest.json`, method in [apps/bench](apps/bench/README.md). The machine was shared, so ' +
      'compare ratios measured in one run rather than absolute times.',
    '',
    targetsTable(results),
    '',
  ];
  if (at !== null) {
    parts.push(
      `One \`applyGradients\` step at ${at.toExponential(0).replace('+', '')} parameters (a matrix and a vector): ` +
        "M parameters/s; the time of `tf.train`'s same optimizer (adamw: `tf.train.adam`), of the same optimizer " +
        'with fused kernels off (`setFusedKernels(false)`), each over ours; the fraction of the memory bandwidth ' +
        'reached (the reference: a WebAssembly SIMD pass over Float32Arrays with the same reads and writes, ' +
        'measured alongside); tensors created per step; state bytes per parameter.',
      '',
      summaryTable(results.rows, at),
      '',
    );
  }
  if (results.mlp.length > 0) {
    parts.push(
      'One `model.trainOnBatch` of the 784-200-10 MNIST MLP, batch 64 (ms/step):',
      '',
      mlpTable(results.mlp),
      '',
    );
  }
  if (browser) {
    const chromium = [...new Set(browser.backends.map((b) => b.chromium))].join(', ');
    parts.push(
      `In the browser (\`pnpm bench -- --browser\` on ${machineLine(browser)}; Chromium ${chromium} in software, ` +
        'WebGL through SwiftShader, WebGPU on its SwiftShader adapter; one [1000, 1000] matrix and a 40-variable ' +
        'transformer set; every optimizer in [apps/bench/results/browser.md](apps/bench/results/browser.md)):',
      '',
      targetsTable(browser),
      '',
    );
  }
  parts.push(END);
  return parts.join('\n');
}

async function main(): Promise<void> {
  const results = JSON.parse(
    await readFile(new URL('../results/latest.json', import.meta.url), 'utf8'),
  ) as BenchResults;
  const browserFile = new URL('../results/browser.json', import.meta.url);
  const browser = existsSync(browserFile)
    ? (JSON.parse(await readFile(browserFile, 'utf8')) as BrowserResults)
    : null;
  const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));
  const readme = await readFile(readmePath, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} section`);
  await writeFile(
    readmePath,
    readme.slice(0, start) + readmeSection(results, browser) + readme.slice(end + END.length),
  );
  console.log(`Updated the Benchmarks section of ${readmePath}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
