/**
 * Pieces the Adam family shares. Internal: not re-exported from the package entry, and it
 * registers nothing, so importing one optimizer does not register the others.
 */
import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  elementwiseVariants,
  type FusedContext,
  type UpdateResult,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** The hyperparameters every optimizer of the family has. */
export interface MomentHyperparameters {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

/** Adam's and AdamW's hyperparameters. */
export interface AdamHyperparameters extends MomentHyperparameters {
  readonly amsgrad: boolean;
}

/** `RangeError: Invalid beta1: 1.2` and the like; the learning rate is checked by the core. */
export function validateMoments(h: MomentHyperparameters): void {
  checkUnitInterval('beta1', h.beta1);
  checkUnitInterval('beta2', h.beta2);
  checkPositive('epsilon', h.epsilon);
  checkNonNegative('weightDecay', h.weightDecay);
}

/**
 * Weight decay as PyTorch applies it: decoupled, `p ← p·(1 − lr·wd)` before the moments;
 * coupled (L2), `g ← g + wd·p`. Nothing happens when `weightDecay` is 0.
 */
export function applyWeightDecay(
  param: tf.Tensor,
  grad: tf.Tensor,
  h: MomentHyperparameters,
  decoupled: boolean,
): { param: tf.Tensor; grad: tf.Tensor } {
  if (h.weightDecay === 0) return { param, grad };
  if (decoupled) return { param: tf.mul(param, 1 - h.learningRate * h.weightDecay), grad };
  return { param, grad: tf.add(grad, tf.mul(param, h.weightDecay)) };
}

/** `m ← m + (1 − β₁)(g − m)`, PyTorch's `lerp`. */
export function firstMoment(m: tf.Tensor, g: tf.Tensor, beta1: number): tf.Tensor {
  return tf.add(m, tf.mul(tf.sub(g, m), 1 - beta1));
}

/** `v ← β₂·v + (1 − β₂)·g²`. */
export function secondMoment(v: tf.Tensor, g: tf.Tensor, beta2: number): tf.Tensor {
  return tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
}

/** Throws when a slot the update needs is missing (state made under other options). */
export function slot(
  slots: Readonly<Record<string, tf.Tensor>>,
  key: string,
  who: string,
  name: string,
): tf.Tensor {
  const value = slots[key];
  if (value === undefined) throw new Error(`${who}: '${name}' has no '${key}' slot`);
  return value;
}

/**
 * One Adam step (PyTorch `_single_tensor_adam`), used by both Adam (coupled decay) and AdamW
 * (decoupled), so AdamW with weightDecay 0 runs exactly Adam's ops.
 */
export function adamStep(
  who: string,
  context: {
    param: tf.Tensor;
    grad: tf.Tensor;
    slots: Readonly<Record<string, tf.Tensor>>;
    h: AdamHyperparameters;
    step: number;
    name: string;
  },
  decoupled: boolean,
): UpdateResult {
  const { slots, h, step, name } = context;
  const { param, grad } = applyWeightDecay(context.param, context.grad, h, decoupled);
  const expAvg = firstMoment(slot(slots, 'expAvg', who, name), grad, h.beta1);
  const expAvgSq = secondMoment(slot(slots, 'expAvgSq', who, name), grad, h.beta2);
  const stepSize = h.learningRate / (1 - h.beta1 ** step);
  const sqrtBias2 = Math.sqrt(1 - h.beta2 ** step);
  const next: Record<string, tf.Tensor> = { expAvg, expAvgSq };
  let second = expAvgSq;
  if (h.amsgrad) {
    // AMSGrad keeps the maximum of the raw (not bias-corrected) second moment, as PyTorch does.
    second = tf.maximum(slot(slots, 'maxExpAvgSq', who, name), expAvgSq);
    next.maxExpAvgSq = second;
  }
  const denom = tf.add(tf.div(tf.sqrt(second), sqrtBias2), h.epsilon);
  return { param: tf.sub(param, tf.mul(tf.div(expAvg, denom), stepSize)), slots: next };
}

/** A slot's array in a fused update, or the error the composite update would throw. */
export function fusedSlot(
  slots: Readonly<Record<string, Float32Array>>,
  key: string,
  who: string,
  name: string,
): Float32Array {
  const value = slots[key];
  if (value === undefined) throw new Error(`${who}: '${name}' has no '${key}' slot`);
  return value;
}

// Inputs param, grad, expAvg, expAvgSq, maxExpAvgSq; scalars weightDecay, 1 − lr·weightDecay,
// 1 − β₁, β₂, 1 − β₂, the step size, √(1 − β₂ᵗ), epsilon. Outputs param, expAvg, expAvgSq, maxExpAvgSq.
export const adamKernel = /* @__PURE__ */ elementwiseVariants(
  (e, flags: { coupled: boolean; decoupled: boolean; amsgrad: boolean }) => {
    const param = flags.decoupled ? e.mul(e.input(0), e.scalar(1)) : e.input(0);
    const grad = flags.coupled ? e.add(e.input(1), e.mul(e.input(0), e.scalar(0))) : e.input(1);
    const m = e.input(2);
    const expAvg = e.add(m, e.mul(e.sub(grad, m), e.scalar(2)));
    const expAvgSq = e.add(e.mul(e.input(3), e.scalar(3)), e.mul(e.mul(grad, grad), e.scalar(4)));
    const second = flags.amsgrad ? e.max(e.input(4), expAvgSq) : expAvgSq;
    const denom = e.add(e.div(e.sqrt(second), e.scalar(6)), e.scalar(7));
    const next = e.sub(param, e.mul(e.div(expAvg, denom), e.scalar(5)));
    return flags.amsgrad ? [next, expAvg, expAvgSq, second] : [next, expAvg, expAvgSq];
  },
  { inputs: 5, scalars: 8 },
);

/** The scalars of {@link adamKernel}, in float64 as the composite step computes them. */
export function adamScalars(h: MomentHyperparameters, step: number): number[] {
  return [
    h.weightDecay,
    1 - h.learningRate * h.weightDecay,
    1 - h.beta1,
    h.beta2,
    1 - h.beta2,
    h.learningRate / (1 - h.beta1 ** step),
    Math.sqrt(1 - h.beta2 ** step),
    h.epsilon,
  ];
}

/** {@link adamStep} as one elementwise kernel, equal to it bit for bit on the cpu backend. */
export function fusedAdamStep(
  who: string,
  context: FusedContext<{ [K in keyof AdamHyperparameters]: AdamHyperparameters[K] }>,
  decoupled: boolean,
): void {
  const { param, grad, slots, out, h, step, name } = context;
  const decay = h.weightDecay !== 0;
  const inputs = [
    param,
    grad,
    fusedSlot(slots, 'expAvg', who, name),
    fusedSlot(slots, 'expAvgSq', who, name),
  ];
  const outputs = [
    out.param,
    fusedSlot(out.slots, 'expAvg', who, name),
    fusedSlot(out.slots, 'expAvgSq', who, name),
  ];
  if (h.amsgrad) {
    inputs.push(fusedSlot(slots, 'maxExpAvgSq', who, name));
    outputs.push(fusedSlot(out.slots, 'maxExpAvgSq', who, name));
  } else inputs.push(grad);
  const flags = { coupled: decay && !decoupled, decoupled: decay && decoupled, amsgrad: h.amsgrad };
  adamKernel(flags).run(param.length, inputs, adamScalars(h, step), outputs);
}
