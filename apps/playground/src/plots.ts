/**
 * The report's SVG plots (Vega and Vega-Lite, rendered in Node): small multiples by family, tf.train
 * baselines dashed, runs that coincide with another drawn dotted and labelled `≡ other`.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { mean, standardDeviation } from './stats.js';
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

/** How one series is drawn: its legend label, its panel, and its line style. */
export interface SeriesStyle {
  label: string;
  family: string;
  /** `baseline`: a tf.train optimizer (dashed); `coincides`: hidden under another run (dotted). */
  style: 'optimkit' | 'baseline' | 'coincides';
}

const STYLE_LEGEND = {
  domain: ['optimkit', 'baseline', 'coincides'],
  labels: ['optimkit or plugin', 'tf.train baseline', 'coincides with another (≡)'],
  dashes: [
    [1, 0],
    [7, 3],
    [2, 2],
  ],
};

const strokeDash = {
  field: 'style',
  type: 'nominal' as const,
  title: 'line',
  scale: { domain: STYLE_LEGEND.domain, range: STYLE_LEGEND.dashes },
  legend: {
    labelLimit: 400,
    labelExpr: `${JSON.stringify(STYLE_LEGEND.labels)}[indexof(${JSON.stringify(STYLE_LEGEND.domain)}, datum.label)]`,
  },
};

/** Per optimizer and x: the mean over seeds and mean ± one standard deviation. */
function bands(
  runs: readonly MnistRun[],
  styles: Record<string, SeriesStyle>,
  pick: (run: MnistRun) => { x: number[]; y: number[] },
): Record<string, unknown>[] {
  const byOptimizer = new Map<string, MnistRun[]>();
  for (const run of runs) byOptimizer.set(run.optimizer, [...(byOptimizer.get(run.optimizer) ?? []), run]);
  return [...byOptimizer].flatMap(([name, list]) => {
    const { x } = pick(list[0]!);
    const style = styles[name]!;
    return x.map((xi, i) => {
      const ys = list.map((r) => pick(r).y[i]!).filter(Number.isFinite);
      const m = mean(ys);
      const s = standardDeviation(ys);
      const spread = Number.isFinite(s) ? s : 0;
      return { ...style, x: xi, mean: m, lo: m - spread, hi: m + spread };
    });
  });
}

function smallMultiples(
  title: string,
  values: Record<string, unknown>[],
  families: readonly string[],
  x: { title: string; integer?: boolean },
  y: { title: string; log?: boolean; format?: string },
): Promise<string> {
  const single = families.length <= 1;
  const yScale = y.log ? { type: 'log' as const } : { zero: false };
  const color = {
    field: 'label',
    type: 'nominal' as const,
    title: null,
    scale: { scheme: 'tableau10' },
    legend: {
      orient: 'right' as const,
      labelLimit: 400,
      symbolType: 'stroke',
      symbolStrokeWidth: 2.5,
      symbolOpacity: 1,
    },
  };
  const layer = [
    {
      mark: { type: 'area' as const, opacity: 0.15 },
      encoding: {
        x: { field: 'x', type: 'quantitative' as const, title: x.title },
        y: { field: 'lo', type: 'quantitative' as const, scale: yScale, title: y.title },
        y2: { field: 'hi' },
        color,
      },
    },
    {
      mark: { type: 'line' as const, strokeWidth: 1.6, point: x.integer ? { size: 18 } : false },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative' as const,
          title: x.title,
          axis: x.integer ? { tickMinStep: 1, format: 'd' } : {},
        },
        y: {
          field: 'mean',
          type: 'quantitative' as const,
          scale: yScale,
          title: y.title,
          axis: y.format ? { format: y.format } : {},
        },
        color,
        strokeDash,
      },
    },
  ];
  const spec: TopLevelSpec = single
    ? {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title,
        data: { values },
        width: 560,
        height: 320,
        layer,
      }
    : {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title,
        data: { values },
        facet: {
          field: 'family',
          type: 'nominal',
          title: null,
          sort: [...families],
          header: { labelFontSize: 13, labelFontWeight: 'bold' },
        },
        columns: 2,
        spec: { width: 300, height: 200, layer },
        resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
      };
  return render(compile(spec).spec);
}

/** Training loss against step (mean over seeds, band ± one standard deviation), log scale. */
export function lossChart(
  title: string,
  runs: readonly MnistRun[],
  styles: Record<string, SeriesStyle>,
  families: readonly string[],
): Promise<string> {
  const values = bands(runs, styles, (r) => ({ x: r.lossSteps, y: r.losses }));
  return smallMultiples(title, values, families, { title: 'step' }, { title: 'training loss', log: true });
}

/** Test accuracy after each epoch (mean over seeds, band ± one standard deviation). */
export function accuracyChart(
  title: string,
  runs: readonly MnistRun[],
  styles: Record<string, SeriesStyle>,
  families: readonly string[],
): Promise<string> {
  const values = bands(runs, styles, (r) => ({
    x: r.epochAccuracy.map((_, i) => i + 1),
    y: r.epochAccuracy.map((a) => 100 * a),
  }));
  return smallMultiples(
    title,
    values,
    families,
    { title: 'epoch', integer: true },
    { title: 'test accuracy (%)', format: '.1f' },
  );
}

const PLOT = 300;
const GRID = 90;

/** Contours of a surface, one panel per family with that family's paths, as SVG. */
export function surfaceChart(
  surface: Surface,
  trajectories: readonly Trajectory[],
  styles: Record<string, SeriesStyle>,
  families: readonly string[],
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
  const present = families.filter((f) => trajectories.some((t) => styles[t.optimizer]?.family === f));
  const paths = trajectories.flatMap((t) => {
    const style = styles[t.optimizer]!;
    return t.points.map(([x, y], i) => ({ ...style, order: present.indexOf(style.family), i, x, y }));
  });
  const dashes = Object.fromEntries(STYLE_LEGEND.domain.map((d, i) => [d, STYLE_LEGEND.dashes[i]!]));
  const spec: vega.Spec = {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    padding: 10,
    title: { text: `${surface.label}: paths by family (black dot: start, red diamond: minimum)` },
    layout: { columns: 2, padding: { row: 30, column: 40 } },
    data: [
      {
        name: 'contours',
        values: [{ width: GRID, height: GRID, values: grid }],
        transform: [{ type: 'isocontour', levels: 20, scale: PLOT / GRID }],
      },
      { name: 'paths', values: paths },
      { name: 'start', values: [{ x: surface.start[0], y: surface.start[1] }] },
      { name: 'minimum', values: surface.minimum ? [{ x: surface.minimum[0], y: surface.minimum[1] }] : [] },
    ],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'family', data: 'paths', groupby: ['family', 'order'] } },
        sort: { field: 'datum.order' },
        title: { text: { signal: 'parent.family' }, fontSize: 13 },
        encode: { update: { width: { value: PLOT }, height: { value: PLOT } } },
        scales: [
          { name: 'x', type: 'linear', domain: dx, range: [0, PLOT], zero: false, nice: false },
          { name: 'y', type: 'linear', domain: dy, range: [PLOT, 0], zero: false, nice: false },
          {
            name: 'color',
            type: 'ordinal',
            domain: { data: 'family', field: 'label' },
            range: { scheme: 'tableau10' },
          },
        ],
        axes: [
          { orient: 'bottom', scale: 'x', title: 'x', tickCount: 5 },
          { orient: 'left', scale: 'y', title: 'y', tickCount: 5 },
        ],
        legends: [{ stroke: 'color', symbolType: 'stroke', labelLimit: 400, orient: 'right' }],
        marks: [
          {
            type: 'shape',
            from: { data: 'contours' },
            clip: true,
            encode: {
              update: { stroke: { value: '#c4c4c4' }, strokeWidth: { value: 0.6 }, fill: { value: null } },
            },
            transform: [{ type: 'geoshape', field: 'datum.contour' }],
          },
          {
            type: 'group',
            clip: true,
            from: { facet: { name: 'series', data: 'family', groupby: 'label' } },
            encode: { update: { width: { value: PLOT }, height: { value: PLOT } } },
            marks: [
              {
                type: 'line',
                from: { data: 'series' },
                sort: { field: 'datum.i' },
                encode: {
                  update: {
                    x: { scale: 'x', field: 'x' },
                    y: { scale: 'y', field: 'y' },
                    stroke: { scale: 'color', field: 'label' },
                    strokeWidth: { value: 1.6 },
                    strokeDash: { signal: `${JSON.stringify(dashes)}[datum.style]` },
                  },
                },
              },
            ],
          },
          ...(['start', 'minimum'] as const).map((name) => ({
            type: 'symbol' as const,
            from: { data: name },
            encode: {
              update: {
                x: { scale: 'x', field: 'x' },
                y: { scale: 'y', field: 'y' },
                shape: { value: name === 'start' ? 'circle' : 'diamond' },
                fill: { value: name === 'start' ? 'black' : '#d62728' },
                size: { value: name === 'start' ? 40 : 80 },
              },
            },
          })),
        ],
      },
    ],
  };
  return render(spec);
}
