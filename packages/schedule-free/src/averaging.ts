/**
 * What Schedule-Free AdamW and SGD share (not exported by the package): the step scalars of the
 * averaging weights, the y/z/x step of the rule, and the `train()`/`eval()` switch between the
 * training point y and the averaged point x.
 */
import {
  checkNonNegative,
  type Defaults,
  type DefinedOptimizerClass,
  defineRuleKernel,
  type NamedTensor,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type Resolved,
  type RuleOps,
  registerOptimizer,
  type SlotSpec,
  type Value,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';

/** The hyperparameters of the averaging, as both optimizers name them. */
export interface AveragingHyperparameters {
  learningRate: number;
  warmupSteps: number;
  r: number;
  weightLrPower: number;
}

/** Throws a `RangeError` for invalid averaging hyperparameters. */
export function checkAveraging(h: AveragingHyperparameters): void {
  if (!(Number.isInteger(h.warmupSteps) && h.warmupSteps >= 0)) {
    throw new RangeError(`Invalid warmupSteps: ${h.warmupSteps} (an integer ≥ 0)`);
  }
  checkNonNegative('r', h.r);
  checkNonNegative('weightLrPower', h.weightLrPower);
}

/** A Schedule-Free optimizer instance: an optimkit optimizer with {@link TrainEval}. */
export type ScheduleFreeOptimizer<D extends Defaults> = OptimkitOptimizer<D> & TrainEval;

/** The averaging's hyperparameters, with their defaults (the reference's, for both optimizers). */
export const averagingDefaults = {
  /**
   * Weight decay, ≥ 0, added to the (normalized) gradient at y (`+ weightDecay·y`).
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Steps of linear learning-rate warmup, an integer ≥ 0 (`lr·(k+1)/warmupSteps`).
   *
   * @defaultValue `0`
   */
  warmupSteps: 0,
  /**
   * Polynomial weighting of the average, `(k+1)^r`, ≥ 0.
   *
   * @defaultValue `0`
   */
  r: 0,
  /**
   * The average weights step k by `lr_max^weightLrPower` (≥ 0), de-weighting the warmup.
   *
   * @defaultValue `2`
   */
  weightLrPower: 2,
};

/** The slots of the averaging: z, and the per-variable copies of the reference's group sums. */
export type AveragingSlot = 'z' | 'weightSum' | 'lrMaxPower' | 'trainMode';

export const averagingSlots: SlotSpec<AveragingSlot> = {
  z: 0,
  weightSum: { layout: 'scalar' },
  lrMaxPower: { layout: 'scalar' },
  trainMode: { layout: 'scalar', value: 1 },
};

/**
 * The step scalars of the averaging at the variable's `step` (1 on its first update; the
 * reference's k is step − 1), in float64: the warmed-up learning rate, its power `lr^weightLrPower`
 * (the running maximum of which is `lr_max^weightLrPower`, as x ↦ x^p is increasing) and `(k+1)^r`.
 */
export function averagingScalars(h: AveragingHyperparameters, step: number) {
  const k = step - 1;
  const scheduled = h.learningRate * (k < h.warmupSteps ? (k + 1) / h.warmupSteps : 1);
  return {
    scheduledLearningRate: scheduled,
    learningRatePower: scheduled ** h.weightLrPower,
    stepPower: (k + 1) ** h.r,
  };
}

/** torch's float32 `lerp(start, end, w)`: `start + w·(end − start)` for w < 0.5, else `end − (end − start)·(1 − w)`. */
export function lerp(op: RuleOps, start: Value, end: Value, weight: Value): Value {
  const low = op.add(start, op.mul(op.sub(end, start), weight));
  const high = op.sub(end, op.mul(op.sub(end, start), op.sub(1, weight)));
  return op.select(op.less(weight, 0.5), low, high);
}

/**
 * The reference's step of y and z from the normalized gradient `direction`:
 * `weight = (k+1)^r·lr_max^p`, `weightSum += weight`, `c = weight/weightSum` (0 if the sum is 0),
 * `y ← lerp(y, z, c) + lr·(β(1 − c) − 1)·direction`, `z ← z − lr·direction`.
 */
export function averagedStep(
  op: RuleOps,
  y: Value,
  z: Value,
  direction: Value,
  interpolation: Value,
  slots: { weightSum: Value; lrMaxPower: Value },
  s: { scheduledLearningRate: Value; learningRatePower: Value; stepPower: Value },
) {
  const lr = s.scheduledLearningRate;
  const lrMaxPower = op.max(slots.lrMaxPower, s.learningRatePower);
  const weight = op.mul(s.stepPower, lrMaxPower);
  const weightSum = op.add(slots.weightSum, weight);
  const positive = op.greater(weightSum, 0);
  const ckp1 = op.select(positive, op.div(weight, op.select(positive, weightSum, 1)), 0);
  const yAlpha = op.mul(lr, op.sub(op.mul(interpolation, op.sub(1, ckp1)), 1));
  const param = op.add(lerp(op, y, z, ckp1), op.mul(direction, yAlpha));
  return { param, z: op.sub(z, op.mul(direction, lr)), weightSum, lrMaxPower };
}

// p ← lerp(p, z, w) for the variables whose mode is `from`; the mode becomes `to`.
const switchStage = /* @__PURE__ */ defineRuleKernel<'trainMode', 'weight' | 'to', { from: number }>({
  name: 'OptimkitScheduleFreeSwitch',
  slotLayouts: { trainMode: 'scalar' },
  rule: ({ param, grad: z, slots, s, op, v }) => {
    const switching = v.from === 1 ? op.greater(slots.trainMode, 0.5) : op.less(slots.trainMode, 0.5);
    return {
      param: op.select(switching, lerp(op, param, z, s.weight), param),
      slots: { trainMode: s.to },
    };
  },
});

/** What the mode-switching class adds to a Schedule-Free optimizer. */
export interface TrainEval {
  /**
   * Puts every variable the optimizer has state for at the training point y, where gradients
   * are taken (`p ← lerp(p, z, 1 − β)`), and allows steps again. A no-op in train mode.
   */
  train(): void;
  /**
   * Puts every variable the optimizer has state for at the averaged point x, the one to evaluate
   * and to save (`p ← lerp(p, z, 1 − 1/β)`); steps throw until {@link TrainEval.train}. A no-op in eval mode.
   */
  eval(): void;
  /** Whether the optimizer is in train mode (the variables at y). New optimizers are. */
  readonly training: boolean;
}

/**
 * The class of a Schedule-Free optimizer: the defined class plus `train()`/`eval()`, registered in
 * its place (same class name), so that `loadOptimizer` and tfjs-layers make this class.
 * `interpolation` is the β of `y = (1 − β)z + βx`.
 */
export function withTrainEval<D extends Defaults>(
  Base: DefinedOptimizerClass<D>,
  interpolation: (h: Resolved<D>) => number,
): ScheduleFreeClass<D> {
  class ScheduleFree extends Base implements TrainEval {
    private mode: 'train' | 'eval' = 'train';

    get training(): boolean {
      return this.mode === 'train';
    }

    train(): void {
      if (this.mode === 'train') return;
      this.switchTo('train');
    }

    eval(): void {
      if (this.mode === 'eval') return;
      this.switchTo('eval');
    }

    private switchTo(mode: 'train' | 'eval'): void {
      const { className } = this.definition;
      const hyperparameters = this.hyperparametersAt(this.iterations);
      const groups = (this.getConfig().paramGroups ?? []) as { params: string[] }[];
      const work: { variable: tf.Variable; slots: Readonly<Record<string, tf.Tensor>>; weight: number }[] =
        [];
      for (const name of this.variableSteps().keys()) {
        const variable = tf.engine().registeredVariables[name];
        const slots = this.getSlots(name);
        if (!variable || !slots) continue;
        const group = groups.findIndex((g) => g.params.includes(name));
        const beta = interpolation(hyperparameters[group + 1]!);
        if (mode === 'eval' && !(beta > 0)) {
          throw new RangeError(
            `${className}.eval() needs an interpolation (beta1 or momentum) above 0: with 0, y = z and the average x is not kept`,
          );
        }
        work.push({ variable, slots, weight: mode === 'eval' ? 1 - 1 / beta : 1 - beta });
      }
      for (const { variable, slots, weight } of work) {
        tf.tidy(() => {
          const result = switchStage.run({
            param: variable,
            grad: slots.z!,
            slots: { trainMode: slots.trainMode! },
            scalars: { weight, to: mode === 'train' ? 1 : 0 },
            variant: { from: mode === 'train' ? 0 : 1 },
            inPlace: true,
          });
          if (result.param !== variable) variable.assign(result.param);
          const trainMode = result.slots.trainMode;
          if (trainMode && trainMode !== slots.trainMode) (slots.trainMode as tf.Variable).assign(trainMode);
        });
      }
      this.mode = mode;
    }

    override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
      if (this.mode !== 'train') {
        throw new Error(
          `${this.definition.className} is in eval mode (the variables hold the average x): call train() before stepping`,
        );
      }
      super.applyGradients(variableGradients);
    }

    override async loadState(bytes: Uint8Array | ArrayBuffer): Promise<void> {
      await super.loadState(bytes);
      const modes = [...this.variableSteps().keys()].map((name) => this.getSlots(name)?.trainMode);
      this.mode = await modeOf(modes);
    }

    override async setWeights(weightValues: NamedTensor[]): Promise<void> {
      const modes = weightValues.filter((w) => w.name.endsWith('/trainMode')).map((w) => w.tensor);
      const mode = await modeOf(modes);
      await super.setWeights(weightValues);
      this.mode = mode;
    }
  }
  Object.defineProperty(ScheduleFree, 'name', { value: Base.name });
  registerOptimizer(ScheduleFree);
  return ScheduleFree as unknown as ScheduleFreeClass<D>;
}

/** A Schedule-Free optimizer class: a defined optimizer class whose instances can {@link TrainEval}. */
export interface ScheduleFreeClass<D extends Defaults> extends DefinedOptimizerClass<D> {
  new (options?: OptimizerOptions<D>): ScheduleFreeOptimizer<D>;
}

/** Eval when any saved variable is at x (all are, or none: the switch moves every variable). */
async function modeOf(modes: readonly (tf.Tensor | null | undefined)[]): Promise<'train' | 'eval'> {
  for (const mode of modes) {
    if (mode && (await mode.data())[0]! < 0.5) return 'eval';
  }
  return 'train';
}
