import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Surface, Trajectory } from './surfaces.js';
import type { MnistRun } from './train-mnist.js';

async function render(spec: vega.Spec): Promise<string> {
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Training loss against step for every run (a 10-step moving average, log scale), as SVG. */
export function lossChart(runs: readonly MnistRun[], window = 10): Promise<string> {
  const values = runs.flatMap((run) =>
    run.losses.map((_, step) => {
      const from = Math.max(0, step - window + 1);
      const slice = run.losses.slice(from, step + 1);
      return { optimizer: run.label, step: step + 1, loss: slice.reduce((a, b) => a + b, 0) / slice.length };
    }),
  );
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'MNIST MLP 784-200-10: training loss (moving average of 10 steps)',
    width: 640,
    height: 380,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'cross-entropy loss' },
      color: { field: 'optimizer', type: 'nominal', scale: { scheme: 'category20' } },
    },
  };
  return render(compile(spec).spec);
}

const PLOT = 420;
const GRID = 105;

/** Contours of a surface with every optimizer's path drawn over them, as SVG. */
export function surfaceChart(
  surface: Surface,
  trajectories: readonly Trajectory[],
  labels: Record<string, string>,
): Promise<string> {
  const { x: dx, y: dy } = surface.domain;
  const raw = new Float64Array(GRID * GRID);
  for (let j = 0; j < GRID; j++) {
    const y = dy[1] - ((j + 0.5) / GRID) * (dy[1] - dy[0]);
    for (let i = 0; i < GRID; i++)
      raw[j * GRID + i] = surface.value(dx[0] + ((i + 0.5) / GRID) * (dx[1] - dx[0]), y);
  }
  const low = raw.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
  const grid = Array.from(raw, (v) => Math.log1p(v - low));
  const paths = trajectories.flatMap((t) =>
    t.points.map(([x, y], i) => ({ optimizer: labels[t.optimizer] ?? t.optimizer, i, x, y })),
  );
  const spec: vega.Spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    width: PLOT,
    height: PLOT,
    padding: 8,
    title: { text: surface.label },
    data: [
      {
        name: 'contours',
        values: [{ width: GRID, height: GRID, values: grid }],
        transform: [{ type: 'isocontour', levels: 24, scale: PLOT / GRID }],
      },
      { name: 'paths', values: paths },
      { name: 'start', values: [{ x: surface.start[0], y: surface.start[1] }] },
      { name: 'minimum', values: surface.minimum ? [{ x: surface.minimum[0], y: surface.minimum[1] }] : [] },
    ],
    scales: [
      { name: 'x', type: 'linear', domain: dx, range: 'width', zero: false, nice: false },
      { name: 'y', type: 'linear', domain: dy, range: 'height', zero: false, nice: false },
      {
        name: 'color',
        type: 'ordinal',
        domain: { data: 'paths', field: 'optimizer' },
        range: { scheme: 'category20' },
      },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'x' },
      { orient: 'left', scale: 'y', title: 'y' },
    ],
    legends: [{ stroke: 'color', title: 'optimizer', symbolType: 'stroke' }],
    marks: [
      {
        type: 'shape',
        from: { data: 'contours' },
        clip: true,
        encode: {
          update: { stroke: { value: '#b8b8b8' }, strokeWidth: { value: 0.6 }, fill: { value: null } },
        },
        transform: [{ type: 'geoshape', field: 'datum.contour' }],
      },
      {
        type: 'group',
        clip: true,
        from: { facet: { name: 'series', data: 'paths', groupby: 'optimizer' } },
        encode: { update: { width: { signal: 'width' }, height: { signal: 'height' } } },
        marks: [
          {
            type: 'line',
            from: { data: 'series' },
            sort: { field: 'datum.i' },
            encode: {
              update: {
                x: { scale: 'x', field: 'x' },
                y: { scale: 'y', field: 'y' },
                stroke: { scale: 'color', field: 'optimizer' },
                strokeWidth: { value: 1.4 },
                strokeOpacity: { value: 0.9 },
              },
            },
          },
        ],
      },
      {
        type: 'symbol',
        from: { data: 'start' },
        encode: {
          update: {
            x: { scale: 'x', field: 'x' },
            y: { scale: 'y', field: 'y' },
            fill: { value: 'black' },
            size: { value: 50 },
          },
        },
      },
      {
        type: 'symbol',
        from: { data: 'minimum' },
        encode: {
          update: {
            x: { scale: 'x', field: 'x' },
            y: { scale: 'y', field: 'y' },
            shape: { value: 'diamond' },
            fill: { value: '#d62728' },
            size: { value: 90 },
          },
        },
      },
    ],
  };
  return render(spec);
}
