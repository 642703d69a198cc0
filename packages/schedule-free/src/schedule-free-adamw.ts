import { checkNonNegative, checkUnitInterval, defineOptimizer, type OptimizerOptions } from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import {
  type AveragingSlot,
  averagedStep,
  averagingDefaults,
  averagingScalars,
  averagingSlots,
  checkAveraging,
  type ScheduleFreeClass,
  type ScheduleFreeOptimizer,
  withTrainEval,
} from './averaging.js';

const adamDefaults = {
  /**
   * Step size of z (the peak after warmup), ≥ 0. Schedule-Free needs no decaying schedule.
   *
   * @defaultValue `0.0025`
   */
  learningRate: 0.0025,
  /**
   * Interpolation β of y = (1 − β)z + βx, in [0, 1) (`eval()` needs β > 0).
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment, in [0, 1).
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to the root of the bias-corrected second moment, ≥ 0.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
};
const innerDefaults = {
  /**
   * An exponential average of the gradient inside the AdamW update, in [0, 1); 0 keeps no buffer.
   *
   * @defaultValue `0`
   */
  innerMomentum: 0,
};
// Typed as the parts' intersection so that declaration files keep the averaging options' docs
// (an inferred spread inlines them without their comments).
const defaults: typeof adamDefaults & typeof averagingDefaults & typeof innerDefaults = {
  ...adamDefaults,
  ...averagingDefaults,
  ...innerDefaults,
};

/** Hyperparameters of {@link scheduleFreeAdamW}. */
export type ScheduleFreeAdamWDefaults = typeof defaults;
/** Options of {@link scheduleFreeAdamW}: each numeric one a number or a schedule, plus `paramGroups`. */
export type ScheduleFreeAdamWOptions = OptimizerOptions<ScheduleFreeAdamWDefaults>;
/** A Schedule-Free AdamW optimizer instance, with `train()` and `eval()`. */
export type ScheduleFreeAdamW = ScheduleFreeOptimizer<ScheduleFreeAdamWDefaults>;

const Defined = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitScheduleFreeAdamW',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkAveraging(h);
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    checkNonNegative('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
    checkUnitInterval('innerMomentum', h.innerMomentum);
  },
  slots: (_shape, h) =>
    (h.innerMomentum !== 0
      ? { ...averagingSlots, expAvgSq: 0, expAvg: 0 }
      : { ...averagingSlots, expAvgSq: 0 }) as Record<AveragingSlot | 'expAvgSq' | 'expAvg', 0>,
  epsilons: ['epsilon'],
  variant: (h, step) => ({ first: step === 1, inner: h.innerMomentum !== 0, decay: h.weightDecay !== 0 }),
  scalars: (h, step) => ({
    ...averagingScalars(h, step),
    oneMinusBeta2: 1 - h.beta2,
    biasCorrection2: 1 - h.beta2 ** step,
    oneMinusInner: 1 - h.innerMomentum,
    biasCorrection1: 1 - h.innerMomentum ** step,
  }),
  rule({ param, grad, slots, s, op, v }) {
    const z = v.first ? param : slots.z;
    const expAvgSq = op.add(op.mul(slots.expAvgSq, s.beta2), op.mul(op.mul(grad, grad), s.oneMinusBeta2));
    const denom = op.add(op.sqrt(op.div(expAvgSq, s.biasCorrection2)), s.epsilon);
    let expAvg: typeof grad | undefined;
    let direction: typeof grad;
    if (v.inner) {
      expAvg = op.add(op.mul(slots.expAvg, s.innerMomentum), op.mul(grad, s.oneMinusInner));
      direction = op.div(op.div(expAvg, s.biasCorrection1), denom);
    } else direction = op.div(grad, denom);
    if (v.decay) direction = op.add(direction, op.mul(param, s.weightDecay));
    const next = averagedStep(op, param, z, direction, s.beta1, slots, s);
    return {
      param: next.param,
      slots: {
        z: next.z,
        weightSum: next.weightSum,
        lrMaxPower: next.lrMaxPower,
        expAvgSq,
        ...(expAvg ? { expAvg } : {}),
      },
    };
  },
});

/** The Schedule-Free AdamW class (serialization name `OptimkitScheduleFreeAdamW`). */
export const ScheduleFreeAdamW: ScheduleFreeClass<ScheduleFreeAdamWDefaults> = /* @__PURE__ */ withTrainEval(
  Defined,
  (h) => h.beta1,
);

/**
 * Schedule-Free AdamW (Defazio et al.), as the current facebookresearch/schedule_free reference
 * (`AdamWScheduleFree`): no learning-rate schedule, and no stopping time to choose in advance.
 * Gradients are taken at y, an interpolation between the AdamW iterate z and the weighted
 * average x of the z's; `eval()` moves the variables to x (evaluate and save there), `train()`
 * back to y. The optimizer starts in train mode; a step in eval mode throws.
 *
 * Update rule, at the reference's step k (0 on a variable's first update), with β = `beta1`:
 * ```
 * lr_k  = learningRate · min(1, (k+1)/warmupSteps)            (linear warmup)
 * v ← beta2·v + (1 − beta2)·g²
 * d ← g / (√(v/(1 − beta2^(k+1))) + epsilon)                  (bias-corrected denominator)
 *     (innerMomentum μ > 0: m ← μm + (1 − μ)g; d ← (m/(1 − μ^(k+1))) / (…) instead)
 * d ← d + weightDecay·y
 * weight = (k+1)^r · (max_{i≤k} lr_i)^weightLrPower;  W ← W + weight;  c = weight/W
 * y ← lerp(y, z, c) + lr_k·(β(1 − c) − 1)·d                   (y = (1−β)z + βx, x ← (1−c)x + cz)
 * z ← z − lr_k·d
 * eval(): p ← lerp(y, z, 1 − 1/β) = x;  train(): p ← lerp(x, z, 1 − β) = y
 * ```
 * Defaults are the reference's: learningRate 0.0025, betas (0.9, 0.999), epsilon 1e-8,
 * weightDecay 0, warmupSteps 0, r 0, weightLrPower 2, innerMomentum 0.
 *
 * Paper: Aaron Defazio, Xingyu Alice Yang, Harsh Mehta, Konstantin Mishchenko, Ahmed Khaled,
 * Ashok Cutkosky, "The Road Less Scheduled", NeurIPS 2024, arXiv:2405.15682. Code:
 * facebookresearch/schedule_free `schedulefree/adamw_schedulefree.py`.
 *
 * @example
 * ```ts
 * import { scheduleFreeAdamW } from '@optimkit/schedule-free';
 * const optimizer = scheduleFreeAdamW({ learningRate: 0.0025, warmupSteps: 1000 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 5 }); // train mode: the variables are at y
 * optimizer.eval(); // the variables are at x: evaluate, save
 * await model.evaluate(testXs, testYs);
 * optimizer.train(); // back to y before training on
 * ```
 */
export function scheduleFreeAdamW(options: ScheduleFreeAdamWOptions = {}): ScheduleFreeAdamW {
  return new ScheduleFreeAdamW(options);
}
