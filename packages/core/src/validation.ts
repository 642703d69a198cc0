/**
 * Validators for hyperparameters. Each throws a `RangeError` whose message names the option and
 * the offending value, in PyTorch's words where PyTorch has them (`Invalid learning rate: -1`).
 */

function describe(value: number): string {
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/** Throws unless `value` is a finite number ≥ 0. */
export function checkNonNegative(label: string, value: number): void {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`Invalid ${label}: ${describe(value)}`);
}

/** Throws unless `value` is a finite number > 0. */
export function checkPositive(label: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`Invalid ${label}: ${describe(value)}`);
}

/** Throws unless 0 ≤ `value` < 1 (betas, momentum, decay rates). */
export function checkUnitInterval(label: string, value: number): void {
  if (!(value >= 0 && value < 1)) throw new RangeError(`Invalid ${label}: ${describe(value)}`);
}

/** Throws unless 0 ≤ `value` ≤ 1 (dampening, interpolation weights). */
export function checkClosedUnitInterval(label: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`Invalid ${label}: ${describe(value)}`);
}

/** Throws unless `value` is a finite number ≥ 0: `Invalid learning rate: -1`. */
export function checkLearningRate(value: number): void {
  checkNonNegative('learning rate', value);
}

/**
 * Throws unless an optimizer without a default learning rate was given one:
 * `Invalid learning rate: null (lars requires a learningRate: it has no default, e.g. lars({ learningRate: 1 }))`.
 */
export function checkRequiredLearningRate(
  optimizer: string,
  value: number | null,
  example: string,
): asserts value is number {
  if (value === null) {
    throw new RangeError(
      `Invalid learning rate: null (${optimizer} requires a learningRate: it has no default, e.g. ${optimizer}({ learningRate: ${example} }))`,
    );
  }
}

/** The precisions optimizer state can be kept in (see `{ quantized }` slots). */
export type StateDtype = 'float32' | 'int8';

/** Throws unless `value` is `'float32'` or `'int8'`: `Invalid stateDtype: 'int4' (…)`. */
export function checkStateDtype(value: string): void {
  if (value !== 'float32' && value !== 'int8') {
    throw new RangeError(`Invalid stateDtype: '${value}' (expected 'float32' or 'int8')`);
  }
}
