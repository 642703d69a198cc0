import type { MlpRow, Row } from './bench.js';
import type { OverheadRow } from './overhead.js';

/** One target of issue 7, as measured in this run. `met` is `null` when this run cannot tell. */
export interface Target {
  id: string;
  target: string;
  figure: string;
  met: boolean | null;
}

const x = (ratio: number) => `${ratio.toFixed(ratio >= 10 ? 1 : 2)}×`;
const sizeName = (n: number) => n.toExponential(0).replace('+', '');

/** `preferred` when it was measured, else the largest size measured. */
function sizeFor(rows: readonly Row[], preferred: number): number | null {
  const sizes = [...new Set(rows.map((r) => r.parameters))];
  if (sizes.length === 0) return null;
  return sizes.includes(preferred) ? preferred : Math.max(...sizes);
}

function find(rows: readonly Row[], backend: string, optimizer: string, parameters: number | null) {
  return rows.find((r) => r.backend === backend && r.optimizer === optimizer && r.parameters === parameters);
}

const unmeasured = (id: string, target: string, why: string): Target => ({
  id,
  target,
  figure: why,
  met: null,
});

export function evaluateTargets(
  rows: readonly Row[],
  mlp: readonly MlpRow[],
  overhead: readonly OverheadRow[] = [],
): Target[] {
  const targets: Target[] = [];
  const at = sizeFor(rows, 1e6);
  const big = sizeFor(rows, 4e6);

  {
    const id = 'adamw-cpu-vs-tf-adam';
    const target = 'adamw on cpu ≥ 20× tf.train.adam at 1e6 parameters';
    const row = find(rows, 'cpu', 'adamw', at);
    targets.push(
      row?.tfTrain
        ? {
            id,
            target,
            figure: `${x(row.tfTrain.speedup)} at ${sizeName(row.parameters)} (${row.msPerStep.toPrecision(3)} vs ${row.tfTrain.msPerStep.toPrecision(3)} ms/step)`,
            met: row.tfTrain.speedup >= 20,
          }
        : unmeasured(id, target, 'adamw was not run on cpu'),
    );
  }
  {
    const id = 'cpu-vs-composite';
    const target = 'every optimizer on cpu ≥ 10× its own composite path';
    const cpu = rows.filter((r) => r.backend === 'cpu' && r.parameters === at);
    if (cpu.length === 0) targets.push(unmeasured(id, target, 'cpu was not run'));
    else if (cpu.every((r) => r.fused === null)) {
      targets.push({
        id,
        target,
        figure: '1.00×: @optimkit/core has no fused kernels, the composite path is the only one',
        met: false,
      });
    } else {
      const unfused = cpu.filter((r) => !r.composite);
      const sorted = cpu
        .filter((r) => r.composite)
        .sort((a, b) => a.composite!.speedup - b.composite!.speedup);
      const below = sorted.filter((r) => r.composite!.speedup < 10);
      const parts = [];
      if (sorted.length > 0) {
        const worst = sorted[0]!;
        const best = sorted[sorted.length - 1]!;
        parts.push(
          `at ${sizeName(at!)}: lowest ${x(worst.composite!.speedup)} (${worst.optimizer}), ` +
            `highest ${x(best.composite!.speedup)} (${best.optimizer})`,
        );
      }
      if (below.length > 0) {
        parts.push(`below 10×: ${below.map((r) => `${r.optimizer} ${x(r.composite!.speedup)}`).join(', ')}`);
      }
      if (unfused.length > 0) parts.push(`no fused kernel: ${unfused.map((r) => r.optimizer).join(', ')}`);
      targets.push({ id, target, figure: parts.join('; '), met: below.length === 0 && unfused.length === 0 });
    }
  }
  {
    const id = 'adam-wasm-vs-tf-adam';
    const target = 'adam on wasm ≥ 1.5× tf.train.adam';
    const row = find(rows, 'wasm', 'adam', at);
    targets.push(
      row?.tfTrain
        ? {
            id,
            target,
            figure: `${x(row.tfTrain.speedup)} at ${sizeName(row.parameters)} (${row.msPerStep.toPrecision(3)} vs ${row.tfTrain.msPerStep.toPrecision(3)} ms/step)`,
            met: row.tfTrain.speedup >= 1.5,
          }
        : unmeasured(id, target, 'adam was not run on wasm'),
    );
  }
  {
    const id = 'adamw-bandwidth';
    const target = 'on the fastest backend, adamw ≥ 40% of the bandwidth reference';
    const candidates = rows.filter((r) => r.optimizer === 'adamw' && r.parameters === big);
    if (candidates.length === 0) targets.push(unmeasured(id, target, 'adamw was not run'));
    else {
      const fastest = candidates.reduce((a, b) => (b.msPerStep < a.msPerStep ? b : a));
      const { fraction, gbPerSec, referenceGbPerSec, loopFraction } = fastest.bandwidth;
      targets.push({
        id,
        target,
        figure:
          `${(100 * fraction).toFixed(1)}% on ${fastest.backend} at ${sizeName(fastest.parameters)} ` +
          `(${gbPerSec.toFixed(2)} of ${referenceGbPerSec.toFixed(1)} GB/s; ${x(loopFraction)} a JavaScript loop's speed)`,
        met: fraction >= 0.4,
      });
    }
  }
  {
    const id = 'no-leaks';
    const target = 'zero tensors leaked per step';
    const counts = [
      ...rows.map((r) => ({
        what: `${r.optimizer} ${r.backend} ${sizeName(r.parameters)}`,
        n: r.tensorsPerStep,
      })),
      ...rows
        .filter((r) => r.composite)
        .map((r) => ({
          what: `${r.optimizer} composite ${r.backend} ${sizeName(r.parameters)}`,
          n: r.composite!.tensorsPerStep,
        })),
      ...mlp
        .filter((m) => !m.optimizer.startsWith('tf.train'))
        .map((m) => ({ what: `MLP ${m.optimizer} ${m.backend}`, n: m.tensorsPerStep })),
    ];
    targets.push(noLeaksTarget(id, target, counts));
  }
  {
    const id = 'mlp-adamw-vs-tf-adam';
    const target = 'MNIST MLP step with adamw no slower than with tf.train.adam';
    const backends = [...new Set(mlp.map((m) => m.backend))];
    const pairs = backends.flatMap((backend) => {
      const ours = mlp.find((m) => m.backend === backend && m.optimizer === 'adamw()');
      const theirs = mlp.find((m) => m.backend === backend && m.optimizer === 'tf.train.adam');
      return ours && theirs ? [{ backend, ours, theirs }] : [];
    });
    targets.push(
      pairs.length === 0
        ? unmeasured(id, target, 'the MLP was not run')
        : {
            id,
            target,
            figure: pairs
              .map(
                (p) =>
                  `${p.backend}: ${p.ours.msPerStep.toPrecision(3)} vs ${p.theirs.msPerStep.toPrecision(3)} ms/step ` +
                  `(${x(p.theirs.msPerStep / p.ours.msPerStep)})`,
              )
              .join('; '),
            met: pairs.every((p) => p.ours.msPerStep <= p.theirs.msPerStep),
          },
    );
  }
  targets.push(...coreV2Targets(rows, overhead, big));
  return targets;
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;

/** The targets of the core v2 issue (11) that the Node bench measures. */
function coreV2Targets(rows: readonly Row[], overhead: readonly OverheadRow[], big: number | null): Target[] {
  const targets: Target[] = [];
  {
    const id = 'overhead-per-variable';
    const target =
      'per-variable overhead, 500 variables of 16 elements: ≤ 12 µs per variable per step on cpu and wasm';
    const tiny = overhead.filter((o) => o.size === 16);
    targets.push(
      tiny.length === 0
        ? unmeasured(id, target, 'the overhead was not measured')
        : {
            id,
            target,
            figure: tiny
              .map(
                (o) =>
                  `${o.backend} ${o.optimizer} ${o.usPerVariable.toFixed(1)} µs (${o.tfTrain} ${o.tfTrainUsPerVariable.toFixed(1)}) on ${o.variables}×16`,
              )
              .join('; '),
            met: tiny.some((o) => o.variables < 500) ? null : tiny.every((o) => o.usPerVariable <= 12),
          },
    );
  }
  {
    const id = 'sgd-momentum-every-size';
    const target = 'sgd with momentum ahead of tf.train.momentum at every variable size';
    const sgd = overhead.filter((o) => o.optimizer.startsWith('sgd'));
    const slowest = [...sgd].sort(
      (a, b) => a.tfTrainUsPerVariable / a.usPerVariable - b.tfTrainUsPerVariable / b.usPerVariable,
    )[0];
    targets.push(
      slowest === undefined
        ? unmeasured(id, target, 'the overhead was not measured')
        : {
            id,
            target,
            figure: `lowest ${x(slowest.tfTrainUsPerVariable / slowest.usPerVariable)} (${slowest.backend}, ${slowest.variables} variables of ${slowest.size}) over ${sgd.length} sizes × backends`,
            met: sgd.every((o) => o.tfTrainUsPerVariable > o.usPerVariable),
          },
    );
  }
  for (const [backend, goal] of [
    ['cpu', 0.4],
    ['wasm', 0.7],
  ] as const) {
    const id = `adamw-${backend}-bandwidth-4e6`;
    const target = `${backend}: adamw ≥ ${goal * 100}% of the bandwidth reference at 4e6 parameters`;
    const row = find(rows, backend, 'adamw', big);
    targets.push(
      row && row.parameters === 4e6
        ? {
            id,
            target,
            figure: `${percent(row.bandwidth.fraction)} (${row.bandwidth.gbPerSec.toFixed(2)} of ${row.bandwidth.referenceGbPerSec.toFixed(1)} GB/s)`,
            met: row.bandwidth.fraction >= goal,
          }
        : unmeasured(id, target, `adamw was not run on ${backend} at 4e6`),
    );
  }
  return targets;
}

/** The no-leak target over tensor counts per step of named measurements (0 expected in each). */
export function noLeaksTarget(
  id: string,
  target: string,
  counts: readonly { what: string; n: number }[],
): Target {
  const leaking = counts.filter((c) => c.n !== 0);
  return {
    id,
    target,
    figure:
      leaking.length === 0
        ? `0 in all ${counts.length} optimkit measurements`
        : leaking.map((c) => `${c.what}: ${c.n}`).join(', '),
    met: counts.length === 0 ? null : leaking.length === 0,
  };
}
