/**
 * Rule fragments shared by Adafactor and CAME: functions of the rule vocabulary `op` and rule
 * values, each the chain of tfjs ops the reference code computes, in the same order (so that the
 * composite and fused paths core derives from a rule round exactly as those ops do).
 */
import type { Operand, RuleOps, SlotInit, Value } from '@optimkit/core';

/** Adafactor factors a variable's second moment when it has at least two dimensions. */
export function isFactored(shape: readonly number[]): boolean {
  return shape.length >= 2;
}

/**
 * The row and column statistics of a variable of rank ≥ 2, factored over its last two dims
 * (leading dims are batched): `row` is `shape[:-1]`, `col` is `shape[:-2] + shape[-1:]`. Their
 * layouts are declared, since a square matrix's row and column statistics have the same shape.
 */
export function factoredSlots<R extends string, C extends string>(
  row: R,
  col: C,
): { [N in R | C]: SlotInit } {
  return { [row]: { layout: 'row', value: 0 }, [col]: { layout: 'col', value: 0 } } as {
    [N in R | C]: SlotInit;
  };
}

/** Root mean square of a whole value, a scalar: `sqrt(mean(square(x)))`. */
export function rms(op: RuleOps, x: Value): Value {
  return op.sqrt(op.mean(op.square(x)));
}

/** Adafactor's update clipping: `u / max(1, RMS(u) / threshold)`. */
export function clipByRms(op: RuleOps, update: Value, threshold: Operand): Value {
  return op.div(update, op.max(op.div(rms(op, update), threshold), 1));
}

/**
 * `beta · average + (1 − beta) · value`, in the order the reference code computes it; `oneMinusBeta`
 * is a scalar computed in float64 from `beta` (never `op.sub(1, beta)`, which rounds differently).
 */
export function ema(op: RuleOps, average: Value, value: Value, beta: Operand, oneMinusBeta: Operand): Value {
  return op.add(op.mul(average, beta), op.mul(value, oneMinusBeta));
}

/**
 * Folds `square` (of the variable's shape) into the factored statistics and returns them:
 * `row ← β·row + (1−β)·mean(square, −1)`, `col ← β·col + (1−β)·mean(square, −2)`.
 */
export function updateFactored(
  op: RuleOps,
  row: Value,
  col: Value,
  square: Value,
  beta: Operand,
  oneMinusBeta: Operand,
): { row: Value; col: Value } {
  return {
    row: ema(op, row, op.rowMean(square), beta, oneMinusBeta),
    col: ema(op, col, op.colMean(square), beta, oneMinusBeta),
  };
}

/**
 * `1/sqrt(V̂)` of the rank-1 reconstruction `V̂ᵢⱼ = rowᵢ · colⱼ / mean(row)` (fairseq's
 * `_approx_sq_grad`), with the shape of the variable (the row and column factors broadcast).
 */
export function factoredRsqrt(op: RuleOps, row: Value, col: Value): Value {
  const rowFactor = op.rsqrt(op.div(row, op.rowMean(row)));
  return op.mul(rowFactor, op.rsqrt(col));
}
