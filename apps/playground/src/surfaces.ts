/**
 * Classic 2-D test surfaces, an optimizer's path over them, and the search that gives every
 * optimizer a learning rate that reaches each minimum ({@link searchLearningRate}).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type CatalogEntry, evaluateWithAverage, type Overrides } from './catalog.js';
import recorded from './surface-learning-rates.json' with { type: 'json' };

/** A classic 2-D test surface. */
export interface Surface {
  name: string;
  label: string;
  /** f(x, y) in tensor ops (for the gradient). */
  f: (x: tf.Scalar, y: tf.Scalar) => tf.Scalar;
  /** f(x, y) in plain numbers (for contours). */
  value: (x: number, y: number) => number;
  start: [number, number];
  /** The minimum, or null for a surface unbounded below (the saddle). */
  minimum: [number, number] | null;
  domain: { x: [number, number]; y: [number, number] };
  steps: number;
  /** For a surface with no minimum: the surface whose searched learning rate it uses. */
  learningRateFrom?: string;
}

const sq = (t: tf.Tensor) => tf.square(t);

export const surfaces: readonly Surface[] = [
  {
    name: 'bowl',
    label: 'Ill-conditioned bowl ½(x² + 50 y²)',
    f: (x, y) => tf.mul(0.5, tf.add(sq(x), tf.mul(50, sq(y)))) as tf.Scalar,
    value: (x, y) => 0.5 * (x * x + 50 * y * y),
    start: [-4, 1],
    minimum: [0, 0],
    domain: { x: [-5, 5], y: [-2, 2] },
    steps: 300,
  },
  {
    name: 'rosenbrock',
    label: 'Rosenbrock (1 − x)² + 100 (y − x²)²',
    f: (x, y) => tf.add(sq(tf.sub(1, x)), tf.mul(100, sq(tf.sub(y, sq(x))))) as tf.Scalar,
    value: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    start: [-1.5, 2],
    minimum: [1, 1],
    domain: { x: [-2, 2], y: [-1, 3] },
    steps: 2000,
  },
  {
    name: 'beale',
    label: 'Beale',
    f: (x, y) => {
      const term = (c: number, power: number) => sq(tf.add(tf.sub(c, x), tf.mul(x, tf.pow(y, power))));
      return tf.add(tf.add(term(1.5, 1), term(2.25, 2)), term(2.625, 3)) as tf.Scalar;
    },
    value: (x, y) => (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    start: [1, 1.5],
    minimum: [3, 0.5],
    domain: { x: [-4.5, 4.5], y: [-4.5, 4.5] },
    steps: 600,
  },
  {
    name: 'saddle',
    label: 'Saddle x² − y²',
    f: (x, y) => tf.sub(sq(x), sq(y)) as tf.Scalar,
    value: (x, y) => x * x - y * y,
    start: [1, 1e-3],
    minimum: null,
    domain: { x: [-1.5, 1.5], y: [-1.5, 1.5] },
    steps: 150,
    learningRateFrom: 'bowl',
  },
];

/** A path of an optimizer over a surface. */
export interface Trajectory {
  optimizer: string;
  surface: string;
  learningRate: number;
  points: [number, number][];
  finalValue: number;
  /** The step at which the path left any finite region (non-finite or |x|, |y| > 1e6), or null. */
  divergedAt: number | null;
  /** On a surface with no minimum: the step at which the path left the plotted domain, or null. */
  escapedAt: number | null;
}

const DIVERGED = 1e6;

function inside(surface: Surface, [x, y]: readonly [number, number]): boolean {
  const { x: dx, y: dy } = surface.domain;
  return x >= dx[0] && x <= dx[1] && y >= dy[0] && y <= dy[1];
}

/**
 * Runs one optimizer over a surface from its start at `learningRate`. A path that diverges stops
 * there; on a surface with no minimum a path stops once it has left the plotted domain, since the
 * value then falls without bound by design. For an averaging optimizer (lookahead, ema, swa) the
 * path is that of the point it evaluates with (its slow weights or average: what it buys over the
 * inner optimizer's path); divergence and escape are judged on the training point.
 */
export function trajectory(
  entry: CatalogEntry,
  surface: Surface,
  learningRate: number,
  steps = surface.steps,
  overrides: Overrides = {},
): Trajectory {
  const x = tf.variable(tf.scalar(surface.start[0]));
  const y = tf.variable(tf.scalar(surface.start[1]));
  let optimizer: tf.Optimizer | undefined;
  const points: [number, number][] = [[...surface.start]];
  let divergedAt: number | null = null;
  let escapedAt: number | null = null;
  try {
    optimizer = entry.surface(learningRate, overrides);
    for (let i = 1; i <= steps; i++) {
      optimizer.minimize(() => surface.f(x, y), false, [x, y]);
      const read = (): [number, number] => [x.dataSync()[0]!, y.dataSync()[0]!];
      const training = read();
      points.push(evaluateWithAverage(optimizer, read));
      if (!training.every((v) => Number.isFinite(v) && Math.abs(v) <= DIVERGED)) {
        divergedAt = i;
        break;
      }
      if (!surface.minimum && !inside(surface, training)) {
        escapedAt = i;
        break;
      }
    }
  } finally {
    optimizer?.dispose();
    tf.dispose([x, y]);
  }
  const last = points[points.length - 1]!;
  return {
    optimizer: entry.name,
    surface: surface.name,
    learningRate,
    points,
    finalValue: surface.value(last[0], last[1]),
    divergedAt,
    escapedAt,
  };
}

/** The learning rates the search tries: half-decades from 1e-4 to 100. */
export const LEARNING_RATE_GRID: readonly number[] = Array.from({ length: 13 }, (_, k) =>
  Number((10 ** (k / 2 - 4)).toPrecision(2)),
);

/** A path has reached the minimum once it stays within this fraction of the plotted width of it. */
export const REACHED = 0.01;

/** The outcome of one learning rate in the search. */
export interface Trial {
  learningRate: number;
  /** The first step from which the path stays within reach of the minimum to the end, or null. */
  reachedAt: number | null;
  /** The largest distance to the minimum over the last tenth of the steps (Infinity if it diverged). */
  finalDistance: number;
  divergedAt: number | null;
}

/** What the search chose for one optimizer on one surface. */
export interface SearchResult {
  learningRate: number;
  reachedAt: number | null;
  finalDistance: number;
  /** The largest learning rate of the grid whose path did not diverge, and the smallest that did. */
  largestStable: number | null;
  smallestDiverging: number | null;
}

export function trial(entry: CatalogEntry, surface: Surface, learningRate: number, steps: number): Trial {
  const t = trajectory(entry, surface, learningRate, steps);
  const [mx, my] = surface.minimum!;
  const { x, y } = surface.domain;
  const reach = REACHED * Math.max(x[1] - x[0], y[1] - y[0]);
  const distances = t.points.map(([px, py]) => Math.hypot(px - mx, py - my));
  const finalDistance =
    t.divergedAt === null
      ? Math.max(...distances.slice(Math.floor(distances.length * 0.9)))
      : Number.POSITIVE_INFINITY;
  // Reached only if it stays there for the whole last tenth: an oscillating path can touch the minimum.
  let reachedAt: number | null = null;
  if (finalDistance <= reach) {
    for (let i = distances.length - 1; i >= 0 && distances[i]! <= reach; i--) reachedAt = i;
  }
  return { learningRate, reachedAt, finalDistance, divergedAt: t.divergedAt };
}

/**
 * The grid search for one optimizer on one surface with a minimum: every rate of
 * {@link LEARNING_RATE_GRID} runs the surface's steps from its start; the chosen rate is the one
 * that reaches the minimum first (within {@link REACHED} of the plotted width of it, from then to the
 * end of the run), or, when none reaches it, the one that ends nearest to it (the largest distance
 * over the last tenth of the run). Ties go to the smaller rate. Deterministic: the same optimizer gives the same choice.
 */
export function searchLearningRate(
  entry: CatalogEntry,
  surface: Surface,
  steps = surface.steps,
): SearchResult {
  const trials = LEARNING_RATE_GRID.map((lr) => trial(entry, surface, lr, steps));
  const reached = trials.filter((t) => t.reachedAt !== null);
  const chosen =
    reached.length > 0
      ? reached.reduce((a, b) => (b.reachedAt! < a.reachedAt! ? b : a))
      : trials.reduce((a, b) => (b.finalDistance < a.finalDistance ? b : a));
  const stable = trials.filter((t) => t.divergedAt === null).map((t) => t.learningRate);
  const diverging = trials.filter((t) => t.divergedAt !== null).map((t) => t.learningRate);
  return {
    learningRate: chosen.learningRate,
    reachedAt: chosen.reachedAt,
    finalDistance: chosen.finalDistance,
    largestStable: stable.length > 0 ? Math.max(...stable) : null,
    smallestDiverging: diverging.length > 0 ? Math.min(...diverging) : null,
  };
}

/** The recorded search: surface name → optimizer name → result (`pnpm --filter @optimkit/playground tune`). */
export const recordedSearch: Record<string, Record<string, SearchResult>> = recorded.results as Record<
  string,
  Record<string, SearchResult>
>;

/** The recorded search result of `entry` on `surface` (following `learningRateFrom`), if any. */
export function recordedLearningRate(entry: CatalogEntry, surface: Surface): SearchResult | undefined {
  return recordedSearch[surface.learningRateFrom ?? surface.name]?.[entry.name];
}
