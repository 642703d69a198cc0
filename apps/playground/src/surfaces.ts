import * as tf from '@tensorflow/tfjs-core';
import type { CatalogEntry } from './catalog.js';

/** A classic 2-D test surface. */
export interface Surface {
  name: string;
  label: string;
  /** f(x, y) in tensor ops (for the gradient). */
  f: (x: tf.Scalar, y: tf.Scalar) => tf.Scalar;
  /** f(x, y) in plain numbers (for contours). */
  value: (x: number, y: number) => number;
  start: [number, number];
  minimum: [number, number] | null;
  domain: { x: [number, number]; y: [number, number] };
  /** Learning-rate scale for this surface, relative to each optimizer's nominal surface rate. */
  scale: number;
  steps: number;
}

const sq = (t: tf.Tensor) => tf.square(t);

export const surfaces: readonly Surface[] = [
  {
    name: 'saddle',
    label: 'Saddle x² − y²',
    f: (x, y) => tf.sub(sq(x), sq(y)) as tf.Scalar,
    value: (x, y) => x * x - y * y,
    start: [1, 1e-3],
    minimum: null,
    domain: { x: [-1.5, 1.5], y: [-1.5, 1.5] },
    scale: 1,
    steps: 150,
  },
  {
    name: 'rosenbrock',
    label: 'Rosenbrock (1 − x)² + 100 (y − x²)²',
    f: (x, y) => tf.add(sq(tf.sub(1, x)), tf.mul(100, sq(tf.sub(y, sq(x))))) as tf.Scalar,
    value: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    start: [-1.5, 2],
    minimum: [1, 1],
    domain: { x: [-2, 2], y: [-1, 3] },
    scale: 0.2,
    steps: 500,
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
    scale: 0.5,
    steps: 400,
  },
  {
    name: 'bowl',
    label: 'Ill-conditioned bowl ½(x² + 50 y²)',
    f: (x, y) => tf.mul(0.5, tf.add(sq(x), tf.mul(50, sq(y)))) as tf.Scalar,
    value: (x, y) => 0.5 * (x * x + 50 * y * y),
    start: [-4, 1],
    minimum: [0, 0],
    domain: { x: [-5, 5], y: [-2, 2] },
    scale: 1,
    steps: 200,
  },
];

/** A path of an optimizer over a surface. */
export interface Trajectory {
  optimizer: string;
  surface: string;
  points: [number, number][];
  finalValue: number;
  diverged: boolean;
}

/** Runs one optimizer over a surface from the surface's start; `steps` overrides the default. */
export function trajectory(entry: CatalogEntry, surface: Surface, steps = surface.steps): Trajectory {
  const x = tf.variable(tf.scalar(surface.start[0]));
  const y = tf.variable(tf.scalar(surface.start[1]));
  const optimizer = entry.surface(surface.scale);
  const points: [number, number][] = [[...surface.start]];
  let diverged = false;
  for (let i = 0; i < steps; i++) {
    optimizer.minimize(() => surface.f(x, y), false, [x, y]);
    const point: [number, number] = [x.dataSync()[0]!, y.dataSync()[0]!];
    points.push(point);
    if (!point.every(Number.isFinite) || Math.abs(point[0]) > 1e6 || Math.abs(point[1]) > 1e6) {
      diverged = true;
      break;
    }
  }
  const last = points[points.length - 1]!;
  optimizer.dispose();
  tf.dispose([x, y]);
  return {
    optimizer: entry.name,
    surface: surface.name,
    points,
    finalValue: surface.value(last[0], last[1]),
    diverged,
  };
}
