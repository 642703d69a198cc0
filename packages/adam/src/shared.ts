/**
 * Pieces the Adam family shares: validation, and rule fragments (functions of the rule's `op`,
 * values and scalars) with the float64 scalars they read. Internal: not re-exported from the
 * package entry, and it registers nothing, so importing one optimizer does not register the others.
 */
import {
  checkNonNegative,
  checkPositive,
  checkStateDtype,
  checkUnitInterval,
  momentSlot,
  type RuleOps,
  type SlotSpec,
  type StateDtype,
  type Value,
} from '@optimkit/core';

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
  readonly stateDtype: StateDtype;
}

/** Adam's and AdamW's validation: the moments' hyperparameters and `stateDtype`. */
export function validateAdam(h: AdamHyperparameters): void {
  validateMoments(h);
  checkStateDtype(h.stateDtype);
}

/**
 * Adam's and AdamW's slots: both moments (and AMSGrad's maximum), float32 or, with `stateDtype:
 * 'int8'`, 8-bit (the first moment on the signed map, the second ones on the unsigned map).
 */
export function adamSlots(
  _shape: readonly number[],
  h: AdamHyperparameters,
): SlotSpec<'expAvg' | 'expAvgSq' | 'maxExpAvgSq'> {
  const expAvg = momentSlot(h.stateDtype, 'signed');
  const expAvgSq = momentSlot(h.stateDtype, 'unsigned');
  return h.amsgrad ? { expAvg, expAvgSq, maxExpAvgSq: expAvgSq } : { expAvg, expAvgSq };
}

/** `RangeError: Invalid beta1: 1.2` and the like; the learning rate is checked by the core. */
export function validateMoments(h: MomentHyperparameters): void {
  checkUnitInterval('beta1', h.beta1);
  checkUnitInterval('beta2', h.beta2);
  checkPositive('epsilon', h.epsilon);
  checkNonNegative('weightDecay', h.weightDecay);
}

/** The scalars the shared fragments read, each one float64 expression of the hyperparameters. */
export type MomentScalar = 'decayFactor' | 'oneMinusBeta1' | 'oneMinusBeta2';

/** The values of {@link MomentScalar}: `1 − lr·wd`, `1 − β₁`, `1 − β₂`. */
export function momentScalars(h: MomentHyperparameters): Record<MomentScalar, number> {
  return {
    decayFactor: 1 - h.learningRate * h.weightDecay,
    oneMinusBeta1: 1 - h.beta1,
    oneMinusBeta2: 1 - h.beta2,
  };
}

/** Whether weight decay applies at all (a variant: `weightDecay` may be scheduled to 0). */
export function decayVariant(h: MomentHyperparameters): { decay: boolean } {
  return { decay: h.weightDecay !== 0 };
}

/**
 * Weight decay as PyTorch applies it: decoupled, `p ← p·(1 − lr·wd)` before the moments;
 * coupled (L2), `g ← g + wd·p`. Nothing happens when `decay` is off (`weightDecay` is 0).
 */
export function applyWeightDecay(
  op: RuleOps,
  param: Value,
  grad: Value,
  s: { readonly weightDecay: Value; readonly decayFactor: Value },
  decay: boolean,
  decoupled: boolean,
): { param: Value; grad: Value } {
  if (!decay) return { param, grad };
  if (decoupled) return { param: op.mul(param, s.decayFactor), grad };
  return { param, grad: op.add(grad, op.mul(param, s.weightDecay)) };
}

/** `m ← m + (1 − β₁)(g − m)`, PyTorch's `lerp`. */
export function firstMoment(op: RuleOps, m: Value, g: Value, oneMinusBeta1: Value): Value {
  return op.add(m, op.mul(op.sub(g, m), oneMinusBeta1));
}

/** `v ← β₂·v + (1 − β₂)·g²`. */
export function secondMoment(op: RuleOps, v: Value, g: Value, beta2: Value, oneMinusBeta2: Value): Value {
  return op.add(op.mul(v, beta2), op.mul(op.square(g), oneMinusBeta2));
}

/** The scalars of {@link adamRule}. */
export type AdamScalar = MomentScalar | 'stepSize' | 'sqrtBias2';

/** Adam's scalars at `step`: the shared ones, `lr / (1 − β₁ᵗ)` and `√(1 − β₂ᵗ)`, in float64. */
export function adamStepScalars(h: MomentHyperparameters, step: number): Record<AdamScalar, number> {
  return {
    ...momentScalars(h),
    stepSize: h.learningRate / (1 - h.beta1 ** step),
    sqrtBias2: Math.sqrt(1 - h.beta2 ** step),
  };
}

/** What {@link adamRule} reads of its rule context (Adam's and AdamW's are both this). */
export interface AdamRuleContext {
  param: Value;
  grad: Value;
  slots: { readonly expAvg: Value; readonly expAvgSq: Value; readonly maxExpAvgSq: Value };
  s: { readonly [K in 'beta2' | 'epsilon' | 'weightDecay' | AdamScalar]: Value };
  op: RuleOps;
  v: { readonly amsgrad: boolean; readonly decay: boolean };
}

/**
 * One Adam step (PyTorch `_single_tensor_adam`), used by both Adam (coupled decay) and AdamW
 * (decoupled), so AdamW with weightDecay 0 runs exactly Adam's ops.
 */
export function adamRule(who: string, context: AdamRuleContext, decoupled: boolean) {
  const { slots, s, op, v } = context;
  const { param, grad } = applyWeightDecay(op, context.param, context.grad, s, v.decay, decoupled);
  const expAvg = firstMoment(op, slots.expAvg, grad, s.oneMinusBeta1);
  const expAvgSq = secondMoment(op, slots.expAvgSq, grad, s.beta2, s.oneMinusBeta2);
  const next: { expAvg: Value; expAvgSq: Value; maxExpAvgSq?: Value } = { expAvg, expAvgSq };
  let second = expAvgSq;
  if (v.amsgrad) {
    if (!('maxExpAvgSq' in slots)) {
      throw new Error(`${who}: a variable has no 'maxExpAvgSq' slot (its first update was without amsgrad)`);
    }
    // AMSGrad keeps the maximum of the raw (not bias-corrected) second moment, as PyTorch does.
    second = op.max(slots.maxExpAvgSq, expAvgSq);
    next.maxExpAvgSq = second;
  }
  const denom = op.add(op.div(op.sqrt(second), s.sqrtBias2), s.epsilon);
  return { param: op.sub(param, op.mul(op.div(expAvg, denom), s.stepSize)), slots: next };
}
