/**
 * What the family's optimizers share: the validation of their three decays, epsilon and weight
 * decay. Internal: not re-exported from the package entry, and it registers nothing.
 */
import { checkNonNegative, checkPositive, checkUnitInterval } from '@optimkit/core';

/** The hyperparameters every optimizer of the family has. */
export interface ThreeBetaHyperparameters {
  readonly beta1: number;
  readonly beta2: number;
  readonly beta3: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

/** `RangeError: Invalid beta3: 1` and the like; the learning rate is checked by the core. */
export function validateThreeBetas(h: ThreeBetaHyperparameters): void {
  checkUnitInterval('beta1', h.beta1);
  checkUnitInterval('beta2', h.beta2);
  checkUnitInterval('beta3', h.beta3);
  checkPositive('epsilon', h.epsilon);
  checkNonNegative('weightDecay', h.weightDecay);
}
