import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchConfig, type BenchResults, runBench } from './bench.js';
import { MLP_COLUMNS, ROW_COLUMNS, writeResults } from './report.js';

// The bench in a tiny configuration: it must complete, write its table and JSON with every figure,
// and leak no tensor. No timing is asserted: CI machines are too noisy for that.
const config: BenchConfig = {
  name: 'ci',
  backends: ['cpu'],
  sizes: [1e4],
  optimizers: ['sgd-momentum', 'adamw'],
  reps: { warmupMs: 0, sampleMs: 0, minSamples: 2, maxSamples: 2, budgetMs: 0 },
  referenceReps: { warmupMs: 0, sampleMs: 0, minSamples: 2, maxSamples: 2, budgetMs: 0 },
  mlp: { warmupMs: 0, sampleMs: 0, minSamples: 1, maxSamples: 1, budgetMs: 0 },
  overhead: {
    reps: { warmupMs: 0, sampleMs: 0, minSamples: 1, maxSamples: 1, budgetMs: 0 },
    configurations: [[20, 16]],
  },
};

describe('bench (tiny configuration)', () => {
  let dir: string;
  let results: BenchResults;
  let markdown: string;
  let json: BenchResults;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'optimkit-bench-'));
    results = await runBench(config);
    const written = await writeResults(results, dir);
    markdown = await readFile(written.markdown, 'utf8');
    json = JSON.parse(await readFile(written.json, 'utf8')) as BenchResults;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('measures every optimizer at every size with every figure', () => {
    expect(json.rows.map((r) => `${r.backend} ${r.parameters} ${r.optimizer}`)).toEqual([
      'cpu 10000 sgd-momentum',
      'cpu 10000 adamw',
    ]);
    for (const row of json.rows) {
      expect(row.msPerStep).toBeGreaterThan(0);
      expect(row.mParamsPerSec).toBeCloseTo(row.parameters / (row.msPerStep * 1e3));
      expect(row.samples).toBe(2);
      expect(row.tfTrain?.speedup).toBeGreaterThan(0);
      expect(row.bandwidth.bytesPerStep).toBeGreaterThan(0);
      expect(row.bandwidth.fraction).toBeGreaterThan(0);
      expect(row.bandwidth.referenceGbPerSec).toBeGreaterThan(0);
      expect(row.bandwidth.loopGbPerSec).toBeGreaterThan(0);
      expect(row.bandwidth.loopFraction).toBeGreaterThan(0);
      expect(row.bandwidth.copyGbPerSec).toBeGreaterThan(0);
      if (row.fused) expect(row.composite?.speedup).toBeGreaterThan(0);
      else expect(row.composite).toBeNull();
    }
    const [momentum, adamw] = json.rows;
    expect(momentum?.tfTrain?.name).toBe('tf.train.momentum');
    expect(adamw?.tfTrain?.name).toBe('tf.train.adam');
    // 4 bytes of momentum buffer, 8 of Adam's two moments per parameter.
    expect(momentum?.stateBytesPerParam).toBe(4);
    expect(adamw?.stateBytesPerParam).toBe(8);
    // param + grad + 2 moments read, param + 2 moments written, 4 bytes each.
    expect(adamw?.bandwidth.bytesPerStep).toBe(1e4 * 4 * 7);
  });

  it('leaks no tensor per step', () => {
    for (const row of json.rows) {
      expect(row.tensorsPerStep).toBe(0);
      if (row.composite) expect(row.composite.tensorsPerStep).toBe(0);
    }
    for (const row of json.mlp.filter((m) => !m.optimizer.startsWith('tf.train'))) {
      expect(row.tensorsPerStep).toBe(0);
    }
    expect(json.targets.find((t) => t.id === 'no-leaks')?.met).toBe(true);
  });

  it('times the per-variable overhead against tf.train, leaking nothing', () => {
    expect(json.overhead!.map((o) => `${o.optimizer} ${o.variables}×${o.size} vs ${o.tfTrain}`)).toEqual([
      'sgd({ momentum: 0.9 }) 20×16 vs tf.train.momentum',
      'adamw() 20×16 vs tf.train.adam',
    ]);
    for (const o of json.overhead!) {
      expect(o.usPerVariable).toBeGreaterThan(0);
      expect(o.tfTrainUsPerVariable).toBeGreaterThan(0);
      expect(o.tensorsPerStep).toBe(0);
    }
    expect(markdown).toContain('## Per-variable overhead');
  });

  it('times the MLP step with adamw and tf.train.adam', () => {
    const names = json.mlp.map((m) => m.optimizer);
    expect(names).toContain('adamw()');
    expect(names).toContain('tf.train.adam');
    for (const row of json.mlp) {
      expect(row.parameters).toBe(784 * 200 + 200 + 200 * 10 + 10);
      expect(row.msPerStep).toBeGreaterThan(0);
    }
  });

  it('writes a markdown table with every column, the targets and the machine', () => {
    const lines = markdown.split('\n');
    const cells = (line: string) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
    const tableAfter = (headers: readonly string[]) => {
      const start = lines.findIndex((line) => cells(line).join('|') === headers.join('|'));
      expect(start, `a table with columns ${headers.join(', ')}`).toBeGreaterThanOrEqual(0);
      const body: string[][] = [];
      for (const line of lines.slice(start + 2)) {
        if (!line.startsWith('|')) break;
        body.push(cells(line));
      }
      return body;
    };
    const rows = tableAfter(ROW_COLUMNS.map((c) => c.header));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toHaveLength(ROW_COLUMNS.length);
      for (const cell of row) expect(cell).not.toBe('');
    }
    expect(rows.map((row) => row[0])).toEqual(['`sgd({ momentum: 0.9 })`', '`adamw()`']);
    const mlpRows = tableAfter(MLP_COLUMNS.map((c) => c.header));
    expect(mlpRows.length).toBe(json.mlp.length);
    expect(markdown).toContain('## Targets');
    expect(markdown).toContain('## Summary at 1e4 parameters');
    expect(
      tableAfter([
        'optimizer',
        'cpu M params/s',
        'cpu vs tf.train',
        'cpu vs composite',
        'cpu vs bandwidth',
        'tensors/step',
        'state B/param',
      ]),
    ).toHaveLength(2);
    for (const target of json.targets) expect(markdown).toContain(target.target);
    expect(json.targets.map((t) => t.id)).toEqual([
      'adamw-cpu-vs-tf-adam',
      'cpu-vs-composite',
      'adam-wasm-vs-tf-adam',
      'adamw-bandwidth',
      'no-leaks',
      'mlp-adamw-vs-tf-adam',
      'overhead-per-variable',
      'sgd-momentum-every-size',
      'adamw-cpu-bandwidth-4e6',
      'adamw-wasm-bandwidth-4e6',
    ]);
    expect(json.machine.cores).toBeGreaterThan(0);
    expect(json.machine.cpu).not.toBe('');
    expect(json.machine.node).toBe(process.version);
    expect(markdown).toContain(json.machine.cpu);
    expect(markdown).toContain(`Node ${process.version}`);
  });
});

describe('an optimizer with a size limit', () => {
  it('is timed up to its limit and left out above it (muon on cpu: Newton–Schulz on the JavaScript matmul)', async () => {
    const results = await runBench({
      ...config,
      sizes: [1e4, 1e5],
      optimizers: ['muon'],
      mlp: null,
      overhead: null,
    });
    expect(results.rows.map((r) => `${r.backend} ${r.parameters} ${r.optimizer}`)).toEqual([
      'cpu 10000 muon',
    ]);
  });
});
