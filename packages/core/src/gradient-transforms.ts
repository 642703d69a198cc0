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
  /**
   * Gradient centralisation (Yong et al. 2020, "Gradient Centralization: A New Optimization
   * Technique for Deep Neural Networks", arXiv:2004.01461): for a variable of rank ≥ 2, subtract
   * from each output unit's gradient its mean over the unit's fan-in, i.e. over every axis but the
   * last (tfjs kernels are `[in, out]` and `[h, w, in, out]`). Vectors and scalars are left as
   * they are. Default false.
   *
   * Optax's `centralize` averages over every axis but the first, PyTorch's `[out, in]` convention;
   * on tfjs's layout that would centre each input's row, not each unit.
   */
  centralize?: boolean;
  /**
   * Adaptive gradient clipping (Brock et al. 2021, "High-Performance Large-Scale Image Recognition
   * Without Normalization", arXiv:2102.06171; Optax `adaptive_grad_clip`): per unit `u`,
   * `g_u ← g_u · λ·max(‖p_u‖, ε)/max(‖g_u‖, 1e-6)` when `‖g_u‖ ≥ λ·max(‖p_u‖, ε)`, else unchanged.
   * Units as Optax for its `[in, out]` layout: the whole tensor for a vector or scalar (or a tensor
   * with one dimension above 1), axis 0 for rank 2 and 3, axes 0–2 for rank 4 (conv `HWIO`), every
   * axis but the last beyond. Give λ (`clipping`, e.g. `0.01`), or `{ clipping, epsilon }`
   * (`epsilon` default `1e-3`). Default: off.
   */
  adaptiveGradClip?: number | { clipping: number; epsilon?: number } | null;
}

export const TRANSFORM_KEYS = [
  'clipGradNorm',
  'clipGradValue',
  'skipNonFinite',
  'accumulateSteps',
  'maximize',
  'centralize',
  'adaptiveGradClip',
] as const;

/** The checked transform options. */
export interface Transforms {
  clipGradNorm: number | null;
  clipGradValue: number | null;
  skipNonFinite: boolean;
  accumulateSteps: number;
  maximize: boolean;
  centralize: boolean;
  adaptiveGradClip: { clipping: number; epsilon: number } | null;
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
  const centralize = given.centralize ?? false;
  if (typeof centralize !== 'boolean')
    throw new TypeError(`Option 'centralize' of ${className} must be a boolean`);
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
    centralize,
    adaptiveGradClip: checkAdaptiveGradClip(className, given.adaptiveGradClip ?? null),
  };
}

function checkAdaptiveGradClip(className: string, value: unknown): Transforms['adaptiveGradClip'] {
  if (value === null) return null;
  const given = typeof value === 'number' ? { clipping: value } : value;
  const invalid = (what: string) =>
    new RangeError(
      `Invalid adaptiveGradClip of ${className}: ${what} (a positive clipping, optionally { clipping, epsilon })`,
    );
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalid(String(value));
  const { clipping, epsilon = 1e-3, ...rest } = given as { clipping?: unknown; epsilon?: unknown };
  if (Object.keys(rest).length > 0) throw invalid(`unknown key '${Object.keys(rest)[0]}'`);
  if (typeof clipping !== 'number' || !(clipping > 0) || !Number.isFinite(clipping)) {
    throw invalid(`clipping ${String(clipping)}`);
  }
  if (typeof epsilon !== 'number' || !(epsilon >= 0) || !Number.isFinite(epsilon)) {
    throw invalid(`epsilon ${String(epsilon)}`);
  }
  return { clipping, epsilon };
}

/** The axes of a unit's fan-in for adaptive clipping (Optax's `unitwise_norm` on tfjs layouts). */
function unitAxes(shape: readonly number[]): number[] | null {
  if (shape.filter((d) => d > 1).length <= 1) return null;
  if (shape.length === 2 || shape.length === 3) return [0];
  return shape.slice(0, -1).map((_, i) => i);
}

/** `‖x‖` per unit, broadcastable against `x` (`null` axes: the whole tensor). */
function unitNorm(x: tf.Tensor, axes: number[] | null): tf.Tensor {
  const squares = tf.square(x);
  return tf.sqrt(axes === null ? tf.sum(squares) : tf.sum(squares, axes, true));
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
 * The per-variable part of the gradient transforms, in this order: the accumulated sum averaged
 * over `accumulateSteps`, centralised, adaptively clipped against `param`, clipped by value, then
 * scaled by the global-norm factor of
 * {@link globalNormScale}. Call inside `tidy`.
 */
export function transformGradient(
  grad: tf.Tensor,
  transforms: Transforms,
  scale: tf.Tensor | null,
  param: tf.Tensor,
): tf.Tensor {
  let g = transforms.accumulateSteps > 1 ? tf.div(grad, transforms.accumulateSteps) : grad;
  if (transforms.centralize && g.rank >= 2) {
    g = tf.sub(
      g,
      tf.mean(
        g,
        g.shape.slice(0, -1).map((_, i) => i),
        true,
      ),
    );
  }
  const agc = transforms.adaptiveGradClip;
  if (agc !== null) {
    const axes = unitAxes(g.shape);
    const maxNorm = tf.mul(tf.maximum(unitNorm(param, axes), agc.epsilon), agc.clipping);
    const gradNorm = unitNorm(g, axes);
    const clipped = tf.mul(g, tf.div(maxNorm, tf.maximum(gradNorm, 1e-6)));
    g = tf.where(tf.broadcastTo(tf.less(gradNorm, maxNorm), g.shape), g, clipped);
  }
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
  entries: readonly { name: string; grad: tf.Tensor; param: tf.Tensor }[],
  transforms: Transforms,
): tf.Scalar | null {
  const { clipGradNorm } = transforms;
  if (clipGradNorm === null || entries.length === 0) return null;
  const order = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let sumOfSquares: tf.Tensor = tf.scalar(0);
  for (const { grad, param } of order) {
    const squares = tf.tidy(() => tf.sum(tf.square(transformGradient(grad, transforms, null, param))));
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
