import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { selectOptimizers } from '../optimizers.js';
import { type Column, machineLine, ms, ratio, table, targetsTable, toJson } from '../report.js';
import { describeShapes, parameterCount } from './problems.js';
import type { BrowserBackend, Measure, PageRow } from './protocol.js';
import type { BrowserBackendResult, BrowserResults } from './run.js';
import { launchRatio, speedup } from './targets.js';

const dash = '—';
const count = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
const thousands = (n: number) => n.toLocaleString('en-US');

/** Whether optimkit's fused kernels ran (a kernel named `OptimkitFused_…` in the profiled step). */
export const pathOf = (row: PageRow) => (row.optimkit.fusedKernelsPerStep > 0 ? 'fused' : 'composite');

const of = (m: Measure | null | undefined, cell: (m: Measure) => string) => (m ? cell(m) : dash);

/** The columns of the per-backend tables, in order. */
export const BROWSER_COLUMNS: readonly Column<PageRow>[] = [
  { header: 'problem', cell: (r) => r.problem },
  { header: 'optimizer', cell: (r) => `\`${r.label}\``, align: 'left' },
  { header: 'path', cell: pathOf, align: 'left' },
  { header: 'ms/step', cell: (r) => ms(r.optimkit.msPerStep) },
  { header: 'tf.train', cell: (r) => (r.tfTrain ? `\`${r.tfTrain.name}\`` : dash), align: 'left' },
  { header: 'tf.train ms/step', cell: (r) => of(r.tfTrain, (m) => ms(m.msPerStep)) },
  { header: 'vs tf.train', cell: (r) => (r.tfTrain ? ratio(speedup(r)!) : dash) },
  { header: 'composite ms/step', cell: (r) => of(r.composite, (m) => ms(m.msPerStep)) },
  {
    header: 'fused vs composite',
    cell: (r) => of(r.composite, (m) => ratio(m.msPerStep / r.optimkit.msPerStep)),
  },
  { header: 'kernels', cell: (r) => count(r.optimkit.kernelsPerStep) },
  { header: 'composite kernels', cell: (r) => of(r.composite, (m) => count(m.kernelsPerStep)) },
  { header: 'tf.train kernels', cell: (r) => of(r.tfTrain, (m) => count(m.kernelsPerStep)) },
  { header: 'launches', cell: (r) => count(r.optimkit.launchesPerStep) },
  { header: 'composite launches', cell: (r) => of(r.composite, (m) => count(m.launchesPerStep)) },
  { header: 'tf.train launches', cell: (r) => of(r.tfTrain, (m) => count(m.launchesPerStep)) },
  {
    header: 'launches vs tf.train',
    cell: (r) => {
      const value = launchRatio(r);
      return value === null ? dash : ratio(value);
    },
  },
  {
    header: 'GPU errors',
    cell: (r) =>
      [r.optimkit, r.composite, r.tfTrain].map((m) => of(m, (x) => String(x.gpuErrors))).join(' / '),
  },
  {
    header: 'tensors/step',
    cell: (r) =>
      `${count(r.optimkit.tensorsPerStep)}${r.composite ? ` / ${count(r.composite.tensorsPerStep)}` : ''}`,
  },
];

export function browserTable(rows: readonly PageRow[], backend: BrowserBackend): string {
  return table(
    BROWSER_COLUMNS,
    rows.filter((r) => r.backend === backend),
  );
}

/** One line on what ran a backend: the WebGL renderer or the WebGPU adapter, and chromium's flags. */
export function backendLine(result: BrowserBackendResult): string {
  const flags = `flags \`${result.flags.join(' ')}\``;
  if (result.unavailable !== null || result.info === null) {
    return `**${result.backend}**: not measured, ${result.unavailable ?? 'no information'} (${flags}).`;
  }
  const fused =
    `core \`FUSED_BACKENDS\`: ${result.fusedBackends ? result.fusedBackends.join(', ') || 'none' : 'not exported'}, ` +
    `\`fusedKernelsActive()\` ${result.fusedKernelsActive === null ? 'not exported' : String(result.fusedKernelsActive)}`;
  const counters = `launches counted: ${result.launchCounters.map((c) => `\`${c}\``).join(', ')}`;
  const info = result.info;
  if (info.kind === 'webgl') {
    return (
      `**webgl**: WebGL ${info.version}, renderer "${info.renderer}", vendor "${info.vendor}", ` +
      `${info.float32 ? 'float32' : 'float16'} render targets, max texture ${info.maxTextureSize}, ` +
      `${info.disjointTimer ? 'GPU timer queries' : 'no GPU timer queries'}; ${fused}; ${counters}; ${flags}.`
    );
  }
  const adapter = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ');
  return (
    `**webgpu**: adapter "${adapter || 'unnamed'}"${info.isFallbackAdapter ? ' (fallback adapter)' : ''}, ` +
    `${info.features.includes('timestamp-query') ? 'timestamp-query' : 'no timestamp-query'}, ` +
    `${info.features.length} features; ${fused}; ${counters}; ${flags}.`
  );
}

/** The whole browser report as markdown. */
/** The requested optimizers a parameter limit kept off some problem on `backend`, and why. */
function notTimed(results: BrowserResults, backend: BrowserBackend): string[] {
  return selectOptimizers(results.config.optimizers).flatMap((entry) => {
    const reason = entry.notOn?.[backend];
    if (reason !== undefined) return [`\`${entry.label}\` (${reason})`];
    const limit = entry.maxParameters?.[backend];
    if (limit === undefined) return [];
    const over = results.problems.filter((p) => parameterCount(p) > limit).map((p) => p.id);
    return over.length === 0
      ? []
      : [
          `\`${entry.label}\` on ${over.join(' and ')} (above its ${limit.toExponential(0)} parameters on ${backend}; see \`optimizers.ts\`)`,
        ];
  });
}

export function toBrowserMarkdown(results: BrowserResults): string {
  const { reps, countSteps } = results.config;
  const chromium = [...new Set(results.backends.map((b) => b.chromium))].join(', ');
  const userAgent = results.backends[0]?.userAgent ?? '';
  const problems = results.problems
    .map(
      (p) =>
        `**${p.id}**: ${p.label}, ${thousands(parameterCount(p))} parameters in ${p.variables.length} ` +
        `variable${p.variables.length === 1 ? '' : 's'}: ${describeShapes(p)}`,
    )
    .join('; ');
  const parts = [
    `# optimkit browser benchmark (${results.config.name})`,
    '',
    `Machine: ${machineLine(results)}. Chromium ${chromium} (${userAgent}), headless. Run time ${results.durationSec.toFixed(0)} s.`,
    '',
    ...results.backends.flatMap((b) => [`- ${backendLine(b)}`]),
    '',
    `Each row times \`optimizer.applyGradients(grads)\` with precomputed gradients in the page, on ${problems}. ` +
      `Per optimizer: two untimed steps (the first creates the slots and compiles the shaders), ≥ ${reps.warmupMs} ms of ` +
      `warm-up, then the median over ${reps.minSamples}–${reps.maxSamples} samples of back-to-back steps ` +
      `(≈ ${reps.sampleMs} ms each, at least one step); every sample ends inside the clock by awaiting one element of ` +
      'the last variable (`await tf.slice(…).data()`), which waits for every queued GPU kernel. ' +
      '"composite" is the same optimizer after `setFusedKernels(false)`; "path" says whether the fused run had an ' +
      '`OptimkitFused_…` kernel. "vs tf.train" is tf.train\'s time over optimkit\'s (adamw against `tf.train.adam`). ' +
      `"kernels" is the kernel count \`tf.profile\` records for one step; "launches" are GPU launches per step, ` +
      `counted over ${countSteps} untimed step${countSteps === 1 ? '' : 's'} by wrapping the WebGL context's ` +
      '`drawArrays`/`drawElements` (webgl) or `GPUComputePassEncoder.dispatchWorkgroups` (webgpu) on their ' +
      'prototypes before tfjs creates its context: kernels tfjs runs on the CPU (small tensors) launch nothing, and ' +
      'WebGL texture packing and unpacking launch extra draws. "GPU errors" (optimkit / composite / tf.train) ' +
      'counts `gl.getError()` codes or uncaught WebGPU validation errors during the measurement: 0 expected, ' +
      'as an invalid WebGPU pipeline silently drops its commands. "tensors/step" is the growth of ' +
      '`tf.memory().numTensors` per timed step (fused / composite).',
    '',
    '## Targets (browser)',
    '',
    targetsTable(results),
    '',
  ];
  for (const backend of results.backends) {
    parts.push(`## ${backend.backend} backend`, '');
    if (backend.unavailable !== null) parts.push(`Not measured: ${backend.unavailable}.`, '');
    else parts.push(browserTable(backend.rows, backend.backend), '');
    const capped = notTimed(results, backend.backend);
    if (backend.unavailable === null && capped.length > 0)
      parts.push(`Not timed here: ${capped.join('; ')}.`, '');
    const erring = backend.rows.flatMap((r) =>
      (
        [
          ['', r.optimkit],
          [' composite', r.composite],
          [` ${r.tfTrain?.name}`, r.tfTrain],
        ] as const
      )
        .filter(([, m]) => m && m.gpuErrors > 0)
        .map(
          ([what, m]) =>
            `- ${r.problem} \`${r.optimizer}\`${what}: ${m!.gpuErrors} errors, first: ${m!.gpuError}`,
        ),
    );
    if (erring.length > 0) {
      parts.push(
        'GPU errors (their commands did not run: those figures are not of the update):',
        '',
        ...erring,
        '',
      );
    }
    if (backend.failures.length > 0) {
      parts.push(
        'Failed steps:',
        '',
        ...backend.failures.map((f) => `- ${f.problem} \`${f.optimizer}\`: ${f.error}`),
        '',
      );
    }
  }
  return parts.join('\n');
}

/** Writes `<name>.md` and `<name>.json` into `dir`; returns their paths. */
export async function writeBrowserResults(
  results: BrowserResults,
  dir: string,
): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const markdown = path.join(dir, `${results.config.name}.md`);
  const json = path.join(dir, `${results.config.name}.json`);
  await writeFile(markdown, toBrowserMarkdown(results));
  await writeFile(json, `${toJson(results)}\n`);
  return { markdown, json };
}
