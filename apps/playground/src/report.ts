import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { familiesOf, type Source, UsageError } from './catalog.js';
import { VARIABLE_NAMES } from './data-parallel.js';
import type { DataParallelPart } from './data-parallel-node.js';
import { accuracyChart, lossChart, type SeriesStyle, surfaceChart } from './plots.js';
import { coinciding, formatBytes, formatSummary, summarize, withinNoise } from './stats.js';
import { LEARNING_RATE_GRID, REACHED, type SearchResult, type Surface, type Trajectory } from './surfaces.js';
import type { MnistRun } from './train-mnist.js';

/** What the report needs to know of an optimizer. */
export interface EntryInfo {
  label: string;
  family: string;
  source: Source;
  hyperparameters: string;
}

export interface MnistPart {
  epochs: number;
  runs: MnistRun[];
}

export interface SurfaceResult {
  surface: Surface;
  trajectories: Trajectory[];
  /** The learning-rate search behind each trajectory; `searchedNow` when it was not recorded. */
  search: Record<string, SearchResult & { searchedNow: boolean }>;
}

/** Everything one run of the comparisons produced. */
export interface Results {
  quick: boolean;
  backend: string;
  seeds: number;
  lossEvery: number;
  trainCount: number;
  testCount: number;
  classic: MnistPart | null;
  comparison: MnistPart | null;
  surfaces: SurfaceResult[];
  dataParallel: DataParallelPart | null;
  entries: Record<string, EntryInfo>;
  elapsedMs: number;
}

/** Loss curves that differ by less than this (relative, at every recorded point of every seed) coincide. */
export const LOSS_COINCIDENCE = 1e-3;
/** Paths that stay within this fraction of the plotted width of each other coincide. */
export const PATH_COINCIDENCE = 1e-3;

const byOptimizer = (runs: readonly MnistRun[]) => {
  const map = new Map<string, MnistRun[]>();
  for (const run of runs) map.set(run.optimizer, [...(map.get(run.optimizer) ?? []), run]);
  return map;
};

/** Groups of optimizers whose loss curves coincide over every seed. */
export function coincidingRuns(runs: readonly MnistRun[]) {
  const series = [...byOptimizer(runs)].map(([name, list]) => ({
    name,
    values: [...list].sort((a, b) => a.seed - b.seed).flatMap((r) => r.losses),
  }));
  return coinciding(series, LOSS_COINCIDENCE);
}

/** Groups of optimizers whose paths over one surface coincide. */
export function coincidingPaths(surface: Surface, trajectories: readonly Trajectory[]) {
  const span = Math.max(surface.domain.x[1] - surface.domain.x[0], surface.domain.y[1] - surface.domain.y[0]);
  const distance = (a: readonly number[], b: readonly number[]) => {
    if (a.length !== b.length) return Number.POSITIVE_INFINITY;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / span);
    return Number.isFinite(worst) ? worst : Number.POSITIVE_INFINITY;
  };
  return coinciding(
    trajectories.map((t) => ({ name: t.optimizer, values: t.points.flat() })),
    PATH_COINCIDENCE,
    distance,
  );
}

function styles(
  entries: Record<string, EntryInfo>,
  groups: readonly { names: string[] }[],
): Record<string, SeriesStyle> {
  const out: Record<string, SeriesStyle> = {};
  for (const [name, e] of Object.entries(entries)) {
    const group = groups.find((g) => g.names.includes(name));
    const first = group?.names[0];
    const under = first !== undefined && first !== name ? entries[first]?.label : undefined;
    out[name] = {
      label: under ? `${e.label} ≡ ${under}` : e.label,
      family: e.family,
      style: e.source === 'tf.train' ? 'baseline' : under ? 'coincides' : 'optimkit',
    };
  }
  return out;
}

function coincidenceText(
  groups: readonly { names: string[]; maxDifference: number }[],
  entries: Record<string, EntryInfo>,
  what: string,
): string[] {
  if (groups.length === 0) return [`No two ${what} coincide.`];
  return groups.map(
    (g) =>
      `- ${g.names.map((n) => `**${entries[n]?.label ?? n}**`).join(' and ')} coincide: ${what} differ by at most ` +
      `${g.maxDifference.toExponential(1)}; in the plots the later ones are drawn dotted (≡) over the first.`,
  );
}

interface Row {
  name: string;
  accuracy: ReturnType<typeof summarize>;
  loss: ReturnType<typeof summarize>;
  seconds: ReturnType<typeof summarize>;
  epochs: ReturnType<typeof summarize>[];
  stateBytes: number;
  divergedAt: number | null;
}

function rowsOf(part: MnistPart): Row[] {
  return [...byOptimizer(part.runs)]
    .map(([name, list]) => ({
      name,
      accuracy: summarize(list.map((r) => r.testAccuracy)),
      loss: summarize(list.map((r) => r.finalTrainLoss)),
      seconds: summarize(list.map((r) => r.trainMs / 1000)),
      epochs: Array.from({ length: part.epochs }, (_, i) => summarize(list.map((r) => r.epochAccuracy[i]!))),
      stateBytes: list[0]!.stateBytes,
      divergedAt: list.find((r) => r.divergedAt !== null)?.divergedAt ?? null,
    }))
    .sort((a, b) => b.accuracy.mean - a.accuracy.mean);
}

function verdict(best: Row, row: Row, testCount: number): string {
  if (row.divergedAt !== null) return `diverged (loss not finite at step ${row.divergedAt})`;
  if (row === best) return 'best';
  return withinNoise(best.accuracy, row.accuracy, testCount) ? 'within noise of the best' : 'below the best';
}

/** The markdown table of the main comparison. */
export function comparisonTable(
  part: MnistPart,
  entries: Record<string, EntryInfo>,
  testCount: number,
): string {
  const rows = rowsOf(part);
  const best = rows[0]!;
  return [
    '| optimizer | from | hyperparameters | test accuracy (%) | final train loss | training time / epoch (s) | optimizer state | compared with the best |',
    '|---|---|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${entries[r.name]!.label} | ${entries[r.name]!.source} | ${entries[r.name]!.hyperparameters} | ` +
        `${formatSummary(r.accuracy, 2, 100)} | ${formatSummary(r.loss, 4)} | ` +
        `${formatSummary({ ...r.seconds, mean: r.seconds.mean / part.epochs, std: r.seconds.std / part.epochs }, 2)} | ` +
        `${formatBytes(r.stateBytes)} | ${verdict(best, r, testCount)} |`,
    ),
  ].join('\n');
}

/** The markdown table of the classic experiment: accuracy after every epoch, loss and training time. */
export function classicTable(part: MnistPart, entries: Record<string, EntryInfo>, testCount: number): string {
  const rows = rowsOf(part);
  const best = rows[0]!;
  const epochs = Array.from({ length: part.epochs }, (_, i) => `epoch ${i + 1}`);
  return [
    `| optimizer | hyperparameters | ${epochs.map((e) => `test accuracy, ${e} (%)`).join(' | ')} | final train loss | training time (s) | compared with the best |`,
    `|---|---|${epochs.map(() => '---:').join('|')}|---:|---:|---|`,
    ...rows.map(
      (r) =>
        `| ${entries[r.name]!.label} | ${entries[r.name]!.hyperparameters} | ` +
        `${r.epochs.map((s) => formatSummary(s, 2, 100)).join(' | ')} | ${formatSummary(r.loss, 4)} | ` +
        `${formatSummary(r.seconds, 1)} | ${verdict(best, r, testCount)} |`,
    ),
  ].join('\n');
}

function statisticsText(results: Results): string[] {
  const p = 0.93;
  const binomial = 100 * Math.sqrt((p * (1 - p)) / results.testCount);
  return [
    '## How to read the numbers',
    '',
    `Every MNIST figure is the mean ± sample standard deviation over ${results.seeds} seed(s) (seeds 1–${results.seeds}). ` +
      'A seed fixes the initial weights and the order of the batches in every epoch; each optimizer runs with ' +
      'the same seeds, so within a seed all start from the same point and see the same batches. ' +
      `The ${results.testCount} test digits alone give a binomial standard error of about ${binomial.toFixed(1)} % ` +
      `at ${100 * p} % accuracy. "Within noise of the best" means the difference to the best mean is less than ` +
      'twice the standard error of the difference (over seeds, or binomial with one seed): such rankings are ' +
      'not established by this run. Training time is the wall time of the training steps alone, on a shared ' +
      'machine: compare it within one run.',
    '',
  ];
}

function surfaceSection(results: Results): string[] {
  const lines: string[] = [
    '## Trajectories on 2-D surfaces',
    '',
    'Every optimizer starts from the same point and runs at the learning rate chosen for it on that surface by a ' +
      'grid search (`searchLearningRate` in `apps/playground/src/surfaces.ts`): each rate of ' +
      `${LEARNING_RATE_GRID.join(', ')} runs the surface's steps; the chosen rate reaches the minimum first ` +
      `(within ${100 * REACHED} % of the plotted width of it, and staying there to the end), or, if none does, ends ` +
      'nearest to it; ties go to the smaller rate. The choices are recorded in ' +
      '`apps/playground/src/surface-learning-rates.json` (`pnpm --filter @optimkit/playground tune` reruns the ' +
      'search, deterministic, on the cpu backend); an optimizer missing there is searched at run time. The saddle ' +
      'has no minimum: it uses the rate chosen on the bowl. Trajectories run on the cpu backend.',
    '',
    '**Divergence.** A path diverges when a coordinate leaves ±1e6 or stops being finite. Plain gradient descent ' +
      'is stable only below 2/L, L being the largest curvature (the bowl has L = 50, so 0.04); momentum ' +
      'raises the limit to 2(1 + β)/L; adaptive methods (AdaGrad, RMSProp, Adam and the rest) divide by a ' +
      'running gradient scale, so their steps are about the learning rate whatever the curvature: too large a ' +
      'rate makes them oscillate around the minimum rather than blow up, and sign methods (Lion) always step ' +
      'by exactly the learning rate, so they hover within it of the minimum. The columns "stable up to" and ' +
      '"diverges from" give, for each optimizer, the largest rate of the grid that did not diverge and the ' +
      'smallest that did. On the saddle, f = x² − y² falls without bound: a path that leaves the saddle goes to ' +
      '−∞ by design (the unbounded values of earlier reports, such as −2.07e7, were that, not a bug); the table ' +
      'gives the step at which each path left the plotted square, where it is stopped.',
    '',
  ];
  for (const { surface, trajectories, search } of results.surfaces) {
    const groups = coincidingPaths(surface, trajectories);
    lines.push(`### ${surface.label}`, '');
    if (surface.minimum) {
      lines.push(
        '| optimizer | learning rate | reached the minimum | final f | stable up to | diverges from |',
        '|---|---:|---|---:|---:|---:|',
      );
    } else {
      lines.push(
        '| optimizer | learning rate (the bowl’s) | left the saddle | final f |',
        '|---|---:|---|---:|',
      );
    }
    for (const t of trajectories) {
      const s = search[t.optimizer]!;
      const label = `${results.entries[t.optimizer]?.label ?? t.optimizer}${s.searchedNow ? ' (searched now)' : ''}`;
      const value = Number.isFinite(t.finalValue) ? t.finalValue.toExponential(2) : 'not finite';
      if (surface.minimum) {
        const edge =
          s.learningRate === LEARNING_RATE_GRID[LEARNING_RATE_GRID.length - 1] ? ' (grid edge)' : '';
        const reached =
          t.divergedAt !== null
            ? `diverged at step ${t.divergedAt}`
            : s.reachedAt !== null
              ? `at step ${s.reachedAt}`
              : `no: ends ${s.finalDistance.toPrecision(2)} away`;
        lines.push(
          `| ${label} | ${s.learningRate}${edge} | ${reached} | ${value} | ${s.largestStable ?? '–'} | ${s.smallestDiverging ?? 'none of the grid'} |`,
        );
      } else {
        const left =
          t.divergedAt !== null
            ? `diverged at step ${t.divergedAt}`
            : t.escapedAt !== null
              ? `at step ${t.escapedAt}`
              : `no (|y| = ${Math.abs(t.points[t.points.length - 1]![1]).toExponential(1)} after ${t.points.length - 1} steps)`;
        lines.push(`| ${label} | ${s.learningRate} | ${left} | ${value} |`);
      }
    }
    lines.push('', ...coincidenceText(groups, results.entries, 'paths'), '');
    lines.push(`![${surface.label}](plots/surface-${surface.name}.svg)`, '');
  }
  return lines;
}

/** The markdown of the data-parallel section: what ran, the table, and how to read it. */
export function dataParallelSection(part: DataParallelPart, quick: boolean): string[] {
  const { plan, rows, single } = part;
  const parameters = single.sizes.reduce((a, b) => a + b, 0);
  const largest = Math.max(...single.sizes);
  const largestName = VARIABLE_NAMES[single.sizes.indexOf(largest)];
  const share = `${((100 * largest) / parameters).toFixed(1)} %`;
  const perRank = (values: readonly number[]) => values.map(formatBytes).join(' · ');
  const lines = [
    `## Data-parallel training with ZeRO: ${rows.map((r) => r.worldSize).join(', ')} rank(s) on worker threads`,
    '',
  ];
  if (quick) {
    lines.push(
      `> **Quick run.** ${plan.steps} steps at ${rows.map((r) => r.worldSize).join(' and ')} ranks: this checks that ` +
        'the workers, the collective and the table work. Its times, losses and accuracies mean nothing.',
      '',
    );
  }
  lines.push(
    `The report's 784-200-10 MLP, initial weights (seed ${plan.seed}) and digits, trained for ${plan.steps} ` +
      `global batches of ${plan.batchSize} (the first epoch's order, no digit twice) with the comparison's AdamW ` +
      '(learning rate 1e-3, weight decay 1e-2, none on the biases) wrapped in `@optimkit/zero` (stage 2). Each rank ' +
      `is a Node worker thread (\`runWorkers\` of \`@optimkit/zero/node\`: a SharedArrayBuffer collective) with its own ` +
      `copy of the model, backend \`${part.backend}\`; it computes the gradients of its equal slice of every global ` +
      'batch, each gradient is summed onto the rank that owns the variable, that rank updates its share of the ' +
      'AdamW state, and the new weights are gathered by every rank' +
      (rows.some((r) => r.worldSize === 1) ? '; at one rank this is unsharded data-parallel training' : '') +
      '. The reference is one process training on the whole batch with the plain AdamW.',
    '',
    '| ranks | optimizer state on each rank | sum over ranks | total / N | largest rank ÷ (total / N) | sent / received per step, each rank | median step (ms) | final train loss | test accuracy (%) | ranks identical | max \\|Δ\\| to one process |',
    '|---:|---|---:|---:|---:|---|---:|---:|---:|---|---:|',
    ...rows.map(
      (r) =>
        `| ${r.worldSize} | ${perRank(r.stateBytes)} | ${formatBytes(r.stateBytes.reduce((a, b) => a + b, 0))} | ` +
        `${formatBytes(Math.round(r.idealBytes))} | ${(Math.max(...r.stateBytes) / r.idealBytes).toFixed(2)} | ` +
        `${r.bytesSentPerStep.map((b, k) => `${formatBytes(b)} / ${formatBytes(r.bytesReceivedPerStep[k]!)}`).join(' · ')} | ` +
        `${r.medianStepMs.toFixed(1)} | ${r.finalLoss.toFixed(4)} | ${(100 * r.testAccuracy).toFixed(2)} | ` +
        `${r.ranksIdentical ? 'yes (bit for bit)' : 'NO'} | ${r.maxDifferenceToSingle.toExponential(2)} |`,
    ),
    `| one process | ${formatBytes(single.stateBytes)} | | | | none | | ${single.finalLoss.toFixed(4)} | ${(100 * single.testAccuracy).toFixed(2)} | | 0 |`,
    '',
    `**Why the largest rank keeps almost everything.** ZeRO here partitions whole variables (as PyTorch's ` +
      '`ZeroRedundancyOptimizer` does: each variable, largest first, to the rank that owns the fewest elements so ' +
      'far), so that any optimizer, including those with per-tensor statistics (LAMB, Adafactor), runs unchanged on ' +
      `its owner. This MLP's ${largestName} (${largest.toLocaleString('en')} of its ${parameters.toLocaleString('en')} ` +
      `parameters, ${share}) cannot be split: its rank keeps its whole AdamW state, so the largest rank stays near ` +
      `${share} of the total for any number of ranks, while the total / N an even split would give falls with N. ` +
      `Who owns what: ${rows
        .filter((r) => r.worldSize > 1)
        .map(
          (r) =>
            `${r.worldSize} ranks: ${r.owned.map((o, k) => `rank ${k} ${o.join(', ') || 'nothing'}`).join('; ')}`,
        )
        .join('. ')}. Models of many layers of similar size come close to total / N.`,
    '',
    "Traffic is what each rank sent and received per step after the first (the first also carries the ranks' " +
      'handshake), as the collective counts a direct exchange: stage 2 sends every gradient to its owner ' +
      '(reduce-scatter) and every new weight from its owner (all-gather). The step time is the median over steps ' +
      "of the slowest rank's, on this machine's cores: more ranks than cores share them, so it measures overhead, " +
      'not speed-up. "Ranks identical" compares the final weights of every rank bit for bit; the last column is ' +
      'the largest difference of any weight to the single process. One rank computes exactly what the single ' +
      "process does; with more, each slice's gradient is summed in another order than the whole batch's, so the " +
      'weights differ by float32 rounding.',
    '',
  );
  return lines;
}

/**
 * The loss and accuracy plots of one MNIST part (written as `plots/<name>-loss.svg` and
 * `plots/<name>-accuracy.svg`) and the markdown that says which runs coincide and shows the plots.
 */
async function mnistFigures(
  write: (file: string, content: string) => Promise<void>,
  name: string,
  what: string,
  part: MnistPart,
  results: Results,
  families: readonly string[],
): Promise<string[]> {
  const groups = coincidingRuns(part.runs);
  const st = styles(results.entries, groups);
  const loss = `${what}: training loss (mean of each ${results.lossEvery} steps)`;
  const accuracy = `${what}: test accuracy after each epoch`;
  await write(`plots/${name}-loss.svg`, await lossChart(loss, part.runs, st, families));
  await write(`plots/${name}-accuracy.svg`, await accuracyChart(accuracy, part.runs, st, families));
  return [
    ...coincidenceText(groups, results.entries, 'loss curves'),
    '',
    `![${loss}](plots/${name}-loss.svg)`,
    '',
    `![${accuracy}](plots/${name}-accuracy.svg)`,
    '',
  ];
}

/** The files of the report in `dir`, relative to it: what a later run deletes before writing its own. */
const MANIFEST = 'results.json';

/**
 * Makes `dir` ready for a fresh report: creates it, or deletes the files the previous report
 * listed in its manifest. Refuses a non-empty directory that holds no report, so that `--out`
 * never deletes or mixes with someone else's files.
 */
export async function prepareReportDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const present = await readdir(dir);
  if (present.length === 0) return;
  let files: unknown;
  try {
    files = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')).files;
  } catch {
    throw new UsageError(`${dir} is not empty and holds no playground report: choose another --out`);
  }
  const listed = Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
  for (const file of [...listed, MANIFEST]) {
    const path = normalize(join(dir, file));
    if (path.startsWith(dir + sep)) await rm(path, { force: true });
  }
  await rmdir(join(dir, 'plots')).catch(() => undefined);
}

/**
 * Writes `README.md`, `results.json` and the SVG plots into `dir` (absolute, made ready by
 * {@link prepareReportDirectory}); returns their absolute paths.
 */
export async function writeReport(dir: string, results: Results): Promise<string[]> {
  await mkdir(join(dir, 'plots'), { recursive: true });
  const written: string[] = [];
  const write = async (name: string, content: string) => {
    await writeFile(join(dir, name), content);
    written.push(name);
  };
  const entries = results.entries;
  const families = familiesOf(Object.values(entries));
  const md: string[] = [
    '# optimkit playground report',
    '',
    `Backend \`${results.backend}\`; ${results.trainCount} training and ${results.testCount} held-out test digits ` +
      `from the \`mnist\` package; ${results.seeds} seed(s); generated ${new Date().toISOString()} in ` +
      `${(results.elapsedMs / 60_000).toFixed(1)} minutes.`,
    '',
  ];
  if (results.quick) {
    md.push(
      '> **Quick run.** A tenth of the digits, one epoch and few steps: this run checks that everything works. ' +
        'Its accuracies and rankings mean nothing; run without `--quick` for the comparison.',
      '',
    );
  }
  if (results.classic || results.comparison) md.push(...statisticsText(results));

  if (results.classic) {
    const part = results.classic;
    md.push(
      `## The classic experiment: 784-200-10 ReLU MLP, batch 64, ${part.epochs} epoch(s), cross-entropy`,
      '',
      'The textbook comparison: plain SGD, SGD with momentum 0.9, Nesterov, AdaGrad, RMSProp, AdaDelta and ' +
        "Adam, each at its customary default, which is Keras 2's: the values of the papers or lecture that " +
        "introduced them (Hinton's RMSProp lecture: learning rate 1e-3, decay 0.9; Zeiler's AdaDelta: 1 and " +
        'ρ 0.95; Kingma and Ba: Adam at 1e-3, β 0.9 and 0.999; AdaGrad at 1e-2). SGD, momentum and Nesterov share ' +
        "plain SGD's learning rate 1e-2, so that momentum is the only change. Every ε is optimkit's (PyTorch's) " +
        `default. The loss is recorded every ${results.lossEvery} steps (the mean of those steps), the test ` +
        `accuracy after every epoch; the time is the training steps' wall time over the ${part.epochs} epoch(s).`,
      '',
      classicTable(part, entries, results.testCount),
      '',
      ...(await mnistFigures(write, 'classic', 'The classic experiment', part, results, ['all'])),
    );
  }

  if (results.comparison) {
    const part = results.comparison;
    const present = families.filter((f) => part.runs.some((r) => entries[r.optimizer]?.family === f));
    md.push(
      `## Every optimizer: 784-200-10 ReLU MLP, batch 64, ${part.epochs} epoch(s)`,
      '',
      "Every optimkit optimizer, a third-party plugin and tf.train's baselines, each with the hyperparameters " +
        'shown (a usual choice for this MLP; "rank ≤ 1" is a param group for the biases).',
      '',
      comparisonTable(part, entries, results.testCount),
      '',
      ...(await mnistFigures(write, 'mnist', 'Every optimizer, by family', part, results, present)),
    );
  }

  if (results.dataParallel) md.push(...dataParallelSection(results.dataParallel, results.quick));

  if (results.surfaces.length > 0) {
    for (const { surface, trajectories } of results.surfaces) {
      const st = styles(entries, coincidingPaths(surface, trajectories));
      await write(
        `plots/surface-${surface.name}.svg`,
        await surfaceChart(surface, trajectories, st, families),
      );
    }
    md.push(...surfaceSection(results));
  }

  await write('README.md', md.join('\n'));
  written.push(MANIFEST);
  await writeFile(
    join(dir, MANIFEST),
    JSON.stringify(
      {
        files: written.filter((f) => f !== MANIFEST),
        quick: results.quick,
        backend: results.backend,
        seeds: results.seeds,
        classic: results.classic,
        comparison: results.comparison,
        surfaces: results.surfaces.map(({ surface, trajectories, search }) => ({
          surface: surface.name,
          search,
          trajectories,
        })),
        dataParallel: results.dataParallel,
      },
      null,
      1,
    ),
  );
  return written.map((f) => join(dir, f));
}
