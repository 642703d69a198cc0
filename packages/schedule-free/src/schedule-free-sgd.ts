import { checkNonNegative, defineOptimizer, type OptimizerOptions } from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import {
  averagedStep,
  averagingDefaults,
  averagingScalars,
  averagingSlots,
  checkAveraging,
  type ScheduleFreeClass,
  type ScheduleFreeOptimizer,
  withTrainEval,
} from './averaging.js';

const sgdDefaults = {
  /**
   * Step size of z (the peak after warmup), ≥ 0.
   *
   * @defaultValue `1`
   */
  learningRate: 1,
  /**
   * Interpolation β of y = (1 − β)z + βx, in (0, 1).
   *
   * @defaultValue `0.9`
   */
  momentum: 0.9,
};
// Typed as the parts' intersection so that declaration files keep the averaging options' docs
// (an inferred spread inlines them without their comments).
const defaults: typeof sgdDefaults & typeof averagingDefaults = { ...sgdDefaults, ...averagingDefaults };

/** Hyperparameters of {@link scheduleFreeSgd}. */
export type ScheduleFreeSgdDefaults = typeof defaults;
/** Options of {@link scheduleFreeSgd}: each numeric one a number or a schedule, plus `paramGroups`. */
export type ScheduleFreeSgdOptions = OptimizerOptions<ScheduleFreeSgdDefaults>;
/** A Schedule-Free SGD optimizer instance, with `train()` and `eval()`. */
export type ScheduleFreeSgd = ScheduleFreeOptimizer<ScheduleFreeSgdDefaults>;

const Defined = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitScheduleFreeSGD',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkAveraging(h);
    if (!(h.momentum > 0 && h.momentum < 1)) {
      throw new RangeError(`Momentum must be between 0 and 1 exclusive: ${h.momentum}`);
    }
    checkNonNegative('weightDecay', h.weightDecay);
  },
  slots: averagingSlots,
  variant: (h, step) => ({ first: step === 1, decay: h.weightDecay !== 0 }),
  scalars: (h, step) => averagingScalars(h, step),
  rule({ param, grad, slots, s, op, v }) {
    const direction = v.decay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    const next = averagedStep(op, param, v.first ? param : slots.z, direction, s.momentum, slots, s);
    return {
      param: next.param,
      slots: { z: next.z, weightSum: next.weightSum, lrMaxPower: next.lrMaxPower },
    };
  },
});

/** The Schedule-Free SGD class (serialization name `OptimkitScheduleFreeSGD`). */
export const ScheduleFreeSgd: ScheduleFreeClass<ScheduleFreeSgdDefaults> = /* @__PURE__ */ withTrainEval(
  Defined,
  (h) => h.momentum,
);

/**
 * Schedule-Free SGD (Defazio et al.), as the current facebookresearch/schedule_free reference
 * (`SGDScheduleFree`): SGD on z, gradients taken at y = (1 − β)z + βx, x the weighted average of
 * the z's; `eval()` moves the variables to x, `train()` back to y. It starts in train mode; a step
 * in eval mode throws.
 *
 * Update rule, at the reference's step k (0 on a variable's first update), with β = `momentum`:
 * ```
 * lr_k  = learningRate · min(1, (k+1)/warmupSteps)
 * d ← g + weightDecay·y
 * weight = (k+1)^r · (max_{i≤k} lr_i)^weightLrPower;  W ← W + weight;  c = weight/W
 * y ← lerp(y, z, c) + lr_k·(β(1 − c) − 1)·d
 * z ← z − lr_k·d
 * eval(): p ← lerp(y, z, 1 − 1/β) = x;  train(): p ← lerp(x, z, 1 − β) = y
 * ```
 * Defaults are the reference's: learningRate 1, momentum 0.9, weightDecay 0, warmupSteps 0, r 0,
 * weightLrPower 2.
 *
 * Paper: Aaron Defazio et al., "The Road Less Scheduled", NeurIPS 2024, arXiv:2405.15682. Code:
 * facebookresearch/schedule_free `schedulefree/sgd_schedulefree.py`.
 *
 * @example
 * ```ts
 * import { scheduleFreeSgd } from '@optimkit/schedule-free';
 * const optimizer = scheduleFreeSgd({ learningRate: 0.5, warmupSteps: 100 });
 * for (const batch of batches) optimizer.minimize(() => loss(batch));
 * optimizer.eval(); // evaluate and save at the average x
 * ```
 */
export function scheduleFreeSgd(options: ScheduleFreeSgdOptions = {}): ScheduleFreeSgd {
  return new ScheduleFreeSgd(options);
}
