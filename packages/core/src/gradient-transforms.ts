import * as tf from '@tensorflow/tfjs-core';
import { registeredVariable, sameShape } from './variable-state.js';

/** Gradient transforms every optimkit optimizer accepts; they act on all gradients of a step. */
export interface GradientTransformOptions {
  /**
   * Rescale all gradients of a step when their global L2 norm exceeds this value, as PyTorch's
   * `clip_grad_norm_`: `g ← g · min(1, clipGradNorm / (‖g‖ + 1e-6))`. Default: off.
   */
  clipGradNorm?: number | null;
  /** Clip every gradient element to `[-clipGradValue, clipGradValue]` (before the norm). Default: off. */
  clipGradValue?: number | null;
  /**
   * Skip a step whose gradients contain NaN or ±Inf: no variable and no state changes, the step is
   * not counted in `iterations`, and `skippedSteps` counts it (Optax `apply_if_finite`). Default false.
   */
  skipNonFinite?: boolean;
  /**
   * Average the gradients of this many calls and apply them on the last one (Optax `MultiSteps`);
   * the calls in between change no variable. `iterations` counts applied updates. Default 1.
   */
  accumulateSteps?: number;
  /**
   * Maximize the objective instead of minimizing it (PyTorch's `maximize`): every gradient is
   * negated before the update rule sees it, so weight decay still shrinks the parameters. Default
   * false.
   */
  maximize?: boolean;
}

export const TRANSFORM_KEYS = [
  'clipGradNorm',
  'clipGradValue',
  'skipNonFinite',
  'accumulateSteps',
  'maximize',
] as const;

/** The checked transform options. */
export interface Transforms {
  clipGradNorm: number | null;
  clipGradValue: number | null;
  skipNonFinite: boolean;
  accumulateSteps: number;
  maximize: boolean;
}

export function checkTransforms(className: string, given: Record<string, unknown>): Transforms {
  const positiveOrNull = (key: string): number | null => {
    const value = given[key] ?? null;
    if (value === null) return null;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`Invalid ${key} of ${className}: ${String(value)} (a positive number)`);
    }
    return value;
  };
  const skip = given.skipNonFinite ?? false;
  if (typeof skip !== 'boolean')
    throw new TypeError(`Option 'skipNonFinite' of ${className} must be a boolean`);
  const maximize = given.maximize ?? false;
  if (typeof maximize !== 'boolean')
    throw new TypeError(`Option 'maximize' of ${className} must be a boolean`);
  const k = given.accumulateSteps ?? 1;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new RangeError(`Invalid accumulateSteps of ${className}: ${String(k)} (a positive integer)`);
  }
  return {
    clipGradNorm: positiveOrNull('clipGradNorm'),
    clipGradValue: positiveOrNull('clipGradValue'),
    skipNonFinite: skip,
    accumulateSteps: k,
    maximize,
  };
}

/** True when every element of every gradient is finite (one scalar is read back). */
export function allFinite(grads: readonly tf.Tensor[]): boolean {
  if (grads.length === 0) return true;
  const count = tf.tidy(() =>
    grads.map((g) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(g)), 'int32'))).reduce((a, b) => tf.add(a, b)),
  );
  const finite = count.dataSync()[0] === 0;
  count.dispose();
  return finite;
}

/**
 * The per-variable part of the gradient transforms, in PyTorch's order: the accumulated sum
 * averaged over `accumulateSteps`, clipped by value, then scaled by the global-norm factor of
 * {@link globalNormScale}. Call inside `tidy`.
 */
export function transformGradient(
  grad: tf.Tensor,
  transforms: Transforms,
  scale: tf.Tensor | null,
): tf.Tensor {
  let g = transforms.accumulateSteps > 1 ? tf.div(grad, transforms.accumulateSteps) : grad;
  const { clipGradValue } = transforms;
  if (clipGradValue !== null) g = tf.clipByValue(g, -clipGradValue, clipGradValue);
  return scale === null ? g : tf.mul(g, scale);
}

/**
 * PyTorch's `clip_grad_norm_` factor `min(1, max / (‖g‖ + 1e-6))` over every gradient of the step
 * (each first averaged and clipped by value), or null when `clipGradNorm` is off. The norm sums in
 * variable-name order, so it does not depend on the order gradients arrive in; each variable's
 * square sum is taken in its own `tidy`, so memory stays bounded by the largest variable.
 */
export function globalNormScale(
  entries: readonly { name: string; grad: tf.Tensor }[],
  transforms: Transforms,
): tf.Scalar | null {
  const { clipGradNorm } = transforms;
  if (clipGradNorm === null || entries.length === 0) return null;
  const order = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let sumOfSquares: tf.Tensor = tf.scalar(0);
  for (const { grad } of order) {
    const squares = tf.tidy(() => tf.sum(tf.square(transformGradient(grad, transforms, null))));
    const next = tf.add(sumOfSquares, squares);
    tf.dispose([sumOfSquares, squares]);
    sumOfSquares = next;
  }
  const scale = tf.tidy(() => tf.minimum(1, tf.div(clipGradNorm, tf.add(tf.sqrt(sumOfSquares), 1e-6))));
  sumOfSquares.dispose();
  return scale as tf.Scalar;
}

/**
 * Optax's `MultiSteps`: sums the gradients of `accumulateSteps` calls per variable (in
 * non-trainable variables) until the update that averages them (see {@link transformGradient}).
 */
export class GradientAccumulator {
  private sums = new Map<string, tf.Variable>();
  /** Variables that received a gradient in the current window. */
  private names = new Set<string>();
  private count = 0;

  /** Calls summed in the current window, 0 at a boundary. */
  get calls(): number {
    return this.count;
  }

  /**
   * Throws, before anything is added, when a sum is for another shape than its variable now has
   * (the variable was disposed and re-created with another shape in the middle of a window).
   */
  private checkShapes(variables: readonly tf.Variable[]): void {
    for (const variable of variables) {
      const sum = this.sums.get(variable.name);
      if (sum && !sameShape(sum.shape, variable.shape)) {
        throw new RangeError(
          `accumulateSteps: the gradients of '${variable.name}' summed in this window are for shape ` +
            `[${sum.shape.join(',')}], but the variable now has shape [${variable.shape.join(',')}]; ` +
            'dispose() the optimizer to start from empty state',
        );
      }
    }
  }

  /** Adds one call's gradients. */
  add(work: readonly { variable: tf.Variable; grad: tf.Tensor }[]): void {
    this.checkShapes(work.map((w) => w.variable));
    tf.tidy(() => {
      for (const { variable, grad } of work) {
        let sum = this.sums.get(variable.name);
        if (!sum) {
          sum = tf.variable(tf.zerosLike(variable), false);
          this.sums.set(variable.name, sum);
        }
        sum.assign(tf.add(sum, grad));
        this.names.add(variable.name);
      }
    });
    this.count += 1;
  }

  /**
   * The sums of the window this call completes, with its gradients added, as fresh tensors for
   * the caller to free: nothing here changes until {@link restart}. Variables disposed during the
   * window are left out (there is nothing left to update).
   */
  completed(
    work: readonly { variable: tf.Variable; grad: tf.Tensor }[],
  ): { variable: tf.Variable; grad: tf.Tensor }[] {
    const incoming = new Map(work.map((w) => [w.variable.name, w]));
    const names = [...this.names, ...[...incoming.keys()].filter((n) => !this.names.has(n))];
    const live = names.flatMap((name) => {
      const variable = incoming.get(name)?.variable ?? registeredVariable(name);
      return variable ? [variable] : [];
    });
    this.checkShapes(live);
    return live.map((variable) => {
      const given = incoming.get(variable.name);
      const sum = this.sums.get(variable.name);
      const grad = sum && given ? tf.add(sum, given.grad) : tf.clone(sum ?? given!.grad);
      return { variable, grad };
    });
  }

  /** The sums of the variables that received a gradient in this window, in arrival order. */
  window(): { name: string; sum: tf.Variable }[] {
    return [...this.names].map((name) => ({ name, sum: this.sums.get(name)! }));
  }

  /** Zeroes every sum and starts a new window. */
  restart(): void {
    for (const sum of this.sums.values()) {
      tf.tidy(() => {
        sum.assign(tf.zerosLike(sum));
      });
    }
    this.names.clear();
    this.count = 0;
  }

  /** Replaces the window with restored sums (every one received a gradient) and call count. */
  replace(sums: Map<string, tf.Variable>, calls: number): void {
    this.dispose();
    this.sums = sums;
    this.names = new Set(sums.keys());
    this.count = calls;
  }

  /** Bytes of the sums. */
  bytes(): number {
    let bytes = 0;
    for (const sum of this.sums.values()) bytes += sum.size * 4;
    return bytes;
  }

  /** Frees every sum. */
  dispose(): void {
    for (const sum of this.sums.values()) sum.dispose();
    this.sums = new Map();
    this.names = new Set();
    this.count = 0;
  }
}
