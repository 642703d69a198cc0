import * as tf from '@tensorflow/tfjs-core';
import { seededRandom } from './golden.js';

/** A set of variables with a closed-form gradient, for the conformance suite. */
export interface Problem {
  /** The problem's trainable variables. */
  variables: tf.Variable[];
  /** Gradients at the current values, by variable name; the caller disposes them. */
  gradients(step: number): tf.NamedTensorMap;
  /** Loss at the current values, in float64. */
  loss(): number;
  /** Sets every variable back to its initial value. */
  reset(): void;
  /** Disposes the variables. */
  dispose(): void;
}

let problemCounter = 0;

function uniquePrefix(kind: string): string {
  problemCounter += 1;
  return `optimkitConformance${problemCounter}/${kind}`;
}

function make(
  kind: string,
  initial: Record<string, tf.Tensor>,
  gradients: (vars: Record<string, tf.Variable>, step: number) => Record<string, tf.Tensor>,
  loss: (values: Record<string, Float32Array>) => number,
): Problem {
  const prefix = uniquePrefix(kind);
  const vars: Record<string, tf.Variable> = {};
  for (const [key, value] of Object.entries(initial))
    vars[key] = tf.variable(value, true, `${prefix}/${key}`);
  return {
    variables: Object.values(vars),
    gradients(step) {
      const byKey = tf.tidy(() => gradients(vars, step));
      return Object.fromEntries(Object.entries(byKey).map(([key, g]) => [vars[key]!.name, g]));
    },
    loss() {
      return loss(
        Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.dataSync() as Float32Array])),
      );
    },
    reset() {
      for (const [key, value] of Object.entries(initial)) vars[key]!.assign(value);
    },
    dispose() {
      tf.dispose(Object.values(vars));
      tf.dispose(Object.values(initial));
    },
  };
}

/** 0.5·Σ(v − 1)² + 0.5·Σ m², v₀ = [2, −1, 0.5], m₀ = [[1, 2], [3, 4]]: initial loss 17.625. */
export function quadratic(): Problem {
  return make(
    'quadratic',
    { v: tf.tensor1d([2, -1, 0.5]), m: tf.tensor2d([1, 2, 3, 4], [2, 2]) },
    ({ v, m }) => ({ v: tf.sub(v!, 1), m: tf.clone(m!) }),
    ({ v, m }) =>
      0.5 * [...v!].reduce((s, x) => s + (x - 1) ** 2, 0) + 0.5 * [...m!].reduce((s, x) => s + x * x, 0),
  );
}

/** Rosenbrock (1 − x)² + 100 (y − x²)² from (−1.2, 1), x and y scalar variables: initial 24.2. */
export function rosenbrock(): Problem {
  return make(
    'rosenbrock',
    { x: tf.scalar(-1.2), y: tf.scalar(1) },
    ({ x, y }) => {
      const xx = x!;
      const yy = y!;
      const inner = tf.sub(yy, tf.square(xx));
      return {
        x: tf.sub(tf.mul(tf.sub(xx, 1), 2), tf.mul(tf.mul(xx, inner), 400)),
        y: tf.mul(inner, 200),
      };
    },
    ({ x, y }) => (1 - x![0]!) ** 2 + 100 * (y![0]! - x![0]! ** 2) ** 2,
  );
}

/**
 * Variables of rank 0 to 3 whose gradient is `0.5·p + noise(step)`, the noise a fixed function of
 * the step: two runs that reach the same values see the same gradients.
 */
export function mixedRanks(): Problem {
  const shapes: Record<string, number[]> = { scalar: [], vector: [5], matrix: [3, 4], cube: [2, 3, 4] };
  const initial: Record<string, tf.Tensor> = {};
  let seed = 1;
  for (const [key, shape] of Object.entries(shapes)) {
    const random = seededRandom(seed++);
    const size = shape.reduce((a, b) => a * b, 1);
    initial[key] = tf.tensor(
      Array.from({ length: size }, () => random() * 2 - 1),
      shape,
    );
  }
  return make(
    'mixed',
    initial,
    (vars, step) => {
      const out: Record<string, tf.Tensor> = {};
      let s = 100 + step * 10;
      for (const [key, v] of Object.entries(vars)) {
        const random = seededRandom(s++);
        const noise = tf.tensor(
          Array.from({ length: v.size }, () => random() * 2 - 1),
          v.shape,
        );
        out[key] = tf.add(tf.mul(v, 0.5), noise);
      }
      return out;
    },
    (values) => Object.values(values).reduce((s, v) => s + [...v].reduce((a, x) => a + 0.25 * x * x, 0), 0),
  );
}
