import * as tf from '@tensorflow/tfjs-core';

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
}

export const TRANSFORM_KEYS = ['clipGradNorm', 'clipGradValue', 'skipNonFinite', 'accumulateSteps'] as const;

/** The checked transform options. */
export interface Transforms {
  clipGradNorm: number | null;
  clipGradValue: number | null;
  skipNonFinite: boolean;
  accumulateSteps: number;
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
  const k = given.accumulateSteps ?? 1;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new RangeError(`Invalid accumulateSteps of ${className}: ${String(k)} (a positive integer)`);
  }
  return {
    clipGradNorm: positiveOrNull('clipGradNorm'),
    clipGradValue: positiveOrNull('clipGradValue'),
    skipNonFinite: skip,
    accumulateSteps: k,
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
 * Applies value and global-norm clipping to the gradients of a step. Call inside `tidy`. The norm
 * sums in variable-name order, so the result does not depend on the order gradients arrive in.
 */
export function clipGradients(
  entries: readonly { name: string; grad: tf.Tensor }[],
  transforms: Transforms,
): tf.Tensor[] {
  let grads = entries.map(({ grad }) => grad);
  const { clipGradValue, clipGradNorm } = transforms;
  if (clipGradValue !== null) grads = grads.map((g) => tf.clipByValue(g, -clipGradValue, clipGradValue));
  if (clipGradNorm !== null && grads.length > 0) {
    const order = entries
      .map((e, i) => [e.name, i] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let sumOfSquares: tf.Tensor = tf.scalar(0);
    for (const [, i] of order) sumOfSquares = tf.add(sumOfSquares, tf.sum(tf.square(grads[i]!)));
    const scale = tf.minimum(1, tf.div(clipGradNorm, tf.add(tf.sqrt(sumOfSquares), 1e-6)));
    grads = grads.map((g) => tf.mul(g, scale));
  }
  return grads;
}
