/**
 * The float64 reference of both Schedule-Free optimizers (not exported by the package), written
 * from facebookresearch/schedule_free `adamw_schedulefree.py` and `sgd_schedulefree.py` (their
 * per-parameter loops), with the group's k, lr_max and weight_sum kept as Python floats; and the
 * helpers of the tests.
 */
import { expectClose, float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';

export interface ReferenceHyper {
  kind: 'adamw' | 'sgd';
  learningRate: number;
  /** beta1 (AdamW) or momentum (SGD). */
  beta: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
  innerMomentum: number;
}

/** One param group of the reference: its scalars and the state of each of its variables. */
export class ReferenceGroup {
  k = 0;
  lrMax = -1;
  weightSum = 0;
  trainMode = true;
  readonly y: Float64Array[];
  readonly z: Float64Array[];
  readonly expAvgSq: Float64Array[];
  readonly expAvg: Float64Array[];

  constructor(initial: readonly Float64Array[]) {
    this.y = initial.map((p) => Float64Array.from(p));
    this.z = initial.map((p) => Float64Array.from(p));
    this.expAvgSq = initial.map((p) => new Float64Array(p.length));
    this.expAvg = initial.map((p) => new Float64Array(p.length));
  }

  step(grads: readonly Float64Array[], h: ReferenceHyper): void {
    const k = this.k;
    const sched = k < h.warmupSteps ? (k + 1) / h.warmupSteps : 1;
    const lr = h.learningRate * sched;
    this.lrMax = Math.max(lr, this.lrMax);
    const weight = (k + 1) ** h.r * this.lrMax ** h.weightLrPower;
    this.weightSum += weight;
    const ckp1 = this.weightSum === 0 ? 0 : weight / this.weightSum;
    const bc2 = 1 - h.beta2 ** (k + 1);
    const bc1 = 1 - h.innerMomentum ** (k + 1);
    grads.forEach((g, v) => {
      const y = this.y[v]!;
      const z = this.z[v]!;
      for (let i = 0; i < y.length; i++) {
        let d = g[i]!;
        if (h.kind === 'adamw') {
          this.expAvgSq[v]![i] = this.expAvgSq[v]![i]! * h.beta2 + (1 - h.beta2) * g[i]! * g[i]!;
          const denom = Math.sqrt(this.expAvgSq[v]![i]! / bc2) + h.epsilon;
          if (h.innerMomentum !== 0) {
            this.expAvg[v]![i] = this.expAvg[v]![i]! * h.innerMomentum + (1 - h.innerMomentum) * g[i]!;
            d = this.expAvg[v]![i]! / bc1 / denom;
          } else d = g[i]! / denom;
        }
        d += h.weightDecay * y[i]!;
        y[i] = y[i]! + ckp1 * (z[i]! - y[i]!) + lr * (h.beta * (1 - ckp1) - 1) * d;
        z[i] = z[i]! - lr * d;
      }
    });
    this.k = k + 1;
  }

  /** The averaged point x = (y − (1 − β)z)/β of each variable. */
  x(beta: number): Float64Array[] {
    return this.y.map((y, v) => y.map((value, i) => (value - (1 - beta) * this.z[v]![i]!) / beta));
  }
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

let counter = 0;

export function makeVariables(
  shapes: readonly (readonly number[])[],
  values: readonly Float64Array[],
): tf.Variable[] {
  counter += 1;
  return shapes.map((shape, i) =>
    tf.tidy(() =>
      tf.variable(tf.tensor(Float32Array.from(values[i]!), [...shape]), true, `scheduleFree${counter}/v${i}`),
    ),
  );
}

export function applyStep(
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  grads: readonly Float64Array[],
): void {
  const tensors = variables.map((v, i) => tf.tensor(Float32Array.from(grads[i]!), v.shape));
  try {
    optimizer.applyGradients(Object.fromEntries(variables.map((v, i) => [v.name, tensors[i]!])));
  } finally {
    tf.dispose(tensors);
  }
}

/** Shapes of the golden tests: ranks 0–3. */
export const GOLDEN_SHAPES = [[], [5], [3, 4], [2, 3, 4]] as const;

/** A golden case: options, and the reference's hyperparameters after `completed` steps. */
export interface GoldenCase<O> {
  title: string;
  options: O;
  hyper: (completed: number) => ReferenceHyper;
}

interface TrainEvalOptimizer extends tf.Optimizer {
  getSlots(name: string): Readonly<Record<string, tf.Tensor>> | undefined;
  eval(): void;
  train(): void;
}

/**
 * Runs one golden case for `steps` steps on {@link GOLDEN_SHAPES}, checking y and every slot the
 * reference keeps after each step, then x after `eval()` and y again after `train()`.
 */
export function runGoldenCase<O>(
  create: (options: O) => TrainEvalOptimizer,
  c: GoldenCase<O>,
  seed: number,
  steps: number,
): void {
  const random = seededRandom(seed);
  const values = float32Values;
  const shapes = GOLDEN_SHAPES;
  const initial = shapes.map((s) => values(random, sizeOf(s)));
  const reference = new ReferenceGroup(initial);
  const variables = makeVariables(shapes, initial);
  const optimizer = create(c.options);
  for (let t = 0; t < steps; t++) {
    const scale = t < 10 ? 1 : t < 25 ? 0.01 : 0.3;
    const grads = shapes.map((s) => values(random, sizeOf(s), scale));
    applyStep(optimizer, variables, grads);
    const h = c.hyper(t);
    reference.step(grads, h);
    variables.forEach((v, i) => {
      const label = `seed ${seed}, step ${t + 1}, [${shapes[i]}]`;
      expectClose(v.dataSync(), reference.y[i]!, `${label}: y`);
      const slots = optimizer.getSlots(v.name)!;
      expectClose(slots.z!.dataSync(), reference.z[i]!, `${label}: z`);
      if (h.kind === 'adamw') expectClose(slots.expAvgSq!.dataSync(), reference.expAvgSq[i]!, `${label}: v`);
      if (h.innerMomentum !== 0) expectClose(slots.expAvg!.dataSync(), reference.expAvg[i]!, `${label}: m`);
    });
  }
  optimizer.eval();
  const x = reference.x(c.hyper(steps).beta);
  variables.forEach((v, i) => {
    expectClose(v.dataSync(), x[i]!, `x of [${shapes[i]}]`);
  });
  optimizer.train();
  variables.forEach((v, i) => {
    expectClose(v.dataSync(), reference.y[i]!, `y again of [${shapes[i]}]`);
  });
  optimizer.dispose();
  tf.dispose(variables);
}
