import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backend, BenchResults, MlpRow, Row } from './bench.js';
import type { OverheadRow } from './overhead.js';

const dash = '—';

export function ms(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  if (value >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export const ratio = (value: number) => `${value.toFixed(value >= 10 ? 1 : 2)}×`;
const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toPrecision(3));
const percent = (fraction: number) => `${(100 * fraction).toFixed(fraction < 0.1 ? 2 : 1)}%`;
export const size = (n: number) => n.toExponential(0).replace('+', '');

export type Align = 'left' | 'right';
export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  align?: Align;
}

/** The columns of the per-backend tables, in order. */
export const ROW_COLUMNS: readonly Column<Row>[] = [
  { header: 'optimizer', cell: (r) => `\`${r.label}\`` },
  { header: 'params', cell: (r) => size(r.parameters) },
  { header: 'path', cell: (r) => (r.fused ? 'fused' : 'composite'), align: 'left' },
  { header: 'ms/step', cell: (r) => ms(r.msPerStep) },
  { header: 'M params/s', cell: (r) => rate(r.mParamsPerSec) },
  { header: 'tf.train', cell: (r) => (r.tfTrain ? `\`${r.tfTrain.name}\`` : dash), align: 'left' },
  { header: 'tf.train ms/step', cell: (r) => (r.tfTrain ? ms(r.tfTrain.msPerStep) : dash) },
  { header: 'vs tf.train', cell: (r) => (r.tfTrain ? ratio(r.tfTrain.speedup) : dash) },
  { header: 'composite ms/step', cell: (r) => (r.composite ? ms(r.composite.msPerStep) : dash) },
  { header: 'fused vs composite', cell: (r) => (r.composite ? ratio(r.composite.speedup) : dash) },
  { header: 'GB/s', cell: (r) => r.bandwidth.gbPerSec.toFixed(2) },
  { header: 'bandwidth GB/s', cell: (r) => r.bandwidth.referenceGbPerSec.toFixed(1) },
  { header: 'vs bandwidth', cell: (r) => percent(r.bandwidth.fraction) },
  { header: 'JS loop GB/s', cell: (r) => r.bandwidth.loopGbPerSec.toFixed(2) },
  { header: 'vs JS loop', cell: (r) => ratio(r.bandwidth.loopFraction) },
  { header: 'tensors/step', cell: (r) => String(r.tensorsPerStep) },
  { header: 'state B/param', cell: (r) => r.stateBytesPerParam.toFixed(2) },
];

/** The columns of the MLP table, in order. */
export const MLP_COLUMNS: readonly {
  header: string;
  cell: (row: MlpRow, baseline: MlpRow | undefined) => string;
  align?: Align;
}[] = [
  { header: 'backend', cell: (r) => r.backend },
  { header: 'optimizer', cell: (r) => `\`${r.optimizer}\``, align: 'left' },
  { header: 'ms/step', cell: (r) => ms(r.msPerStep) },
  { header: 'vs tf.train.adam', cell: (r, base) => (base ? ratio(base.msPerStep / r.msPerStep) : dash) },
  { header: 'tensors/step', cell: (r) => String(r.tensorsPerStep) },
];

const width = (text: string) => [...text].length;

/** A markdown table with padded columns, as Biome formats it (so the written file passes `biome ci`). */
export function table<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = [columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => c.cell(row)))];
  const aligns = columns.map((c, i) => c.align ?? (i === 0 ? 'left' : 'right'));
  const widths = columns.map((_c, i) => Math.max(3, ...cells.map((line) => width(line[i]!))));
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(widths[i]! - width(text));
    return aligns[i] === 'left' ? text + fill : fill + text;
  };
  const line = (values: readonly string[]) => `| ${values.map(pad).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (aligns[i] === 'left' ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

/** An array of numbers, strings and such arrays on one line, as Biome prints it. */
function flatJson(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(flatJson).join(', ')}]` : JSON.stringify(value);
}

/**
 * JSON laid out as Biome formats it: objects expanded, arrays without objects on one line when
 * they fit in 110 columns.
 */
export function toJson(v: unknown, indent = 0, used = 0): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const inner = ' '.repeat(indent + 2);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const hasObject = v.some((item) => item !== null && typeof item === 'object' && !Array.isArray(item));
    if (!hasObject) {
      const flat = flatJson(v);
      if (used + flat.length + 1 <= 110) return flat;
    }
    const items = v.map((item) => inner + toJson(item, indent + 2, indent + 2));
    return `[\n${items.join(',\n')}\n${' '.repeat(indent)}]`;
  }
  const entries = Object.entries(v).filter(([, item]) => item !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, item]) => {
    const prefix = `${inner}${JSON.stringify(key)}: `;
    return prefix + toJson(item, indent + 2, prefix.length);
  });
  return `{\n${lines.join(',\n')}\n${' '.repeat(indent)}}`;
}

export function machineLine(results: Pick<BenchResults, 'machine'>): string {
  const m = results.machine;
  const wasm = m.wasm
    ? `; wasm backend: SIMD ${m.wasm.simd ? 'on' : 'off'}, threads ${m.wasm.multithread ? 'on' : 'off'}`
    : '';
  return (
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, tfjs ${m.tfjs}${wasm}; ` +
    `${m.date.slice(0, 16).replace('T', ' ')} UTC${m.commit ? `, commit ${m.commit}` : ''}`
  );
}

export function mlpTable(mlp: readonly MlpRow[]): string {
  const rows = mlp.map((row) => {
    const base = mlp.find((m) => m.backend === row.backend && m.optimizer === 'tf.train.adam');
    return { row, base };
  });
  return table(
    MLP_COLUMNS.map((c) => ({
      header: c.header,
      cell: (x: (typeof rows)[number]) => c.cell(x.row, x.base),
      align: c.align,
    })),
    rows,
  );
}

export function targetsTable(results: Pick<BenchResults, 'targets'>): string {
  const columns: Column<BenchResults['targets'][number]>[] = [
    { header: 'target', cell: (t) => t.target },
    { header: 'measured', cell: (t) => t.figure, align: 'left' },
    {
      header: 'status',
      cell: (t) => (t.met === null ? 'not measured' : t.met ? '**met**' : '**not met**'),
      align: 'left',
    },
  ];
  return table(columns, results.targets);
}

export function backendTable(rows: readonly Row[], backend: Backend, parameters?: number): string {
  return table(
    ROW_COLUMNS,
    rows.filter((r) => r.backend === backend && (parameters === undefined || r.parameters === parameters)),
  );
}

/**
 * One line per optimizer at one size, every backend side by side: the table the README quotes.
 */
export function summaryTable(rows: readonly Row[], parameters: number): string {
  const backends = [...new Set(rows.map((r) => r.backend))];
  const at = rows.filter((r) => r.parameters === parameters);
  const names = [...new Set(at.map((r) => r.optimizer))];
  const lines = names.map((name) => ({
    first: at.find((r) => r.optimizer === name)!,
    byBackend: new Map(at.filter((r) => r.optimizer === name).map((r) => [r.backend, r])),
  }));
  type Line = (typeof lines)[number];
  const perBackend = (backend: Backend, header: string, cell: (r: Row) => string): Column<Line> => ({
    header: `${backend} ${header}`,
    cell: (line) => {
      const row = line.byBackend.get(backend);
      return row ? cell(row) : dash;
    },
  });
  const columns: Column<Line>[] = [
    { header: 'optimizer', cell: (line) => `\`${line.first.label}\`` },
    ...backends.flatMap((b) => [
      perBackend(b, 'M params/s', (r) => rate(r.mParamsPerSec)),
      perBackend(b, 'vs tf.train', (r) => (r.tfTrain ? ratio(r.tfTrain.speedup) : dash)),
      perBackend(b, 'vs composite', (r) => (r.composite ? ratio(r.composite.speedup) : dash)),
      perBackend(b, 'vs bandwidth', (r) => percent(r.bandwidth.fraction)),
    ]),
    {
      header: 'tensors/step',
      cell: (line) => String(Math.max(...[...line.byBackend.values()].map((r) => r.tensorsPerStep))),
    },
    { header: 'state B/param', cell: (line) => line.first.stateBytesPerParam.toFixed(2) },
  ];
  return table(columns, lines);
}

/** The size the summary shows: 1e6 when measured, else the largest. */
export function summarySize(rows: readonly Row[]): number | null {
  const sizes = [...new Set(rows.map((r) => r.parameters))];
  if (sizes.length === 0) return null;
  return sizes.includes(1e6) ? 1e6 : Math.max(...sizes);
}

/** The whole report as markdown. */
export function toMarkdown(results: BenchResults): string {
  const backends = [...new Set(results.rows.map((r) => r.backend))];
  const { reps, mlp } = results.config;
  const parts = [
    `# optimkit benchmark (${results.config.name})`,
    '',
    `Machine: ${machineLine(results)}. Run time ${results.durationSec.toFixed(0)} s.`,
    '',
    `Each row times \`optimizer.applyGradients(grads)\` with precomputed gradients on one matrix and one vector ` +
      `(shapes ${[...new Set(results.rows.map((r) => JSON.stringify(r.shapes)))].join(', ')}): the median over ` +
      `${reps.minSamples}–${reps.maxSamples} samples of back-to-back steps (≈ ${reps.sampleMs} ms each) after the ` +
      `first step and ≥ ${reps.warmupMs} ms of warm-up; every sample ends by reading back one element. ` +
      `Fused kernels: ${results.fusion ? `"path" says whether the optimizer ran a fused kernel; for those that did, "composite" is the same optimizer after ${results.fusion}. ` : 'not available in @optimkit/core, every figure is the composite-op path. '}` +
      '"vs tf.train" is tf.train\'s time over optimkit\'s (adamw against `tf.train.adam`, which has no weight decay). ' +
      '"GB/s" counts the bytes a step must touch (param + grad + slots read, param + slots written) over its time; ' +
      '"bandwidth GB/s" is the reference: one WebAssembly SIMD pass per variable over Float32Arrays with exactly those ' +
      'reads and writes, measured right after the row\'s optimizer, and "vs bandwidth" is its time over the optimizer\'s. ' +
      '"JS loop" is the same pass as a plain JavaScript loop (once per memory layout): what a hand-written fused loop in ' +
      'JavaScript reaches. The JSON also has a native copy of as many bytes (`copyGbPerSec`). "tensors/step" is the ' +
      'growth of `tf.memory().numTensors` per step after warm-up; ' +
      '"state B/param" is `stateBytes()` per parameter.',
    '',
    '## Targets (issue 7)',
    '',
    targetsTable(results),
    '',
  ];
  const summaryAt = summarySize(results.rows);
  if (summaryAt !== null) {
    parts.push(
      `## Summary at ${size(summaryAt)} parameters`,
      '',
      '"vs composite" is the fused kernel over the same optimizer\'s composite tfjs ops ("—": no fused kernel on that backend).',
      '',
      summaryTable(results.rows, summaryAt),
      '',
    );
  }
  const eightBit = stateDtypeTable(results.rows);
  if (eightBit !== null) {
    parts.push(
      '## 8-bit optimizer state',
      '',
      "`stateDtype: 'int8'` against the same optimizer's float32 state: `stateBytes()` per parameter and the step " +
        'time ratio (int8 over float32; > 1 is slower).',
      '',
      eightBit,
      '',
    );
  }
  for (const backend of backends) {
    parts.push(`## ${backend} backend`, '', backendTable(results.rows, backend), '');
  }
  if (results.overhead && results.overhead.length > 0) {
    parts.push(
      '## Per-variable overhead',
      '',
      'One `applyGradients` step over many small variables (precomputed gradients), in µs per variable: what a ' +
        'step costs beyond its arithmetic. Median over samples of back-to-back steps, each ending by reading one element. ' +
        "Measured first in the run, before the other rows: after them every per-variable figure was slower, tf.train's too.",
      '',
      overheadTable(results.overhead),
      '',
    );
  }
  if (results.mlp.length > 0) {
    parts.push(
      '## Whole model: MNIST MLP',
      '',
      `One \`model.trainOnBatch\` of a 784-200-10 MLP (ReLU, softmax, categorical cross-entropy) on a batch of 64: ` +
        `forward, backward, update and the loss read-back; median of ${mlp?.minSamples}–${mlp?.maxSamples} steps.`,
      '',
      mlpTable(results.mlp),
      '',
    );
  }
  return parts.join('\n');
}

/** Writes `<name>.md` and `<name>.json` into `dir`; returns their paths. */
export async function writeResults(
  results: BenchResults,
  dir: string,
): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const markdown = path.join(dir, `${results.config.name}.md`);
  const json = path.join(dir, `${results.config.name}.json`);
  await writeFile(markdown, toMarkdown(results));
  await writeFile(json, `${toJson(results)}\n`);
  return { markdown, json };
}

function overheadTable(rows: readonly OverheadRow[]): string {
  const columns: Column<OverheadRow>[] = [
    { header: 'backend', cell: (o) => o.backend },
    { header: 'optimizer', cell: (o) => `\`${o.optimizer}\``, align: 'left' },
    { header: 'variables', cell: (o) => String(o.variables) },
    { header: 'elements each', cell: (o) => String(o.size) },
    { header: 'µs/variable', cell: (o) => o.usPerVariable.toFixed(2) },
    { header: 'tf.train', cell: (o) => `\`${o.tfTrain}\``, align: 'left' },
    { header: 'tf.train µs/variable', cell: (o) => o.tfTrainUsPerVariable.toFixed(2) },
    { header: 'vs tf.train', cell: (o) => ratio(o.tfTrainUsPerVariable / o.usPerVariable) },
    { header: 'tensors/step', cell: (o) => String(o.tensorsPerStep) },
  ];
  return table(columns, rows);
}

/** Rows of the 8-bit variants (`<name>-int8`) beside their float32 rows, or null when none ran. */
function stateDtypeTable(rows: readonly Row[]): string | null {
  const pairs: { int8: Row; base: Row }[] = [];
  for (const int8 of rows) {
    if (!int8.optimizer.endsWith('-int8')) continue;
    const base = rows.find(
      (r) =>
        r.optimizer === int8.optimizer.slice(0, -'-int8'.length) &&
        r.backend === int8.backend &&
        r.parameters === int8.parameters,
    );
    if (base) pairs.push({ int8, base });
  }
  if (pairs.length === 0) return null;
  const columns: Column<{ int8: Row; base: Row }>[] = [
    { header: 'backend', cell: (p) => p.int8.backend },
    { header: 'parameters', cell: (p) => size(p.int8.parameters), align: 'left' },
    { header: 'optimizer', cell: (p) => p.base.optimizer, align: 'left' },
    { header: 'float32 state B/param', cell: (p) => p.base.stateBytesPerParam.toFixed(2) },
    { header: 'int8 state B/param', cell: (p) => p.int8.stateBytesPerParam.toFixed(2) },
    { header: 'int8 step time / float32', cell: (p) => (p.int8.msPerStep / p.base.msPerStep).toFixed(2) },
  ];
  return table(columns, pairs);
}
