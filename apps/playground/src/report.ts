import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lossChart, surfaceChart } from './plots.js';
import type { Surface, Trajectory } from './surfaces.js';
import type { MnistRun } from './train-mnist.js';

/** Everything one run of the comparisons produced. */
export interface Results {
  backend: string;
  epochs: number;
  trainCount: number;
  testCount: number;
  mnist: MnistRun[];
  surfaces: { surface: Surface; trajectories: Trajectory[] }[];
  labels: Record<string, string>;
}

function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (bytes < 1024) return `${bytes} B`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The markdown table of the MNIST runs. */
export function mnistTable(runs: readonly MnistRun[]): string {
  const rows = [...runs].sort((a, b) => b.testAccuracy - a.testAccuracy);
  const lines = [
    '| optimizer | final train loss | test accuracy | wall time / epoch | optimizer state |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.finalTrainLoss.toFixed(4)} | ${(100 * r.testAccuracy).toFixed(2)} % | ` +
        `${(r.msPerEpoch / 1000).toFixed(2)} s | ${formatBytes(r.stateBytes)} |`,
    ),
  ];
  return lines.join('\n');
}

function surfaceTable(results: Results): string {
  const names = results.surfaces[0]?.trajectories.map((t) => t.optimizer) ?? [];
  const header = `| optimizer | ${results.surfaces.map((s) => s.surface.name).join(' | ')} |`;
  const rule = `|---|${results.surfaces.map(() => '---:').join('|')}|`;
  const rows = names.map((name) => {
    const cells = results.surfaces.map(({ trajectories }) => {
      const t = trajectories.find((x) => x.optimizer === name);
      if (!t) return '–';
      return t.diverged ? 'diverged' : t.finalValue.toExponential(2);
    });
    return `| ${results.labels[name] ?? name} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

/** Writes `README.md`, `results.json` and the SVG plots into `dir`. */
export async function writeReport(dir: string, results: Results): Promise<string[]> {
  await mkdir(join(dir, 'plots'), { recursive: true });
  const written: string[] = [];
  const write = async (name: string, content: string) => {
    await writeFile(join(dir, name), content);
    written.push(join(dir, name));
  };
  if (results.mnist.length > 0) await write('plots/mnist-loss.svg', await lossChart(results.mnist));
  for (const { surface, trajectories } of results.surfaces) {
    await write(
      `plots/surface-${surface.name}.svg`,
      await surfaceChart(surface, trajectories, results.labels),
    );
  }
  const markdown = [
    '# optimkit playground report',
    '',
    `Backend: \`${results.backend}\`. Generated ${new Date().toISOString()}.`,
    '',
    ...(results.mnist.length > 0
      ? [
          `## MNIST: 784-200-10 ReLU MLP, batch 64, ${results.epochs} epoch(s)`,
          '',
          `${results.trainCount} training and ${results.testCount} held-out test digits from the \`mnist\` package.`,
          '',
          mnistTable(results.mnist),
          '',
          '![training loss](plots/mnist-loss.svg)',
          '',
        ]
      : []),
    ...(results.surfaces.length > 0
      ? [
          '## Trajectories on 2-D surfaces',
          '',
          'Final value of each surface after the run (every optimizer starts from the same point):',
          '',
          surfaceTable(results),
          '',
          ...results.surfaces.map(({ surface }) => `![${surface.label}](plots/surface-${surface.name}.svg)`),
          '',
        ]
      : []),
  ].join('\n');
  await write('README.md', markdown);
  await write(
    'results.json',
    JSON.stringify(
      {
        backend: results.backend,
        mnist: results.mnist,
        surfaces: results.surfaces.map(({ surface, trajectories }) => ({
          surface: surface.name,
          trajectories,
        })),
      },
      null,
      1,
    ),
  );
  return written;
}
