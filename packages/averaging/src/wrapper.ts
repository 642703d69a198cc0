/**
 * What lookahead, ema and swa share (not exported by the package): a definition derived from the
 * inner optimizer's, whose slots are the inner's plus the second copy of the weights and a mode
 * flag, and whose rule (or `update`) runs the inner's and then averages; and the class around it,
 * registered once per wrapper, with the swap between the training and the averaged weights.
 */
import {
  type Defaults,
  getRegisteredOptimizer,
  type NamedTensor,
  type OptimizerClass,
  type OptimizerDefinition,
  type OptimizerOptions,
  OptimkitOptimizer,
  type Resolved,
  type RuleOps,
  registerOptimizer,
  type SlotSpec,
  type UpdateContext,
  type Value,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

/** The arithmetic of an averaging, over rule values (fused path) or tensors (`update` path). */
export interface Arithmetic<T> {
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T | number): T;
  div(a: T, b: T | number): T;
}

/** One wrapper's part: its options, its flags and scalars per step, and its averaging. */
export interface AveragingKind<W extends Defaults, F extends Record<string, boolean>, S extends string> {
  /** Serialization name of the wrapper class. */
  className: string;
  /** The factory's name, in messages. */
  factory: string;
  /** The slot holding the second copy of the weights. */
  slot: string;
  defaults: W;
  /** Options that must be constants (counts of steps): a schedule is refused. */
  constants: readonly (keyof W & string)[];
  validate(h: Resolved<W>): void;
  /** Structural flags of a variable's `step`-th update (1 on the first). */
  flags(h: Resolved<W>, step: number): F;
  /** Float64 scalars of a variable's `step`-th update. */
  scalars(h: Resolved<W>, step: number): Record<S, number>;
  /**
   * The new weights and copy from the weights after the inner step (`after`) and the copy
   * (`copy`: on a variable's first update, its value before the step).
   */
  combine<T>(
    ar: Arithmetic<T>,
    values: { after: T; copy: T },
    s: Readonly<Record<S | keyof W, T | number>>,
    f: F,
  ): { param: T; copy: T };
}

/** The scalar slot that says which weights the variable holds: 0 the training ones, 1 the copy. */
export const MODE_SLOT = 'averageInUse';
const FIRST_FLAG = 'averagingFirst';

// biome-ignore lint/suspicious/noExplicitAny: a definition of any slot, scalar and variant names
type AnyDefinition = OptimizerDefinition<Defaults, any, any, any>;

const ruleArithmetic = (op: RuleOps): Arithmetic<Value> => ({
  add: (a, b) => op.add(a, b),
  sub: (a, b) => op.sub(a, b),
  mul: (a, b) => op.mul(a, b),
  div: (a, b) => op.div(a, b),
});

const tensorArithmetic: Arithmetic<tf.Tensor> = {
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
};

/** The classNames of the wrappers, which cannot be wrapped again. */
const wrapperClassNames = new Set<string>();

const derivedDefinitions = new WeakMap<object, Map<string, AnyDefinition>>();

/**
 * The wrapped definition of `inner`: its hyperparameters plus the wrapper's and `inner` (the
 * inner's className), its slots plus the copy and the mode, its rule (or update) followed by the
 * averaging. Cached, so that each inner definition's rule is traced once per wrapper.
 */
function derive<W extends Defaults, F extends Record<string, boolean>, S extends string>(
  kind: AveragingKind<W, F, S>,
  inner: AnyDefinition,
): AnyDefinition {
  let byKind = derivedDefinitions.get(inner);
  const known = byKind?.get(kind.className);
  if (known) return known;
  for (const key of [...Object.keys(kind.defaults), 'inner']) {
    if (Object.hasOwn(inner.defaults, key)) {
      throw new TypeError(
        `${kind.factory}: ${inner.className} has an option '${key}' of its own, which ${kind.className} uses`,
      );
    }
  }
  const innerSlots = inner.slots;
  const slots = (shape: readonly number[], h: Resolved<Defaults>): SlotSpec => {
    const own = (typeof innerSlots === 'function' ? innerSlots(shape, h) : innerSlots) ?? {};
    for (const name of [kind.slot, MODE_SLOT]) {
      if (Object.hasOwn(own, name)) {
        throw new TypeError(
          `${kind.factory}: ${inner.className} has a slot '${name}' of its own, which ${kind.className} uses`,
        );
      }
    }
    return { ...own, [kind.slot]: 0, [MODE_SLOT]: { layout: 'scalar', value: 0 } };
  };
  const hyper = (h: Resolved<Defaults>) => h as Resolved<W>;
  const definition: AnyDefinition = {
    className: kind.className,
    packageName,
    packageVersion,
    defaults: { inner: inner.className, ...inner.defaults, ...kind.defaults },
    validate: (h) => {
      inner.validate?.(h);
      kind.validate(hyper(h));
    },
    slots,
    conditionalSlots: inner.conditionalSlots,
    nonNegativeSlots: inner.nonNegativeSlots,
    epsilons: inner.epsilons,
  };
  const innerRule = inner.rule;
  const innerUpdate = inner.update;
  if (innerRule) {
    definition.variant = (h, step, shape) => ({
      ...inner.variant?.(h, step, shape),
      [FIRST_FLAG]: step === 1,
      ...kind.flags(hyper(h), step),
    });
    definition.scalars = (h, step, variant) => ({
      ...inner.scalars?.(h, step, variant),
      ...kind.scalars(hyper(h), step),
    });
    definition.rule = (context) => {
      const { param, slots: current, s, op, v } = context;
      const result = innerRule(context);
      const flags = v as unknown as F & Record<typeof FIRST_FLAG, boolean>;
      const copy = flags[FIRST_FLAG] ? param : (current as Record<string, Value>)[kind.slot]!;
      const out = kind.combine(
        ruleArithmetic(op),
        { after: result.param, copy },
        s as unknown as Record<S | keyof W, Value>,
        flags,
      );
      return { param: out.param, slots: { ...result.slots, [kind.slot]: out.copy } };
    };
  } else if (innerUpdate) {
    definition.update = (context: UpdateContext<Defaults>) => {
      const { param, slots: current, h, step } = context;
      const result = innerUpdate(context);
      const copy = step === 1 ? param : current[kind.slot]!;
      const s = { ...h, ...kind.scalars(hyper(h), step) } as Record<S | keyof W, number>;
      const out = kind.combine(
        tensorArithmetic,
        { after: result.param, copy },
        s,
        kind.flags(hyper(h), step),
      );
      return { param: out.param, slots: { ...result.slots, [kind.slot]: out.copy } };
    };
  }
  if (!byKind) {
    byKind = new Map();
    derivedDefinitions.set(inner, byKind);
  }
  byKind.set(kind.className, definition);
  return definition;
}

/** The inner definition a wrapper's `inner` option names, from the registry. */
function innerDefinition(kind: { className: string; factory: string }, name: unknown): AnyDefinition {
  if (typeof name !== 'string') {
    throw new TypeError(
      `Option 'inner' of ${kind.className} must be the className of a registered optimkit optimizer`,
    );
  }
  if (wrapperClassNames.has(name)) {
    throw new TypeError(`${kind.factory} cannot wrap ${name}: wrap the optimizer ${name} wraps instead`);
  }
  const cls = getRegisteredOptimizer(name) as { definition?: AnyDefinition } | undefined;
  const definition = cls?.definition;
  if (!definition || (definition.rule === undefined && definition.update === undefined)) {
    throw new TypeError(
      `${kind.className}: the inner optimizer '${name}' is not registered (import its package first)`,
    );
  }
  return definition;
}

/**
 * What a wrapper adds to an optimkit optimizer: the swap between the training weights (where
 * gradients are taken and steps are made) and the second copy (slow or averaged weights).
 */
export interface AverageSwap {
  /**
   * Puts the second copy (the slow or averaged weights) into every variable the optimizer has
   * state for, and the training weights into the copy: values are exchanged, nothing is copied.
   * Steps throw until {@link AverageSwap.useTraining}. A no-op when already in use. State restored
   * by `setWeights` (tfjs-layers) is bound first, to `variables` when given (a model loaded twice
   * in one process has renamed variables: pass them in tfjs-layers' order), else by its saved names.
   */
  useAverage(variables?: readonly (tf.Variable | string)[]): void;
  /** Swaps the training weights back into the variables and allows steps again; a no-op in training mode. */
  useTraining(variables?: readonly (tf.Variable | string)[]): void;
  /** Whether the variables hold the second copy (after {@link AverageSwap.useAverage}). */
  readonly usingAverage: boolean;
}

/** An instance of a wrapper class. */
export type AveragingOptimizer = OptimkitOptimizer<Defaults> & AverageSwap;

/** A wrapper class: built from options naming the inner optimizer's className in `inner`. */
export interface AveragingClass {
  new (options: Record<string, unknown>): AveragingOptimizer;
  readonly className: string;
  readonly packageName: string;
  readonly definition: object;
}

/** The wrapper class of a kind: registered once, under the kind's className. */
export function defineAveraging<W extends Defaults, F extends Record<string, boolean>, S extends string>(
  kind: AveragingKind<W, F, S>,
): AveragingClass {
  wrapperClassNames.add(kind.className);
  const placeholder = { className: kind.className, packageName, packageVersion, defaults: kind.defaults };
  class Averaging extends OptimkitOptimizer<Defaults> implements AverageSwap {
    static readonly definition = placeholder;
    static get className(): string {
      return kind.className;
    }
    static get packageName(): string {
      return packageName;
    }

    private inUse = false;

    constructor(options: Record<string, unknown>) {
      const given = options !== null && typeof options === 'object' ? options : {};
      super(derive(kind, innerDefinition(kind, given.inner)), options as OptimizerOptions<Defaults>);
      const groups = Array.isArray(given.paramGroups) ? (given.paramGroups as Record<string, unknown>[]) : [];
      for (const [where, source] of [
        ['options', given],
        ...groups.map((g, i) => [`paramGroups[${i}]`, g] as const),
      ] as const) {
        for (const key of kind.constants) {
          if (typeof source[key] === 'function') {
            throw new TypeError(
              `Option '${key}' in ${where} of ${kind.className} must be a number, not a schedule`,
            );
          }
        }
      }
    }

    get usingAverage(): boolean {
      return this.inUse;
    }

    useAverage(variables?: readonly (tf.Variable | string)[]): void {
      if (!this.inUse) this.swap(true, variables);
    }

    useTraining(variables?: readonly (tf.Variable | string)[]): void {
      if (this.inUse) this.swap(false, variables);
    }

    private swap(toAverage: boolean, variables?: readonly (tf.Variable | string)[]): void {
      const names = variables?.map((v) => (typeof v === 'string' ? v : v.name)) ?? [
        ...this.variableSteps().keys(),
      ];
      this.bindRestoredState(names);
      const work: { variable: tf.Variable; copy: tf.Variable; mode: tf.Variable }[] = [];
      for (const name of this.variableSteps().keys()) {
        const variable = tf.engine().registeredVariables[name];
        const slots = this.getSlots(name);
        if (!variable || !slots) {
          throw new Error(
            `${kind.className}: no variable named '${name}' is registered for its state ` +
              '(restored by setWeights and not bound yet?): pass the variables, in tfjs-layers’ order, to bind it',
          );
        }
        work.push({ variable, copy: slots[kind.slot] as tf.Variable, mode: slots[MODE_SLOT] as tf.Variable });
      }
      tf.tidy(() => {
        const flag = tf.scalar(toAverage ? 1 : 0);
        for (const { variable, copy, mode } of work) {
          // A clone shares the variable's buffer: the exchange moves buffers, it copies no values.
          const training = tf.clone(variable);
          variable.assign(copy);
          copy.assign(training);
          mode.assign(flag);
        }
      });
      this.inUse = toAverage;
    }

    override applyGradients(
      variableGradients: tf.NamedTensorMap | NamedTensor[] | ReadonlyMap<string, tf.Tensor | null>,
    ): void {
      if (this.inUse) {
        throw new Error(
          `${kind.className}: the variables hold the ${kind.slot} (useAverage()); call useTraining() before stepping`,
        );
      }
      super.applyGradients(variableGradients);
    }

    override async loadState(bytes: Uint8Array | ArrayBuffer): Promise<void> {
      await super.loadState(bytes);
      const modes = [...this.variableSteps().keys()].map((name) => this.getSlots(name)?.[MODE_SLOT]);
      this.inUse = await anyInUse(modes);
    }

    override async setWeights(weightValues: NamedTensor[]): Promise<void> {
      const modes = weightValues.filter((w) => w.name.endsWith(`/${MODE_SLOT}`)).map((w) => w.tensor);
      const inUse = await anyInUse(modes);
      await super.setWeights(weightValues);
      this.inUse = inUse;
    }

    override dispose(): void {
      super.dispose();
      this.inUse = false;
    }
  }
  Object.defineProperty(Averaging, 'name', { value: kind.className });
  registerOptimizer(Averaging as unknown as OptimizerClass);
  return Averaging;
}

/** Whether any variable holds the copy (all do, or none: the swap moves every variable). */
async function anyInUse(modes: readonly (tf.Tensor | null | undefined)[]): Promise<boolean> {
  for (const mode of modes) if (mode && (await mode.data())[0]! > 0.5) return true;
  return false;
}

/**
 * The options of a wrapper around a fresh optimkit optimizer: the inner's className and the
 * options it was constructed with, plus the wrapper's own.
 */
export function wrapOptions(
  factory: string,
  inner: unknown,
  options: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (!(inner instanceof OptimkitOptimizer)) {
    throw new TypeError(`${factory}: the inner optimizer must be an optimkit optimizer (adamw(), sgd(), …)`);
  }
  if (inner.iterations > 0 || inner.variableSteps().size > 0) {
    throw new Error(
      `${factory}: the inner optimizer must be fresh, but it has taken ${inner.iterations} steps and holds state ` +
        `for ${inner.variableSteps().size} variables: wrap a new instance`,
    );
  }
  if (options === null || typeof options !== 'object')
    throw new TypeError(`options of ${factory} must be an object`);
  for (const key of ['inner', 'paramGroups']) {
    if (Object.hasOwn(options, key)) {
      throw new TypeError(`Option '${key}' of ${factory} comes from the inner optimizer: give it there`);
    }
  }
  return { ...inner.constructorOptions, ...options, inner: inner.getClassName() };
}
