import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelsActive } from './fused.js';
import {
  allFinite,
  checkTransforms,
  GradientAccumulator,
  globalNormScale,
  TRANSFORM_KEYS,
  type Transforms,
  transformGradient,
} from './gradient-transforms.js';
import {
  checkHyperparameters,
  checkPlainObject,
  configToOptions,
  hasSchedule,
  isPlainObject,
  type NormalizedGroup,
  normalizeGroup,
  resolveHyperparameters,
  serializeHyperparameter,
} from './hyperparameters.js';
import { bindRestored, exportWeights, importWeights } from './layers-weights.js';
import {
  decodeOptimizerState,
  encodeSnapshot,
  type QuantizedSlotRules,
  type RestoreChecks,
  type RestoredVariable,
  snapshotState,
} from './optimizer-state.js';
import {
  ABSMAX_SUFFIX,
  CODES_SUFFIX,
  checkQuantizedBackend,
  dequantize,
  packingOf,
  type QuantizedMap,
  quantize,
  quantizedSizes,
} from './quantized-state.js';
import { isOptimizerInstance, OPTIMIZER_BRAND, type OptimizerClass, registerOptimizer } from './registry.js';
import { FUSED_RULE_BACKENDS, type FusedRuleBackend, type FusedRuleRun } from './rule/backends.js';
import { runComposite } from './rule/composite.js';
import { type Layout, RuleError, slotLayout } from './rule/graph.js';
import { CompiledRule, type Rule, type RuleParts, type RulePlan } from './rule/rule.js';
import { StateFormatError } from './state-format.js';
import type {
  Defaults,
  NamedTensor,
  OptimizerOptions,
  Resolved,
  Schedule,
  SlotInit,
  SlotSpec,
  UpdateContext,
  UpdateResult,
} from './types.js';
import {
  createSlot,
  createSlots,
  declaredSlots,
  disposeStates,
  registeredVariable,
  repackQuantized,
  type StoredInit,
  sameShape,
  shapeString,
  slotInitLayout,
  slotShape,
  storedDtype,
  storedSlots,
  type VariableState,
} from './variable-state.js';

/**
 * Everything a concrete optimizer provides; the base class does the rest of the contract.
 * `K` are its slot names, `S` the names of the step scalars its `scalars` computes, `V` what its
 * `variant` returns.
 */
export interface OptimizerDefinition<
  D extends Defaults,
  K extends string = string,
  S extends string = never,
  V extends object = object,
> {
  /** Serialization name: unique, letters and digits only, not one of tfjs's own. */
  className: string;
  /** The npm package that defines it (named in errors when the class is not imported). */
  packageName: string;
  /** The package's version, recorded in saved states. */
  packageVersion: string;
  /** Every hyperparameter with its default; booleans are flags, `null` an optional number. */
  defaults: D;
  /** Throws a `RangeError` naming the option and value for invalid hyperparameters. */
  validate?: (h: Resolved<D>) => void;
  /**
   * The slots of one variable, created lazily on its first gradient. When they depend on the
   * hyperparameters (a momentum buffer only while momentum ≠ 0), a slot the spec adds later (a
   * scheduled momentum rising from 0) is created, at its initial value, on the step that first
   * calls for it; slots are never dropped.
   */
  slots?: SlotSpec<K> | ((shape: readonly number[], h: Resolved<D>) => SlotSpec<K>);
  /**
   * Slots that a `slots` function declares only for some values of a hyperparameter that can be
   * scheduled (a momentum buffer while momentum ≠ 0): restored state may lack one (it is created
   * when a step calls for it) or hold one the current values do not call for (a buffer kept after
   * a schedule reached 0). Every other slot must be exactly as the spec declares it, and only
   * these are created after a variable's first step.
   */
  conditionalSlots?: readonly string[];
  /**
   * Slots that only ever hold values ≥ 0 (second moments, sums of squares): restored state with a
   * negative value in one is refused, as NaN and ±Inf are in every slot.
   */
  nonNegativeSlots?: readonly string[];
  /**
   * The per-variable update rule, written once against the rule vocabulary (`op`): core traces it
   * once per variant and derives from it the composite tfjs-ops path and the fused kernels. It
   * receives the variable, its gradient, its slots by name, the scalars `s` (every numeric
   * hyperparameter and what {@link OptimizerDefinition.scalars} returns) and the flags `v` (the
   * boolean hyperparameters and what {@link OptimizerDefinition.variant} returns). Give `rule` or
   * `update`, not both.
   */
  rule?: Rule<D, K, S, V>;
  /**
   * Plain values the rule branches on besides the boolean hyperparameters (weight decay on or off,
   * the first step, a variable's rank…), for a variable at its `step`-th update (1 on the first).
   * Each distinct result is traced once and cached: keep it to a few values.
   */
  variant?: (h: Resolved<D>, step: number, shape: readonly number[]) => V;
  /**
   * Step-dependent scalars (bias corrections, relative step sizes), computed in float64 from the
   * variable's update count `step` (1 on the first) once per step and group, and rounded to float32
   * where the rule uses them, as a number passed to a tfjs op is.
   */
  scalars?: (h: Resolved<D>, step: number, variant: RuleVariantOf<D, V>) => Record<S, number>;
  /**
   * Hyperparameters that keep a division or a root finite (an epsilon). On a backend whose floats
   * have 16 bits (WebGL without float32 textures), where a value below float16's range becomes 0,
   * each is raised to at least 1e-4 (tfjs's `epsilon()` for 16-bit floats, as `tf.train` does for its own
   * defaults), with one warning that names it, its value and the value used.
   */
  epsilons?: readonly (keyof D & string)[];
  /**
   * The per-variable update as tfjs ops, run inside the base class's `tidy`: the escape hatch for an
   * update the rule vocabulary cannot express. It has no fused path. Give `rule` or `update`.
   */
  update?: (context: UpdateContext<D>) => UpdateResult;
}

/** The flags a definition's `variant` and boolean hyperparameters give its rule. */
type RuleVariantOf<D extends Defaults, V> = Parameters<Rule<D, string, string, V>>[0]['v'];

/** tfjs's epsilon for 16-bit floats (`backend.epsilon()` on such a backend). */
const FLOAT16_EPSILON = 1e-4;

/**
 * Whether the backend stores floats in 16 bits: WebGL without float32 render targets (or forced
 * to half-float textures). tfjs's own `floatPrecision()` answers 16 on WebGL even when float32
 * textures are used, so it is asked only of the other backends.
 */
function sixteenBitFloats(backend: tf.KernelBackend): boolean {
  if (tf.getBackend() === 'webgl') {
    return tf.env().getBool('WEBGL_FORCE_F16_TEXTURES') || !tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  }
  return backend.floatPrecision() === 16;
}

/** One variable of a step, with everything its update needs. */
interface Prepared<D extends Defaults> {
  variable: tf.Variable;
  grad: tf.Tensor;
  state: VariableState;
  h: Resolved<D>;
  step: number;
  plan: RulePlan | null;
  scalars: Readonly<Record<string, number>> | null;
}

/** Variables up to this size share a fused kernel call with others of the same rule and scalars. */
const BATCH_VARIABLE_SIZE = 1 << 16;
/** Elements of one batched call at most (its fresh outputs and gradients live at the same time). */
const BATCH_TOTAL_SIZE = 1 << 20;

/**
 * The step's variables in calls: one variable per call, or (when the backend batches) small
 * variables that share a traced rule and step scalars together, as PyTorch's foreach kernels do.
 */
function batches<D extends Defaults>(prepared: readonly Prepared<D>[], batching: boolean): Prepared<D>[][] {
  if (!batching) return prepared.map((p) => [p]);
  const out: Prepared<D>[][] = [];
  const open = new Map<object, Map<object, { batch: Prepared<D>[]; size: number }>>();
  for (const p of prepared) {
    const size = p.variable.size;
    if (!p.plan || !p.scalars || size > BATCH_VARIABLE_SIZE) {
      out.push([p]);
      continue;
    }
    let byScalars = open.get(p.plan.graph);
    if (!byScalars) {
      byScalars = new Map();
      open.set(p.plan.graph, byScalars);
    }
    let current = byScalars.get(p.scalars);
    if (!current || current.size + size > BATCH_TOTAL_SIZE) {
      current = { batch: [], size: 0 };
      byScalars.set(p.scalars, current);
      out.push(current.batch);
    }
    current.batch.push(p);
    current.size += size;
  }
  return out;
}

/**
 * The base of every optimkit optimizer: a `tf.Optimizer` that keeps its state per variable name,
 * supports param groups and scheduled hyperparameters, saves and loads its state as versioned
 * bytes, and round-trips through tfjs-layers' `model.save(…, {includeOptimizer: true})`.
 *
 * Concrete optimizers are made with {@link defineOptimizer}.
 */
export class OptimkitOptimizer<D extends Defaults = Defaults> extends tf.Optimizer {
  /** The definition this optimizer runs. */
  readonly definition: AnyDefinition<D>;
  private readonly rule: CompiledRule<D> | null;
  private readonly options: Readonly<Record<string, unknown>>;
  private readonly given: Readonly<Record<string, unknown>>;
  private readonly groups: readonly NormalizedGroup[];
  private readonly scheduled: boolean;
  private readonly transforms: Transforms;
  private states = new Map<string, VariableState>();
  /** Gradient sums of the current accumulation window (`accumulateSteps`). */
  private readonly accumulator = new GradientAccumulator();
  private skipped = 0;
  private resolvedCache: { step: number; values: Resolved<D>[] } | null = null;
  private weightsCache: tf.Tensor[] = [];

  /**
   * `tf.Optimizer` answers `instanceof` by duck typing (any object with `minimize` and
   * `applyGradients`, `tf.train`'s included); optimkit classes answer by the prototype chain, so
   * `x instanceof AdamW` means what it says, and by a shared brand for an optimizer made by
   * another copy of core (ESM and CommonJS both loaded): see `isOptimizerInstance` in the registry module.
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class being asked (AdamW, SGD, …)
    return isOptimizerInstance(this, OptimkitOptimizer, instance);
  }

  /** The brand `instanceof` recognises across copies of core. */
  get [OPTIMIZER_BRAND](): true {
    return true;
  }

  constructor(definition: AnyDefinition<D>, options: OptimizerOptions<D> = {}) {
    super();
    this.definition = definition;
    this.rule = compiledRuleOf(definition);
    const { className, defaults } = definition;
    const given = checkPlainObject(options, `options of ${className}`);
    this.given = { ...options };
    const paramGroups = given.paramGroups ?? [];
    if (!Array.isArray(paramGroups)) throw new TypeError(`paramGroups of ${className} must be an array`);
    this.options = {
      ...defaults,
      ...checkHyperparameters(className, defaults, given, 'options', ['paramGroups', ...TRANSFORM_KEYS]),
    };
    this.transforms = checkTransforms(className, given);
    this.groups = paramGroups.map((g, i) => normalizeGroup(className, defaults, g, i));
    this.scheduled = hasSchedule(this.options) || this.groups.some((g) => hasSchedule(g.overrides));
    this.hyperparametersAt(0);
  }

  /**
   * The options this optimizer was constructed with, as given (schedules and param groups
   * included): what a wrapper (`lookahead(adamw({…}))`) needs to build its own optimizer from a
   * fresh instance.
   */
  get constructorOptions(): Readonly<Record<string, unknown>> {
    return this.given;
  }

  /** The registered class name, used by tfjs serialization and the state format. */
  override getClassName(): string {
    return this.definition.className;
  }

  /**
   * The hyperparameters in effect at `step` (completed steps), for the top-level options
   * (index 0) and each param group (index i + 1), with schedules evaluated and validated.
   */
  hyperparametersAt(step: number): Resolved<D>[] {
    if (this.resolvedCache && (!this.scheduled || this.resolvedCache.step === step)) {
      return this.resolvedCache.values;
    }
    const { className, defaults, validate, epsilons } = this.definition;
    const values = [this.options, ...this.groups.map((g) => ({ ...this.options, ...g.overrides }))].map(
      (raw) => resolveHyperparameters(className, defaults, raw, step, validate, epsilons),
    );
    this.resolvedCache = { step, values };
    return values;
  }

  private groupOf(variable: tf.Variable): number {
    return this.groups.findIndex((g) => g.names.has(variable.name) || (g.match?.(variable) ?? false));
  }

  private slotSpec(shape: readonly number[], h: Resolved<D>): SlotSpec {
    const { slots } = this.definition;
    return (typeof slots === 'function' ? slots(shape, h) : slots) ?? {};
  }

  /**
   * Throws a `StateFormatError` unless restored slots are those this optimizer keeps for the
   * variable after `iterations` steps: the slots its spec declares at the last and the next step,
   * with their shapes. A slot listed in `conditionalSlots` may also be absent (it is created on the
   * step that calls for it, as for live state) or present while the spec does not call for it (a
   * buffer kept after a schedule reached 0), unless the variable took part in every step.
   * A quantised slot's codes may be packed either way (four or three per int32).
   */
  private checkSlots(variable: RestoredVariable, iterations: number): QuantizedSlotRules {
    const { className, conditionalSlots } = this.definition;
    const { name, shape, group, step, slots } = variable;
    const rules = new Map<string, 'absmax' | 'threeCodesPerWord'>();
    const { blocks } = quantizedSizes(shape.reduce((a, b) => a * b, 1));
    const specAt = (t: number) => {
      const spec = this.slotSpec(shape, this.hyperparametersAt(t)[group + 1]!);
      for (const [slot, init] of declaredSlots(spec)) {
        if (typeof init !== 'number' && 'quantized' in init) {
          rules.set(`${slot}${ABSMAX_SUFFIX}`, 'absmax');
          const codes = slots.get(`${slot}${CODES_SUFFIX}`);
          if (codes?.length === 1 && packingOf(codes[0]!, blocks) === 3)
            rules.set(`${slot}${CODES_SUFFIX}`, 'threeCodesPerWord');
        }
      }
      return [...storedSlots(spec, shape, 4), ...storedSlots(spec, shape, 3)];
    };
    const specs = iterations > 0 ? [specAt(iterations - 1), specAt(iterations)] : [specAt(0)];
    const declared = new Map<string, StoredInit[]>();
    for (const spec of specs)
      for (const [n, init] of spec) declared.set(n, [...(declared.get(n) ?? []), init]);
    const conditional = new Set<string>(conditionalSlots ?? []);
    for (const [slot, got] of slots) {
      const inits = declared.get(slot);
      if (inits === undefined) {
        if (conditional.has(slot) && slotLayout(shape, got) !== undefined) continue;
        throw new StateFormatError(
          `Optimizer state of '${name}' has slots [${[...slots.keys()].join(', ')}], ` +
            `but ${className} with these options keeps [${[...declared.keys()].join(', ')}]`,
        );
      }
      const init = inits.find((i) => sameShape(slotShape(i, shape), got));
      if (init === undefined) {
        throw new StateFormatError(
          `Optimizer state slot '${slot}' of '${name}' has shape ${shapeString(got)}, ` +
            `expected ${shapeString(slotShape(inits[0]!, shape))}`,
        );
      }
      const dtype = variable.dtypes?.get(slot) ?? 'float32';
      if (dtype !== storedDtype(init)) {
        throw new StateFormatError(
          `Optimizer state slot '${slot}' of '${name}' is not ${storedDtype(init)} (it is ${dtype}), as ${className} keeps it`,
        );
      }
    }
    // A variable updated by every step so far has every slot of the last step's spec.
    const everyStep = step === iterations && iterations > 0;
    const missing = [...declared.keys()].filter(
      (n) => !slots.has(n) && (!conditional.has(n) || (everyStep && specs[0]!.some(([m]) => m === n))),
    );
    if (missing.length > 0) {
      throw new StateFormatError(
        `Optimizer state of '${name}' has slots [${[...slots.keys()].join(', ')}], ` +
          `but ${className} with these options keeps [${[...declared.keys()].join(', ')}]`,
      );
    }
    return rules;
  }

  /** What restored state (`loadState`, `setWeights`) is checked against. */
  private restoreChecks(): RestoreChecks {
    return {
      className: this.definition.className,
      groupCount: this.groups.length,
      checkSlots: (variable, iterations) => this.checkSlots(variable, iterations),
      nonNegativeSlots: new Set(this.definition.nonNegativeSlots ?? []),
    };
  }

  private readGradients(
    grads: tf.NamedTensorMap | NamedTensor[] | ReadonlyMap<string, tf.Tensor | null>,
  ): NamedTensor[] {
    if (grads instanceof Map) {
      return [...grads].map(([name, tensor]) => {
        if (typeof name !== 'string')
          throw new TypeError('applyGradients: a Map of gradients needs string keys');
        return { name, tensor };
      });
    }
    if (Array.isArray(grads)) {
      const seen = new Set<string>();
      for (const entry of grads) {
        if (!entry || typeof entry.name !== 'string') {
          throw new TypeError('applyGradients: every entry needs a variable name');
        }
        if (seen.has(entry.name)) throw new Error(`applyGradients: variable '${entry.name}' is given twice`);
        seen.add(entry.name);
      }
      return grads;
    }
    if (!isPlainObject(grads)) {
      throw new TypeError(
        'applyGradients takes a name→tensor object, a Map or a NamedTensor[]' +
          (grads instanceof tf.Tensor ? ', not a single tensor' : ''),
      );
    }
    return Object.keys(grads).map((name) => ({ name, tensor: (grads as tf.NamedTensorMap)[name] }));
  }

  private checkGradient(name: string, grad: tf.Tensor): tf.Variable {
    const variable = registeredVariable(name);
    if (!variable) throw new Error(`applyGradients: no variable named '${name}' is registered`);
    if (!(grad instanceof tf.Tensor) || grad.isDisposed) {
      throw new TypeError(`applyGradients: the gradient of '${name}' is not a live tensor`);
    }
    if (variable.dtype !== 'float32') {
      throw new TypeError(
        `applyGradients: variable '${name}' has dtype ${variable.dtype}; only float32 is trained`,
      );
    }
    if (grad.dtype !== variable.dtype) {
      throw new TypeError(
        `applyGradients: the gradient of '${name}' has dtype ${grad.dtype}, the variable ${variable.dtype}`,
      );
    }
    if (!sameShape(grad.shape, variable.shape)) {
      throw new RangeError(
        `applyGradients: the gradient of '${name}' has shape ${shapeString(grad.shape)}, ` +
          `the variable ${shapeString(variable.shape)}`,
      );
    }
    return variable;
  }

  /**
   * Binds state restored by `setWeights` to the variables named (by name, or by position as tfjs-layers
   * passes them): subclasses that touch the variables outside a step bind first.
   */
  protected bindRestoredState(names: readonly string[]): void {
    const next = bindRestored(this.states, names, (variable) => this.checkSlots(variable, this.iterations));
    if (next) this.states = next;
  }

  private createState(
    variable: tf.Variable,
    hyperparameters: Resolved<D>[],
    states: Map<string, VariableState>,
  ): VariableState {
    const group = this.groupOf(variable);
    let spec: SlotSpec;
    try {
      spec = this.slotSpec(variable.shape, hyperparameters[group + 1]!);
    } catch (error) {
      // A definition that refuses a variable (Muon: 2-D only) does not know its name: say it here.
      if (error instanceof Error)
        error.message += ` (variable '${variable.name}', shape ${shapeString(variable.shape)})`;
      throw error;
    }
    if (
      !this.rule &&
      declaredSlots(spec).some(([, init]) => typeof init !== 'number' && 'quantized' in init)
    ) {
      throw new TypeError(`${this.definition.className}: quantized slots need a rule-based definition`);
    }
    const slots = createSlots(spec, variable.shape);
    const state = { name: variable.name, variable, shape: [...variable.shape], group, step: 0, slots };
    states.set(variable.name, state);
    return state;
  }

  /**
   * Applies one step. Takes a name→gradient object, a `Map` or a `NamedTensor[]`; a `null` or
   * missing gradient leaves that variable and its state untouched. Everything is checked before
   * anything changes (a name with no variable, a gradient of another shape or dtype, a variable
   * re-created with another shape, scheduled hyperparameters, the rule's trace): after a call that
   * throws, every variable, slot and count is as it was.
   */
  override applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[] | ReadonlyMap<string, tf.Tensor | null>,
  ): void {
    const listed = this.readGradients(variableGradients);
    let work = this.checkedWork(listed);
    const hyperparameters = this.hyperparametersAt(this.iterations);
    this.bindRestoredState(listed.map((l) => l.name));
    if (this.transforms.skipNonFinite && !allFinite(work.map((w) => w.grad))) {
      this.skipped += 1;
      return;
    }
    const k = this.transforms.accumulateSteps;
    let sums: tf.Tensor[] = [];
    if (k > 1) {
      if (this.accumulator.calls + 1 < k) {
        this.accumulator.add(work);
        return;
      }
      // The window's sums as fresh tensors: the accumulator changes only once the update is done.
      const window = this.accumulator.completed(work);
      sums = window.map((w) => w.grad);
      work = window;
    }
    try {
      this.step(work, hyperparameters);
    } finally {
      tf.dispose(sums);
    }
    if (k > 1) this.accumulator.restart();
    this.incrementIterations();
  }

  /** The variables of the gradients given, each gradient checked against its variable. */
  private checkedWork(listed: readonly NamedTensor[]): { variable: tf.Variable; grad: tf.Tensor }[] {
    const work: { variable: tf.Variable; grad: tf.Tensor }[] = [];
    for (const { name, tensor } of listed) {
      if (tensor == null) continue;
      work.push({ variable: this.checkGradient(name, tensor), grad: tensor });
    }
    return work;
  }

  /**
   * Checks a step without taking it: whatever {@link applyGradients} would refuse before changing
   * anything (a name with no variable, a gradient of another shape or dtype, a scheduled
   * hyperparameter out of range, restored state that does not bind, a variable the definition
   * refuses, a rule that does not trace) throws here with the same error, and nothing changes
   * either way. With `accumulateSteps`, the variables of this call are checked as if it completed
   * the window. For wrappers that drive several optimizers in one step (`@optimkit/partition`):
   * check every one, then apply.
   */
  checkGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[] | ReadonlyMap<string, tf.Tensor | null>,
  ): void {
    const listed = this.readGradients(variableGradients);
    const work = this.checkedWork(listed);
    const hyperparameters = this.hyperparametersAt(this.iterations);
    const states =
      bindRestored(
        this.states,
        listed.map((l) => l.name),
        (variable) => this.checkSlots(variable, this.iterations),
      ) ?? new Map(this.states);
    if (this.transforms.skipNonFinite && !allFinite(work.map((w) => w.grad))) return;
    this.prepare(work, hyperparameters, states).rollback();
  }

  /**
   * Everything a step needs of each variable of `work`, creating the state of new variables in
   * `states`; `rollback` undoes that. Throws, having undone it, when anything is wrong.
   */
  private prepare(
    work: readonly { variable: tf.Variable; grad: tf.Tensor }[],
    hyperparameters: Resolved<D>[],
    states: Map<string, VariableState>,
  ): { prepared: Prepared<D>[]; rollback: () => void } {
    const created: VariableState[] = [];
    const grown: [VariableState, string][] = [];
    const rollback = () => {
      disposeStates(created);
      for (const state of created) states.delete(state.name);
      for (const [state, name] of grown) {
        state.slots.get(name)?.dispose();
        state.slots.delete(name);
      }
    };
    const floor = sixteenBitFloats(tf.backend()) ? FLOAT16_EPSILON : 0;
    try {
      const prepared = work.map(({ variable, grad }) => {
        let state = states.get(variable.name);
        if (!state) {
          state = this.createState(variable, hyperparameters, states);
          created.push(state);
        } else this.reconcile(state, variable, hyperparameters, grown);
        const h = hyperparameters[state.group + 1]!;
        const step = state.step + 1;
        if (!this.rule) return { variable, grad, state, h, step, plan: null, scalars: null };
        const plan = this.planFor(this.rule, state, variable, h);
        if (state.quantized?.size) {
          checkQuantizedBackend(this.definition.className, variable.name);
          repackQuantized(state);
        }
        const scalars = this.rule.scalarValues(h, step, plan.variant, plan.key, floor);
        return { variable, grad, state, h, step, plan, scalars };
      });
      return { prepared, rollback };
    } catch (error) {
      rollback();
      throw error;
    }
  }

  /** Updates the variables of `work`; throws before changing anything when anything is wrong. */
  private step(
    work: readonly { variable: tf.Variable; grad: tf.Tensor }[],
    hyperparameters: Resolved<D>[],
  ): void {
    const { prepared } = this.prepare(work, hyperparameters, this.states);
    const fused = this.rule !== null && fusedKernelsActive() ? FUSED_RULE_BACKENDS[tf.getBackend()]! : null;
    const scale = globalNormScale(
      work.map(({ variable, grad }) => ({ name: variable.name, grad, param: variable })),
      this.transforms,
    );
    try {
      for (const batch of batches(prepared, fused?.runMany !== undefined)) {
        tf.tidy(() => {
          const grads = batch.map((p) => transformGradient(p.grad, this.transforms, scale, p.variable));
          const results = this.updates(batch, grads, fused);
          batch.forEach(({ variable, state }, i) => {
            this.write(variable, state, results[i]!);
          });
        });
        for (const { state } of batch) state.step += 1;
      }
    } finally {
      scale?.dispose();
    }
  }

  /**
   * Checks a known variable's state against the live variable before a step: a variable disposed
   * and re-created under the same name must have the same shape (the state follows the name), and
   * slots that the hyperparameters of this step call for (a momentum scheduled up from 0) are
   * created, as PyTorch creates a momentum buffer on first use.
   */
  private reconcile(
    state: VariableState,
    variable: tf.Variable,
    hyperparameters: Resolved<D>[],
    grown: [VariableState, string][],
  ): void {
    if (!sameShape(state.shape, variable.shape)) {
      throw new RangeError(
        `${this.definition.className}: the state of '${variable.name}' is for shape ${shapeString(state.shape)}, ` +
          `but the variable now has shape ${shapeString(variable.shape)} (disposed and re-created?); ` +
          'dispose() the optimizer to start from empty state, or load a state saved for these variables',
      );
    }
    state.variable = variable;
    // Only slots listed as conditional can appear later; the others are all made on the first
    // step, so the common step pays for no spec here.
    if (!this.definition.conditionalSlots?.length) return;
    const spec = this.slotSpec(variable.shape, hyperparameters[state.group + 1]!);
    for (const [name, init] of storedSlots(spec, variable.shape)) {
      if (state.slots.has(name)) continue;
      state.slots.set(name, createSlot(name, init, variable.shape));
      grown.push([state, name]);
      state.layouts = undefined;
      state.plan = undefined;
    }
  }

  /** Writes one variable's update, after checking it (an `update` function may return anything). */
  private write(variable: tf.Variable, state: VariableState, result: UpdateResult): void {
    const { className } = this.definition;
    const writes: [tf.Variable, tf.Tensor][] = [];
    const check = (target: tf.Variable, value: unknown, what: string) => {
      if (
        !(value instanceof tf.Tensor) ||
        !sameShape(value.shape, target.shape) ||
        value.dtype !== target.dtype
      ) {
        throw new TypeError(`${className}: the update of '${variable.name}' returned an invalid ${what}`);
      }
      if (value !== target) writes.push([target, value]);
    };
    check(variable, result.param, 'param');
    for (const [name, value] of Object.entries(result.slots ?? {})) {
      const slot = state.slots.get(name);
      if (!slot) throw new Error(`${className} updated an unknown slot '${name}' of '${variable.name}'`);
      check(slot, value, `slot '${name}'`);
    }
    // A value that is itself one of the targets (a rule that stores the param, or another slot,
    // unchanged in a slot) is read before any target changes: its clone keeps the old buffer.
    // A handful of writes per variable: a scan, with nothing allocated on the common path.
    for (const write of writes) {
      if (writes.some(([target]) => target === write[1])) write[1] = tf.clone(write[1]);
    }
    for (const [target, value] of writes) target.assign(value);
  }

  /** The rule plan of a variable at its next step, from its cache when its situation is unchanged. */
  private planFor(
    rule: CompiledRule<D>,
    state: VariableState,
    variable: tf.Variable,
    h: Resolved<D>,
  ): RulePlan {
    if (state.plan && this.definition.variant === undefined) return state.plan;
    if (!state.layouts) {
      const spec = this.slotSpec(variable.shape, h) as Record<string, SlotInit | undefined>;
      const layouts = new Map<string, Layout>();
      const quantized = new Map<string, QuantizedMap>();
      for (const [name, init] of declaredSlots(spec)) {
        if (typeof init !== 'number' && 'quantized' in init && state.slots.has(`${name}${CODES_SUFFIX}`)) {
          quantized.set(name, init.quantized);
          layouts.set(name, 'full');
        }
      }
      for (const [name, slot] of state.slots) {
        if (isStoredQuantized(name, quantized)) continue;
        const layout = slotInitLayout(spec[name], variable.shape) ?? slotLayout(variable.shape, slot.shape);
        if (layout === undefined) {
          throw new RuleError(
            `${this.definition.className}: slot '${name}' of '${variable.name}' has shape ${shapeString(slot.shape)}, ` +
              `which is none of the variable's layouts (declare it with { layout })`,
          );
        }
        layouts.set(name, layout);
      }
      state.layouts = layouts;
      state.quantized = quantized;
    }
    try {
      state.plan = rule.plan(
        h,
        state.step + 1,
        variable.shape,
        state.layouts,
        state.plan,
        this.transforms.maximize,
      );
    } catch (error) {
      // A rule does not know which variable it is traced for: say it here.
      if (error instanceof Error)
        error.message += ` (variable '${variable.name}', shape ${shapeString(variable.shape)})`;
      throw error;
    }
    return state.plan;
  }

  /** The new values of a batch of variables (one variable, unless the fused backend batches). */
  private updates(
    batch: readonly Prepared<D>[],
    grads: readonly tf.Tensor[],
    fused: FusedRuleBackend | null,
  ): UpdateResult[] {
    const runs = batch.map(({ variable, state, plan, scalars }, i) => ({
      className: this.definition.className,
      graph: plan?.graph,
      param: variable,
      grad: grads[i]!,
      slots: ruleSlots(state, variable.shape),
      scalars: scalars!,
    }));
    const results =
      fused && batch.length > 1
        ? fused.runMany!(runs as FusedRuleRun[])
        : batch.map((p, i) => {
            const run = runs[i]!;
            if (!p.plan) return this.runUpdate(p.variable, run.grad, p.state, p.h, p.step);
            if (fused) return fused.run(run as FusedRuleRun);
            return runComposite(p.plan.graph, {
              param: p.variable,
              grad: run.grad,
              slots: Object.fromEntries(run.slots),
              scalars: run.scalars,
            });
          });
    batch.forEach(({ state }, i) => {
      if (state.quantized?.size) requantize(state.quantized, runs[i]!.slots, results[i]!);
    });
    return results;
  }

  private runUpdate(
    variable: tf.Variable,
    grad: tf.Tensor,
    state: VariableState,
    h: Resolved<D>,
    step: number,
  ): UpdateResult {
    const slots: Record<string, tf.Tensor> = {};
    for (const [name, slot] of state.slots) slots[name] = slot;
    const g = this.transforms.maximize ? tf.neg(grad) : grad;
    return this.definition.update!({ param: variable, grad: g, slots, h, step, name: variable.name });
  }

  /** Steps skipped because their gradients were not finite (`skipNonFinite`). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** Calls accumulated towards the next update (`accumulateSteps`), 0 at a boundary. */
  get accumulatedSteps(): number {
    return this.accumulator.calls;
  }

  /** The number of updates each variable has received, by variable name. */
  variableSteps(): Map<string, number> {
    return new Map([...this.states.values()].map((s) => [s.name, s.step]));
  }

  /** The current slot tensors of a variable (owned by the optimizer: do not dispose). */
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined {
    const state = this.states.get(variableName);
    return state ? Object.fromEntries(state.slots) : undefined;
  }

  /** Bytes of tensor state the optimizer holds. */
  stateBytes(): number {
    let bytes = 0;
    for (const state of this.states.values()) for (const slot of state.slots.values()) bytes += slot.size * 4;
    bytes += this.accumulator.bytes();
    return bytes;
  }

  private disposeWeightsCache(): void {
    tf.dispose(this.weightsCache);
    this.weightsCache = [];
  }

  /** Frees every tensor this optimizer made. It can be used again afterwards, from empty state. */
  override dispose(): void {
    disposeStates(this.states.values());
    this.states = new Map();
    this.accumulator.replace(new Map(), 0);
    this.disposeWeightsCache();
    super.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // tfjs serialization

  /** JSON config: every hyperparameter (schedules as their current value) and the param groups. */
  override getConfig(): tf.serialization.ConfigDict {
    const config: Record<string, unknown> = {};
    const step = this.iterations;
    for (const key of Object.keys(this.definition.defaults)) {
      config[key] = serializeHyperparameter(this.options[key], step);
    }
    for (const key of TRANSFORM_KEYS) {
      const value = this.transforms[key];
      if (value !== null && value !== false && !(key === 'accumulateSteps' && value === 1))
        config[key] = value;
    }
    if (this.groups.length > 0) {
      config.paramGroups = this.groups.map((group, index) => {
        const names = new Set(group.names);
        for (const state of this.states.values()) if (state.group === index) names.add(state.name);
        const overrides: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(group.overrides)) {
          overrides[key] = serializeHyperparameter(value, step);
        }
        return { params: [...names], ...overrides };
      });
    }
    return config as tf.serialization.ConfigDict;
  }

  /**
   * Builds an optimizer from `getConfig()` output (tfjs-layers calls this on load). Schedules come
   * back as constants unless given again in `overrides`.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
    overrides: Record<string, unknown> = {},
  ): T {
    return new cls(configToOptions(cls.className, config as Record<string, unknown>, overrides));
  }

  /**
   * The state as tfjs-layers saves it (the weight layout described in docs/architecture.md). Slots are the live variables;
   * the bookkeeping tensors are freed by the next call or `dispose`.
   */
  override async getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]> {
    if (this.accumulator.calls > 0) {
      throw new Error(
        `${this.definition.className}: cannot export weights in the middle of a gradient accumulation ` +
          `(${this.accumulator.calls} of ${this.transforms.accumulateSteps} calls): save at a boundary or use saveState()`,
      );
    }
    this.disposeWeightsCache();
    const { weights, owned } = exportWeights(this.states.values(), this.iterations);
    this.weightsCache = owned;
    return weights;
  }

  /**
   * Restores what {@link getWeights} returned (tfjs-layers calls this on `loadLayersModel`). The
   * state binds to variables on the next step, by name or else by position. Atomic: on error the
   * current state is unchanged.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const { states, iterations } = await importWeights(weightValues, this.restoreChecks());
    this.replaceState(states, iterations);
  }

  private replaceState(states: Map<string, VariableState>, iterations: number): void {
    disposeStates(this.states.values());
    this.states = states;
    this.iterations_ = iterations;
    this.resolvedCache = null;
    this.accumulator.replace(new Map(), 0);
  }

  /** Hyperparameters given as stateful schedules (a plateau controller), by option path. */
  private statefulSchedules(): Map<string, StatefulSchedule> {
    const found = new Map<string, StatefulSchedule>();
    const scan = (options: Readonly<Record<string, unknown>>, prefix: string) => {
      for (const [key, value] of Object.entries(options)) {
        if (typeof value === 'function' && isStateful(value)) found.set(prefix + key, value);
      }
    };
    scan(this.options, '');
    this.groups.forEach((group, i) => {
      scan(group.overrides, `paramGroups[${i}].`);
    });
    return found;
  }

  // ---------------------------------------------------------------------------------------------
  // optimkit state format

  /**
   * The whole optimizer state as self-describing, versioned bytes (layout in the package README):
   * config, iterations, param groups, each variable's step and slots, and a checksum.
   */
  async saveState(): Promise<Uint8Array> {
    // Everything is taken now, before the first await: a step that runs meanwhile is not in it.
    const snapshot = snapshotState({
      definition: this.definition,
      config: this.getConfig() as Record<string, unknown>,
      iterations: this.iterations,
      groupCount: this.groups.length,
      states: this.states.values(),
      accumulator: this.accumulator,
      skippedSteps: this.skipped,
      schedules: Object.fromEntries(
        [...this.statefulSchedules()].map(([path, s]) => [path, s.stateful.saveState()]),
      ),
    });
    return encodeSnapshot(snapshot);
  }

  /**
   * Replaces this optimizer's state with saved bytes, binding each variable's state by name.
   * Hyperparameters stay those of this optimizer. Everything is validated first (format, checksum,
   * class, variables and shapes); on any error the current state is untouched.
   */
  async loadState(bytes: Uint8Array | ArrayBuffer): Promise<void> {
    const decoded = decodeOptimizerState(bytes, {
      ...this.restoreChecks(),
      accumulateSteps: this.transforms.accumulateSteps,
    });
    const schedules = this.statefulSchedules();
    // A schedule that refuses its saved state leaves the schedules loaded before it as they were.
    const loaded: [StatefulSchedule, unknown][] = [];
    try {
      for (const [path, saved] of Object.entries(decoded.schedules)) {
        const schedule = schedules.get(path);
        if (!schedule) continue;
        const previous = schedule.stateful.saveState();
        schedule.stateful.loadState(saved);
        loaded.push([schedule, previous]);
      }
    } catch (error) {
      for (const [schedule, previous] of loaded.reverse()) schedule.stateful.loadState(previous);
      throw error instanceof StateFormatError
        ? error
        : new StateFormatError(
            `Optimizer state has a schedule state that does not load: ${(error as Error).message}`,
          );
    }
    const { states, accumulators } = decoded.materialize();
    this.replaceState(states, decoded.iterations);
    this.accumulator.replace(accumulators, decoded.accumulatedCalls);
    this.skipped = decoded.skippedSteps;
  }
}

/** A schedule whose state is saved with the optimizer (a reduce-on-plateau controller). */
export interface StatefulSchedule extends Schedule {
  /** What the optimizer calls to save and restore the schedule's state with its own. */
  stateful: {
    /** A JSON snapshot of the schedule's state. */
    saveState(): unknown;
    /** Restores a snapshot from `saveState`; throws, changing nothing, on a malformed one. */
    loadState(state: unknown): void;
  };
}

function isStateful(value: unknown): value is StatefulSchedule {
  const stateful = (value as { stateful?: unknown }).stateful as StatefulSchedule['stateful'] | undefined;
  return typeof stateful?.saveState === 'function' && typeof stateful.loadState === 'function';
}

/** The class {@link defineOptimizer} returns. */
export interface DefinedOptimizerClass<D extends Defaults> extends OptimizerClass {
  new (options?: OptimizerOptions<D>): OptimkitOptimizer<D>;
  fromConfig(
    cls: OptimizerClass,
    config: tf.serialization.ConfigDict,
    overrides?: Record<string, unknown>,
  ): OptimkitOptimizer<D>;
  readonly definition: AnyDefinition<D>;
}

// biome-ignore lint/suspicious/noExplicitAny: a definition of any slot, scalar and variant names
type AnyDefinition<D extends Defaults> = OptimizerDefinition<D, any, any, any>;

/** The traced rules of rule-based definitions. */
const compiledRules = new WeakMap<object, CompiledRule<Defaults>>();

/**
 * A definition's compiled rule (null for an `update`), made on first use: by `defineOptimizer`,
 * or by the constructor for a definition made at run time (a wrapper's derived definition).
 */
function compiledRuleOf<D extends Defaults>(definition: AnyDefinition<D>): CompiledRule<D> | null {
  const { className } = definition;
  const known = compiledRules.get(definition);
  if (known) return known as unknown as CompiledRule<D>;
  if ((definition.rule === undefined) === (definition.update === undefined)) {
    throw new TypeError(`${className}: a definition needs exactly one of 'rule' or 'update'`);
  }
  if (definition.rule === undefined) {
    if (definition.variant || definition.scalars) {
      throw new TypeError(`${className}: 'variant' and 'scalars' belong to a 'rule'`);
    }
    return null;
  }
  const compiled = new CompiledRule(definition as unknown as RuleParts<Defaults>, definition.defaults);
  compiledRules.set(definition, compiled as CompiledRule<Defaults>);
  return compiled as unknown as CompiledRule<D>;
}

/**
 * Makes and registers an optimizer class from a definition: its defaults, validation, slots and
 * per-variable update rule. The class is a `tf.Optimizer`; see {@link OptimkitOptimizer}. A rule
 * is written once, against the rule vocabulary, and runs fused on every backend core has kernels
 * for (composite tfjs ops elsewhere); `update` is the tfjs-ops escape hatch, without a fused path.
 *
 * @example
 * ```ts
 * // Heavy-ball momentum with decoupled weight decay.
 * export const HeavyBall = defineOptimizer({
 *   className: 'MyHeavyBall',
 *   packageName: 'my-optimizers',
 *   packageVersion: '1.0.0',
 *   defaults: { learningRate: 1e-2, momentum: 0.9, weightDecay: 0 },
 *   slots: { velocity: 0 },
 *   scalars: (h) => ({ decay: 1 - h.learningRate * h.weightDecay }),
 *   rule: ({ param, grad, slots, s, op }) => {
 *     const velocity = op.add(op.mul(slots.velocity, s.momentum), grad);
 *     const next = op.sub(op.mul(param, s.decay), op.mul(velocity, s.learningRate));
 *     return { param: next, slots: { velocity } };
 *   },
 * });
 * ```
 */
export function defineOptimizer<
  D extends Defaults,
  K extends string = never,
  S extends string = never,
  V extends object = object,
>(definition: OptimizerDefinition<D, K, S, V>): DefinedOptimizerClass<D> {
  compiledRuleOf(definition as AnyDefinition<D>);
  const Defined = class extends OptimkitOptimizer<D> {
    static readonly definition = definition;
    static get className(): string {
      return definition.className;
    }
    static get packageName(): string {
      return definition.packageName;
    }
    constructor(options?: OptimizerOptions<D>) {
      super(definition as AnyDefinition<D>, options);
    }
  };
  Object.defineProperty(Defined, 'name', { value: definition.className });
  registerOptimizer(Defined as unknown as OptimizerClass);
  return Defined as unknown as DefinedOptimizerClass<D>;
}

/** Whether a stored slot is one of the two tensors of a quantised slot. */
function isStoredQuantized(stored: string, quantized: ReadonlyMap<string, QuantizedMap>): boolean {
  for (const name of quantized.keys()) {
    if (stored === `${name}${CODES_SUFFIX}` || stored === `${name}${ABSMAX_SUFFIX}`) return true;
  }
  return false;
}

/** The slots as the rule reads them: each quantised slot dequantised to float32 (inside the step's tidy). */
function ruleSlots(state: VariableState, shape: readonly number[]): ReadonlyMap<string, tf.Tensor> {
  if (!state.quantized?.size) return state.slots;
  const slots = new Map<string, tf.Tensor>(state.slots);
  for (const [name, map] of state.quantized) {
    const codes = `${name}${CODES_SUFFIX}`;
    const absmax = `${name}${ABSMAX_SUFFIX}`;
    slots.set(name, dequantize(state.slots.get(codes)!, state.slots.get(absmax)!, map, shape));
    slots.delete(codes);
    slots.delete(absmax);
  }
  return slots;
}

/**
 * Replaces the new value of each quantised slot in a rule's result by its codes and absmax. A
 * fused kernel that updated a (dequantised) slot in place left it out of the result: the input
 * tensor holds the new value.
 */
function requantize(
  quantized: ReadonlyMap<string, QuantizedMap>,
  inputs: ReadonlyMap<string, tf.Tensor>,
  result: UpdateResult,
): void {
  result.slots ??= {};
  const slots = result.slots;
  for (const [name, map] of quantized) {
    const { codes, absmax } = quantize(slots[name] ?? inputs.get(name)!, map);
    delete slots[name];
    slots[`${name}${CODES_SUFFIX}`] = codes;
    slots[`${name}${ABSMAX_SUFFIX}`] = absmax;
  }
}
