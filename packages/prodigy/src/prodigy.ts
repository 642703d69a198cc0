import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  defineRuleKernel,
  type NamedTensor,
  type OptimizerOptions,
  type OptimkitOptimizer,
  type ParamGroup,
  type Resolved,
  type RuleOps,
  registerOptimizer,
  type Value,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

const defaults = {
  /**
   * Multiplies the estimated step size d; leave it at 1 unless training is unstable.
   *
   * @defaultValue `1`
   */
  learningRate: 1,
  /**
   * Decay of the first moment, in [0, 1); 0 keeps no first moment.
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
   * Decay of the d-estimate's running sums, in [0, 1); `null` is √beta2.
   *
   * @defaultValue `null`
   */
  beta3: null as number | null,
  /**
   * Added to the root of the second moment, scaled by d (`√v + d·epsilon`), > 0.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Weight decay, ≥ 0: decoupled (AdamW's, scaled by d·lr) or, with `decouple: false`, added to the
   * gradient.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * Decoupled (AdamW-style) weight decay.
   *
   * @defaultValue `true`
   */
  decouple: true,
  /**
   * Adam's bias correction, folded into the step `d·lr·√(1 − beta2^(k+1))/(1 − beta1^(k+1))`.
   *
   * @defaultValue `false`
   */
  useBiasCorrection: false,
  /**
   * Leave the learning rate out of the d-estimate's denominator sums (for warmup schedules).
   *
   * @defaultValue `false`
   */
  safeguardWarmup: false,
  /**
   * The initial d estimate, > 0.
   *
   * @defaultValue `1e-6`
   */
  d0: 1e-6,
  /**
   * Multiplies the estimate d̂ (0.5 to 2 typically work; the preferred knob).
   *
   * @defaultValue `1`
   */
  dCoef: 1,
  /**
   * Bound on d's growth per step (d ← min(d_max, d·growthRate)); `null` is unbounded.
   *
   * @defaultValue `null`
   */
  growthRate: null as number | null,
};

/** Hyperparameters of {@link prodigy}. */
export type ProdigyDefaults = typeof defaults;
/** Options of {@link prodigy}: each numeric one a number or a schedule, plus `paramGroups`. */
export type ProdigyOptions = OptimizerOptions<ProdigyDefaults>;
/** A Prodigy optimizer instance. */
export type Prodigy = OptimkitOptimizer<ProdigyDefaults> & {
  /** The current step-size estimate d (shared by every variable, as in the reference). */
  readonly d: number;
};

/** Hyperparameters that the reference reads from its first param group for every variable. */
const GLOBAL_KEYS = [
  'beta1',
  'beta2',
  'beta3',
  'decouple',
  'useBiasCorrection',
  'dCoef',
  'growthRate',
] as const;

/** The estimate of d that the whole optimizer shares (the reference keeps it in every group). */
interface Estimate {
  d: number;
  dMax: number;
  dNumerator: number;
}

/** The values of one step that every variable's rule reads, carried in its resolved hyperparameters. */
interface StepValues {
  /** d before this step's update (the moments and s use it). */
  d: number;
  /** d·lr·(bias correction), with d before the update: the step size. */
  dlr: number;
  /** The coefficient of the gradient in s. */
  sCoefficient: number;
  /** d after the update (the denominator's d·ε and the step without a first moment use it). */
  dNext: number;
  estimate: Estimate;
  /** Completed steps after this one. */
  k: number;
}

const STEP = Symbol('prodigy.step');
type Carrier = { [STEP]?: StepValues };

const f32 = Math.fround;

const Defined = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitProdigy',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkUnitInterval('beta1', h.beta1);
    checkUnitInterval('beta2', h.beta2);
    if (h.beta3 !== null) checkUnitInterval('beta3', h.beta3);
    checkPositive('epsilon', h.epsilon);
    checkNonNegative('weightDecay', h.weightDecay);
    checkPositive('d0', h.d0);
    checkPositive('dCoef', h.dCoef);
    if (h.growthRate !== null && !(h.growthRate >= 1))
      throw new RangeError(`Invalid growthRate: ${h.growthRate}`);
  },
  slots: (_shape, h) => ({
    s: 0,
    p0: 0,
    ...(h.beta1 > 0 ? { expAvg: 0 } : {}),
    expAvgSq: 0,
    // The shared estimate, as every variable last saw it (see `restoreEstimate`).
    d: { layout: 'scalar' as const, value: h.d0 },
    dMax: { layout: 'scalar' as const, value: h.d0 },
    dNumerator: { layout: 'scalar' as const },
    dStep: { layout: 'scalar' as const },
  }),
  epsilons: ['epsilon'],
  variant: (h, step) => ({
    first: step === 1,
    active: h.learningRate > 0,
    momentum: h.beta1 > 0,
    coupledDecay: h.weightDecay !== 0 && !h.decouple,
    decoupledDecay: h.weightDecay !== 0 && h.decouple,
  }),
  scalars: (h) => {
    const values = (h as Carrier)[STEP];
    const beta3 = h.beta3 ?? Math.sqrt(h.beta2);
    const d = values?.d ?? h.d0;
    const dlr = values?.dlr ?? 0;
    return {
      beta3Value: beta3,
      emaCoefficient: d * (1 - h.beta1),
      squareCoefficient: d * d * (1 - h.beta2),
      sCoefficient: values?.sCoefficient ?? 0,
      denominatorEpsilon: (values?.dNext ?? d) * h.epsilon,
      decayStep: -h.weightDecay * dlr,
      stepSize: -dlr,
      stepSizeWithoutMomentum: -dlr * (values?.dNext ?? d),
      nextD: values?.estimate.d ?? h.d0,
      nextDMax: values?.estimate.dMax ?? h.d0,
      nextDNumerator: values?.estimate.dNumerator ?? 0,
      nextStep: values?.k ?? 0,
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    const g = v.coupledDecay ? op.add(grad, op.mul(param, s.weightDecay)) : grad;
    let expAvg = v.momentum ? slots.expAvg : undefined;
    let expAvgSq = slots.expAvgSq;
    let sum = slots.s;
    if (v.active) {
      if (expAvg) expAvg = op.add(op.mul(expAvg, s.beta1), op.mul(g, s.emaCoefficient));
      expAvgSq = op.add(op.mul(expAvgSq, s.beta2), op.mul(op.mul(g, g), s.squareCoefficient));
      sum = sumUpdate(op, slots.s, g, s);
    }
    const denom = op.add(op.sqrt(expAvgSq), s.denominatorEpsilon);
    const decayed = v.decoupledDecay ? op.add(param, op.mul(param, s.decayStep)) : param;
    const next = expAvg
      ? op.add(decayed, op.mul(op.div(expAvg, denom), s.stepSize))
      : op.add(decayed, op.mul(op.div(g, denom), s.stepSizeWithoutMomentum));
    return {
      param: next,
      slots: {
        s: sum,
        expAvgSq,
        ...(expAvg ? { expAvg } : {}),
        ...(v.first ? { p0: op.mul(param, 1) } : {}),
        d: s.nextD,
        dMax: s.nextDMax,
        dNumerator: s.nextDNumerator,
        dStep: s.nextStep,
      },
    };
  },
});

/** s ← β3·s + c·g (torch: s.mul_(beta3).add_(grad, alpha=c)). */
function sumUpdate(
  op: RuleOps,
  s: Value,
  g: Value,
  scalars: { beta3Value: Value; sCoefficient: Value },
): Value {
  return op.add(op.mul(s, scalars.beta3Value), op.mul(g, scalars.sCoefficient));
}

interface ReductionVariant {
  /** PyTorch's `maximize`: the sums see −g. */
  ascent: boolean;
  coupledDecay: boolean;
}

/** The gradient the sums see: −g when maximizing, plus coupled weight decay. */
function sumsGradient(
  op: RuleOps,
  param: Value,
  grad: Value,
  weightDecay: Value,
  v: ReductionVariant,
): Value {
  const ascent = v.ascent ? op.neg(grad) : grad;
  return v.coupledDecay ? op.add(ascent, op.mul(param, weightDecay)) : ascent;
}

/**
 * A step's sums for a variable with state, fused like the update: ⟨g, p0 − p⟩ and
 * ‖β3·s + c·g‖₁ (torch: `torch.dot(grad.flatten(), (p0 - p).flatten())` and `s.abs().sum()`).
 */
const reductionWithState = /* @__PURE__ */ defineRuleKernel<
  'p0' | 's' | 'dot' | 'l1',
  'beta3' | 'coefficient' | 'weightDecay',
  ReductionVariant
>({
  name: 'OptimkitProdigyReduction',
  slotLayouts: { dot: 'scalar', l1: 'scalar' },
  rule: ({ param, grad, slots, s, op, v }) => {
    const g = sumsGradient(op, param, grad, s.weightDecay, v);
    const dot = op.sum(op.mul(g, op.sub(slots.p0, param)));
    const l1 = op.sum(
      op.abs(sumUpdate(op, slots.s, g, { beta3Value: s.beta3, sCoefficient: s.coefficient })),
    );
    return { param, slots: { dot, l1 } };
  },
});

/** The first step's sum, before any state: ‖c·g‖₁ (⟨g, p0 − p⟩ is 0). */
const reductionFirstStep = /* @__PURE__ */ defineRuleKernel<
  'l1',
  'beta3' | 'coefficient' | 'weightDecay',
  ReductionVariant
>({
  name: 'OptimkitProdigyFirstReduction',
  slotLayouts: { l1: 'scalar' },
  rule: ({ param, grad, s, op, v }) => {
    const g = sumsGradient(op, param, grad, s.weightDecay, v);
    return { param, slots: { l1: op.sum(op.abs(op.mul(g, s.coefficient))) } };
  },
});

/** A variable of this step with the hyperparameters of its group. */
interface Entry {
  variable: tf.Variable;
  grad: tf.Tensor;
  h: Resolved<ProdigyDefaults>;
}

class ProdigyOptimizer extends Defined {
  private estimate: Estimate | null = null;
  /** PyTorch's `maximize`: the sums see −g, as the rule does. */
  private maximize = false;
  /**
   * Names of the state `setWeights` restored, in order, until a step binds it to variables (by
   * name, or by position onto renamed ones, as the base does): the step's sums read those slots.
   */
  private restoredNames: string[] | null = null;
  /** The hyperparameters of the step being applied, each carrying its group's {@link StepValues}. */
  private stepHyperparameters: Resolved<ProdigyDefaults>[] | null = null;
  private readonly groupSelectors: readonly { names: Set<string>; match?: (v: tf.Variable) => boolean }[];

  constructor(options: ProdigyOptions = {}) {
    super(options);
    // The gradient transforms in effect are those getConfig lists besides the hyperparameters.
    const config = this.getConfig();
    for (const key of Object.keys(config)) {
      if (key in defaults || key === 'paramGroups') continue;
      if (key === 'maximize') {
        this.maximize = config.maximize === true;
        continue;
      }
      throw new TypeError(
        `OptimkitProdigy does not take '${key}': its d estimate sums the gradients it is given before the update`,
      );
    }
    const groups = (options.paramGroups ?? []) as readonly ParamGroup<ProdigyDefaults>[];
    groups.forEach((group, i) => {
      for (const key of GLOBAL_KEYS) {
        if (group[key] !== undefined) {
          throw new TypeError(
            `paramGroups[${i}] of OptimkitProdigy sets '${key}', which Prodigy shares across all variables: set it at the top level`,
          );
        }
      }
    });
    this.groupSelectors = groups.map((g) => ({
      names: new Set((g.params ?? []).map((p) => (typeof p === 'string' ? p : p.name))),
      ...(g.match ? { match: g.match } : {}),
    }));
  }

  /** The current step-size estimate d. */
  get d(): number {
    return this.currentEstimate().d;
  }

  private currentEstimate(): Estimate {
    // d is kept in float32, as saved in the slots: a resumed optimizer continues bit for bit.
    const d0 = f32(super.hyperparametersAt(this.iterations)[0]!.d0);
    return this.estimate ?? { d: d0, dMax: d0, dNumerator: 0 };
  }

  override hyperparametersAt(step: number): Resolved<ProdigyDefaults>[] {
    // During a step: fresh objects carrying the step's values (the base caches step scalars by them).
    return this.stepHyperparameters ?? super.hyperparametersAt(step);
  }

  private groupIndexOf(variable: tf.Variable): number {
    return this.groupSelectors.findIndex((g) => g.names.has(variable.name) || (g.match?.(variable) ?? false));
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const listed: NamedTensor[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const all = super.hyperparametersAt(this.iterations);
    const top = all[0]!;
    const entries: Entry[] = [];
    for (const entry of listed) {
      const tensor = entry?.tensor;
      if (tensor == null) continue;
      const variable = tf.engine().registeredVariables[entry.name];
      const valid =
        variable !== undefined &&
        tensor instanceof tf.Tensor &&
        !tensor.isDisposed &&
        tensor.dtype === variable.dtype &&
        tensor.shape.join() === variable.shape.join();
      // The base names what is wrong with the gradients, before anything changes.
      if (!valid) {
        super.applyGradients(variableGradients);
        return;
      }
      entries.push({ variable, grad: tensor, h: all[this.groupIndexOf(variable) + 1]! });
    }
    const lr = Math.max(...all.map((h) => h.learningRate));
    for (const { variable, h } of entries) {
      if (h.learningRate !== lr && h.learningRate !== 0) {
        throw new RangeError(
          `OptimkitProdigy: '${variable.name}' has learning rate ${h.learningRate}; param groups may only ` +
            `set the learning rate of the others (${lr}) or 0`,
        );
      }
    }
    const estimate = this.currentEstimate();
    const k = this.iterations;
    const beta3 = top.beta3 ?? Math.sqrt(top.beta2);
    const biasCorrection = top.useBiasCorrection
      ? Math.sqrt(1 - top.beta2 ** (k + 1)) / (1 - top.beta1 ** (k + 1))
      : 1;
    const { d } = estimate;
    const dlr = d * lr * biasCorrection;
    const coefficient = (h: Resolved<ProdigyDefaults>) => (d / h.d0) * (h.safeguardWarmup ? d : dlr);
    const reduced = this.reductions(entries, this.slotSource(listed), beta3, coefficient);
    let deltaNumerator = 0;
    let dDenominator = 0;
    entries.forEach((entry, i) => {
      if (entry.h.learningRate > 0) {
        deltaNumerator += (d / entry.h.d0) * dlr * reduced[2 * i]!;
        dDenominator += reduced[2 * i + 1]!;
      }
    });
    // The reference returns without a step while no gradient has moved its sums (all zero).
    if (dDenominator === 0) return;
    let next = estimate;
    if (lr > 0) {
      const numerator = f32(estimate.dNumerator * beta3 + deltaNumerator);
      const dHat = (top.dCoef * numerator) / dDenominator;
      let dNew = d;
      if (d === f32(top.d0)) dNew = Math.max(d, dHat);
      const dMax = f32(Math.max(estimate.dMax, dHat));
      dNew = f32(Math.min(dMax, dNew * (top.growthRate ?? Number.POSITIVE_INFINITY)));
      next = { d: dNew, dMax, dNumerator: numerator };
    }
    const step = { d, dlr, dNext: next.d, estimate: next, k: k + 1 };
    this.stepHyperparameters = all.map((h) => ({ ...h, [STEP]: { ...step, sCoefficient: coefficient(h) } }));
    try {
      super.applyGradients(variableGradients);
      this.estimate = next;
      this.restoredNames = null;
    } finally {
      this.stepHyperparameters = null;
    }
  }

  /**
   * For each variable, ⟨g, p0 − p⟩ and ‖β3·s + c·g‖₁ (with g including coupled decay), read back
   * in one download: the sums the d estimate needs before any variable is updated.
   */
  private reductions(
    entries: readonly Entry[],
    slotsOf: (name: string) => Readonly<Record<string, tf.Tensor>> | undefined,
    beta3: number,
    coefficient: (h: Resolved<ProdigyDefaults>) => number,
  ) {
    if (entries.length === 0) return new Float64Array(0);
    const values = tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (const { variable, grad, h } of entries) {
        const slots = slotsOf(variable.name);
        const variant = { ascent: this.maximize, coupledDecay: h.weightDecay !== 0 && !h.decouple };
        const scalars = { beta3, coefficient: coefficient(h), weightDecay: h.weightDecay };
        // The sums are the rule's scalar outputs; the param comes back unchanged (written in place).
        const sums = { dot: tf.scalar(0), l1: tf.scalar(0) };
        if (slots) {
          const { slots: out } = reductionWithState.run({
            param: variable,
            grad,
            slots: { p0: slots.p0!, s: slots.s!, ...sums },
            scalars,
            variant,
            inPlace: true,
          });
          parts.push(out.dot ?? sums.dot, out.l1 ?? sums.l1);
        } else {
          const { slots: out } = reductionFirstStep.run({
            param: variable,
            grad,
            slots: { l1: sums.l1 },
            scalars,
            variant,
            inPlace: true,
          });
          parts.push(sums.dot, out.l1 ?? sums.l1);
        }
      }
      // A sentinel 1 first: a backend whose synchronous read is broken is caught, not trained on zeros.
      return tf.stack([tf.scalar(1), ...parts]);
    });
    let read: Float64Array;
    try {
      read = Float64Array.from(values.dataSync());
    } finally {
      values.dispose();
    }
    if (read[0] !== 1) {
      throw new Error(
        `OptimkitProdigy reads its d-estimate sums back synchronously each step, and the ${tf.getBackend()} ` +
          `backend returned ${read[0]} for a 1: its synchronous reads do not work here (use webgl, wasm or cpu)`,
      );
    }
    return read.subarray(1);
  }

  /** Where a variable's slots are before this step binds restored state (see {@link restoredNames}). */
  private slotSource(listed: readonly NamedTensor[]) {
    const restored = this.restoredNames;
    const names = listed.map((l) => l.name);
    if (!restored || restored.every((name) => names.includes(name)))
      return (name: string) => this.getSlots(name);
    const byPosition = new Map(names.map((name, i) => [name, restored[i]]));
    return (name: string) => {
      const saved = byPosition.get(name);
      return saved === undefined ? undefined : this.getSlots(saved);
    };
  }

  override async loadState(bytes: Uint8Array | ArrayBuffer): Promise<void> {
    await super.loadState(bytes);
    this.restoredNames = null;
    this.estimate = await this.restoreEstimate((name) => this.getSlots(name));
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const byName = new Map(weightValues.map((w) => [w.name, w.tensor]));
    const names = weightValues
      .filter((w) => w.name.endsWith('/dStep'))
      .map((w) => w.name.slice(0, -'/dStep'.length));
    const estimate = await this.readEstimate(
      names.map((name) => ({
        d: byName.get(`${name}/d`),
        dMax: byName.get(`${name}/dMax`),
        dNumerator: byName.get(`${name}/dNumerator`),
        dStep: byName.get(`${name}/dStep`),
      })),
    );
    await super.setWeights(weightValues);
    this.estimate = estimate;
    this.restoredNames = weightValues
      .filter((w) => w.name.endsWith('/optimkitState'))
      .map((w) => w.name.slice(0, -'/optimkitState'.length));
  }

  /** The estimate of the last step: the copy of the variable updated last (the largest dStep). */
  private restoreEstimate(slotsOf: (name: string) => Readonly<Record<string, tf.Tensor>> | undefined) {
    return this.readEstimate([...this.variableSteps().keys()].map((name) => slotsOf(name) ?? {}));
  }

  private async readEstimate(
    copies: readonly Readonly<Record<string, tf.Tensor | null | undefined>>[],
  ): Promise<Estimate | null> {
    let best: { step: number; estimate: Estimate } | null = null;
    for (const copy of copies) {
      const { d, dMax, dNumerator, dStep } = copy;
      if (!d || !dMax || !dNumerator || !dStep) continue;
      const step = (await dStep.data())[0]!;
      if (best && step <= best.step) continue;
      best = {
        step,
        estimate: {
          d: (await d.data())[0]!,
          dMax: (await dMax.data())[0]!,
          dNumerator: (await dNumerator.data())[0]!,
        },
      };
    }
    return best && best.step > 0 ? best.estimate : null;
  }
}

Object.defineProperty(ProdigyOptimizer, 'name', { value: 'OptimkitProdigy' });

/** Registers the class with the step pass in place of the defined one (same class name). */
function registered<T extends typeof ProdigyOptimizer>(cls: T): T {
  registerOptimizer(cls);
  return cls;
}

/** The Prodigy class (serialization name `OptimkitProdigy`). */
export const Prodigy = /* @__PURE__ */ registered(ProdigyOptimizer);

/**
 * Prodigy (Mishchenko and Defazio), as konstmish/prodigy's reference code: Adam whose learning
 * rate is d·`learningRate`, d estimated on the fly from how far the variables have moved from
 * where they started, so that `learningRate: 1` usually works.
 *
 * Each step first sums over every variable (of every param group) with a gradient, then updates
 * each variable with the new estimate. With `g` the gradient (plus `weightDecay·p` when
 * `decouple` is false), `k` the completed steps, `β3 = beta3 ?? √beta2`, `lr` the largest group
 * learning rate (groups may only use it or 0):
 * ```
 * dlr = d·lr·(useBiasCorrection ? √(1 − beta2^(k+1))/(1 − beta1^(k+1)) : 1)
 * c   = (d/d0)·(safeguardWarmup ? d : dlr)
 * r ← β3·r + Σ (d/d0)·dlr·⟨g, p0 − p⟩             (p0: the variable at its first step)
 * m ← beta1·m + d(1 − beta1)·g;  v ← beta2·v + d²(1 − beta2)·g²;  s ← β3·s + c·g
 * d̂ = dCoef·r / Σ‖s‖₁;  d ← max(d, d̂) while d = d0;  d_max ← max(d_max, d̂);  d ← min(d_max, d·growthRate)
 * p ← p − weightDecay·dlr·p                        (decouple)
 * p ← p − dlr·m/(√v + d·epsilon)                   (beta1 = 0: p ← p − dlr·d·g/(√v + d·epsilon))
 * ```
 * (dlr, the moments and s use d before its update; the denominator uses the new d.) When every
 * gradient is zero from the start (Σ‖s‖₁ = 0) nothing happens, as in the reference.
 *
 * Defaults are the reference's: learningRate 1, betas (0.9, 0.999), beta3 √beta2, epsilon 1e-8,
 * weightDecay 0, decouple true, useBiasCorrection false, safeguardWarmup false, d0 1e-6, dCoef 1,
 * growthRate unbounded (`null`). `beta1`, `beta2`, `beta3`, `decouple`, `useBiasCorrection`,
 * `dCoef` and `growthRate` are the optimizer's (the reference reads them from its first group);
 * param groups may set `learningRate` (the others' or 0), `weightDecay`, `epsilon`, `d0` and
 * `safeguardWarmup`. Gradient transforms (clipping, accumulation, non-finite skipping) are
 * refused: the d estimate must see the gradients the update uses; `maximize` is taken.
 *
 * Paper: Konstantin Mishchenko, Aaron Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free
 * Learner", ICML 2024, arXiv:2306.06101. Code: konstmish/prodigy `prodigyopt/prodigy.py`.
 *
 * @example
 * ```ts
 * import { prodigy } from '@optimkit/prodigy';
 * const optimizer = prodigy({ weightDecay: 0.01, safeguardWarmup: true, useBiasCorrection: true });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 5 });
 * console.log('estimated step size', optimizer.d);
 * ```
 */
export function prodigy(options: ProdigyOptions = {}): Prodigy {
  return new Prodigy(options);
}
