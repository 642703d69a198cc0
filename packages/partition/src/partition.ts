import {
  decodeState,
  encodeState,
  getRegisteredOptimizer,
  type NamedTensor,
  type OptimizerClass,
  OptimkitOptimizer,
  registerOptimizer,
  StateFormatError,
  type StateHeader,
  type TensorEntry,
  type VariableEntry,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

/**
 * Gives a variable its label, the key of the optimizer that updates it. Called once per variable,
 * on the first step that names it; the label is then recorded by the variable's name.
 */
export type PartitionLabelFunction = (variable: tf.Variable) => string | null | undefined;

/**
 * A param-group-like routing rule (PyTorch's param groups, one optimizer per group): the variables
 * it lists (`params`: variables or their names) or those its `match` accepts go to the optimizer
 * of `label`. Exactly one of `params` and `match`.
 */
export interface PartitionGroup<L extends string = string> {
  /** The key of the optimizer that updates the group's variables. */
  label: L;
  /** The group's variables, or their names. */
  params?: readonly (tf.Variable | string)[];
  /** Whether a variable belongs to the group (e.g. `(v) => v.rank === 2`). */
  match?: (variable: tf.Variable) => boolean;
}

/**
 * How a partition labels its variables: a label function, or param groups, of which the first that
 * lists or matches a variable labels it.
 */
export type PartitionLabels<L extends string = string> =
  | ((variable: tf.Variable) => L | null | undefined)
  | readonly PartitionGroup<L>[];

/**
 * What a partition needs of each of its optimizers: every optimkit optimizer (made with
 * `defineOptimizer`) has it, whatever its options.
 */
export type PartitionMember = Pick<
  OptimkitOptimizer,
  | 'iterations'
  | 'checkGradients'
  | 'applyGradients'
  | 'getConfig'
  | 'getClassName'
  | 'getWeights'
  | 'setWeights'
  | 'saveState'
  | 'loadState'
  | 'variableSteps'
  | 'getSlots'
  | 'stateBytes'
  | 'dispose'
> & { readonly definition: { readonly packageName: string } };

/** A variable's recorded label, as {@link Partition.getConfig} saves it. */
export interface PartitionVariable {
  /** The variable's name. */
  name: string;
  /** The key of the optimizer that updates it. */
  label: string;
  /** Its shape, checked when a reload renamed the variables (see {@link partition}). */
  shape: number[];
}

/** The gradient transforms a partition applies over all the gradients of a step. */
export interface PartitionOptions {
  /**
   * Rescale all gradients of a step, over every optimizer's variables, when their global L2 norm
   * exceeds this value, as PyTorch's `clip_grad_norm_` (and one optimkit optimizer's
   * `clipGradNorm`): `g ← g · min(1, clipGradNorm / (‖g‖ + 1e-6))`, the norm summed in
   * variable-name order. The optimizers then receive the scaled gradients, so none of them may
   * have `clipGradValue`, `centralize` or `adaptiveGradClip` (one optimizer applies those before
   * the norm).
   *
   * @defaultValue `null` (off)
   */
  clipGradNorm?: number | null;
  /**
   * Skip a step whose gradients (any optimizer's) contain NaN or ±Inf: no optimizer steps, no
   * variable or state changes, `iterations` does not advance and `skippedSteps` counts it (Optax
   * `apply_if_finite`).
   *
   * @defaultValue `false`
   */
  skipNonFinite?: boolean;
}

/** What {@link Partition.fromConfig} and `loadOptimizer` accept besides the config. */
export interface PartitionOverrides {
  /** The label function or the param groups again, for variables the config did not record. */
  label?: PartitionLabels;
  /** Overrides of each optimizer's options (schedules, say), by label. */
  optimizers?: Readonly<Record<string, Record<string, unknown>>>;
}

type Gradients = tf.NamedTensorMap | NamedTensor[] | ReadonlyMap<string, tf.Tensor | null>;
type Entry = { name: string; tensor: tf.Tensor | null };

const CLASS_NAME = 'OptimkitPartition';
const LABEL = /^[A-Za-z0-9_.-]+$/;
/** Transforms over every gradient of a step: inside a partition each part would see only its own. */
const STEP_TRANSFORMS = ['clipGradNorm', 'skipNonFinite', 'accumulateSteps'] as const;
/** Per-variable transforms one optimizer applies before its global norm. */
const BEFORE_NORM = ['clipGradValue', 'centralize', 'adaptiveGradClip'] as const;
/** The bookkeeping weight core writes before a variable's slots (see @optimkit/core's README). */
const STATE_WEIGHT = '/optimkitState';

function registered(name: string): tf.Variable | undefined {
  return tf.engine().registeredVariables[name];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function listLabels(labels: Iterable<string>): string {
  return [...labels].map((l) => `'${l}'`).join(', ');
}

function entriesOf(grads: Gradients): Entry[] {
  let entries: { name: unknown; tensor: unknown }[];
  if (grads instanceof Map) entries = [...grads].map(([name, tensor]) => ({ name, tensor }));
  else if (Array.isArray(grads)) entries = grads.map((e) => ({ name: e?.name, tensor: e?.tensor }));
  else if (isPlainObject(grads)) entries = Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
  else throw new TypeError('applyGradients takes a name→tensor object, a Map or a NamedTensor[]');
  return entries.map(({ name, tensor }) => {
    if (typeof name !== 'string') throw new TypeError('applyGradients: every entry needs a variable name');
    return { name, tensor: (tensor ?? null) as tf.Tensor | null };
  });
}

function checkTransforms(options: unknown): Required<PartitionOptions> {
  if (!isPlainObject(options)) throw new TypeError(`The options of ${CLASS_NAME} must be an object`);
  const { clipGradNorm = null, skipNonFinite = false, ...rest } = options;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new TypeError(`Unknown option '${unknown}' of ${CLASS_NAME}`);
  if (
    clipGradNorm !== null &&
    (typeof clipGradNorm !== 'number' || !(clipGradNorm > 0) || !Number.isFinite(clipGradNorm))
  ) {
    throw new RangeError(
      `Invalid clipGradNorm of ${CLASS_NAME}: ${String(clipGradNorm)} (a positive number)`,
    );
  }
  if (typeof skipNonFinite !== 'boolean') {
    throw new TypeError(`Option 'skipNonFinite' of ${CLASS_NAME} must be a boolean`);
  }
  return { clipGradNorm, skipNonFinite };
}

/** PyTorch's `clip_grad_norm_` factor over `grads`, summed in name order as one optimizer does. */
function clipScale(grads: readonly NamedTensor[], maxNorm: number): tf.Scalar {
  const ordered = grads
    .filter((g) => g.tensor != null)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return tf.tidy(() => {
    const squares = ordered.reduce<tf.Tensor>(
      (sum, { tensor }) => tf.add(sum, tf.sum(tf.square(tensor!))),
      tf.scalar(0),
    );
    return tf.minimum(1, tf.div(maxNorm, tf.add(tf.sqrt(squares), 1e-6))) as tf.Scalar;
  });
}

function allFinite(grads: readonly NamedTensor[]): boolean {
  const tensors = grads.flatMap((g) => (g.tensor == null ? [] : [g.tensor]));
  if (tensors.length === 0) return true;
  const bad = tf.tidy(() =>
    tf.addN(tensors.map((t) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')))),
  );
  const finite = bad.dataSync()[0] === 0;
  bad.dispose();
  return finite;
}

function checkParts(optimizers: unknown): Map<string, PartitionMember> {
  if (!isPlainObject(optimizers) || Object.keys(optimizers).length === 0) {
    throw new TypeError(
      'partition: give the optimizers as an object of labels, e.g. { muon: muon(), adamw: adamw() }',
    );
  }
  const parts = new Map<string, PartitionMember>();
  for (const [label, optimizer] of Object.entries(optimizers)) {
    if (!LABEL.test(label)) {
      throw new TypeError(`partition: label '${label}' must be letters, digits, '_', '.' or '-'`);
    }
    if (!(optimizer instanceof OptimkitOptimizer)) {
      throw new TypeError(`partition: the optimizer of '${label}' is not an optimkit optimizer`);
    }
    const twice = [...parts].find(([, other]) => other === optimizer);
    if (twice) throw new TypeError(`partition: '${label}' and '${twice[0]}' are the same optimizer object`);
    if (optimizer.iterations !== 0) {
      throw new RangeError(
        `partition: the optimizer of '${label}' has taken ${optimizer.iterations} steps; give fresh optimizers`,
      );
    }
    const config = optimizer.getConfig();
    const transform = STEP_TRANSFORMS.find((key) => key in config);
    if (transform) {
      throw new TypeError(
        `partition: the optimizer of '${label}' has ${transform}, which acts on all the gradients of a step, ` +
          `but in a partition it would see only those of '${label}': transform the gradients before ` +
          'applyGradients, or use one optimizer with param groups',
      );
    }
    parts.set(label, optimizer);
  }
  return parts;
}

function checkRecords(variables: unknown, parts: ReadonlyMap<string, unknown>): PartitionVariable[] {
  if (!Array.isArray(variables)) throw new TypeError('partition: the recorded variables must be an array');
  const seen = new Set<string>();
  return variables.map((v: unknown, i) => {
    const { name, label, shape } = (isPlainObject(v) ? v : {}) as Record<string, unknown>;
    if (
      typeof name !== 'string' ||
      typeof label !== 'string' ||
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      throw new TypeError(`partition: recorded variable ${i} is not { name, label, shape }`);
    }
    if (!parts.has(label)) {
      throw new TypeError(
        `partition: variable '${name}' is recorded with label '${label}', but no optimizer has that label ` +
          `(the optimizers are ${listLabels(parts.keys())})`,
      );
    }
    if (seen.has(name)) throw new TypeError(`partition: variable '${name}' is recorded twice`);
    seen.add(name);
    return { name, label, shape: [...(shape as number[])] };
  });
}

/**
 * The label function of param groups, checked against the optimizers' labels: the first group
 * that lists or matches a variable gives its label. Throws, naming the group, on a malformed one.
 */
function groupLabels(
  groups: readonly unknown[],
  parts: ReadonlyMap<string, unknown>,
): PartitionLabelFunction {
  const listedBy = new Map<string, number>();
  const checked = groups.map((group, i) => {
    const where = `partition: group ${i}`;
    if (!isPlainObject(group))
      throw new TypeError(`${where} must be an object { label, params } or { label, match }`);
    const { label, params, match, ...rest } = group;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined)
      throw new TypeError(`${where} has an unknown key '${unknown}' (label, params or match)`);
    if (typeof label !== 'string' || !parts.has(label)) {
      throw new TypeError(
        `${where} has label ${typeof label === 'string' ? `'${label}'` : String(label)}, but no optimizer has that label ` +
          `(the optimizers are ${listLabels(parts.keys())})`,
      );
    }
    if ((params === undefined) === (match === undefined))
      throw new TypeError(`${where} ('${label}') needs exactly one of 'params' or 'match'`);
    if (match !== undefined && typeof match !== 'function')
      throw new TypeError(`${where} ('${label}'): match must be a function (variable) => boolean`);
    const names = new Set<string>();
    if (params !== undefined) {
      if (!Array.isArray(params)) throw new TypeError(`${where} ('${label}'): params must be an array`);
      for (const p of params as unknown[]) {
        const name = typeof p === 'string' ? p : p instanceof tf.Variable ? p.name : undefined;
        if (name === undefined)
          throw new TypeError(`${where} ('${label}'): params must hold variables or variable names`);
        const other = listedBy.get(name);
        // As PyTorch refuses a parameter in two param groups: which optimizer was meant?
        if (other !== undefined && other !== i)
          throw new TypeError(`partition: variable '${name}' is listed by groups ${other} and ${i}`);
        listedBy.set(name, i);
        names.add(name);
      }
    }
    return { label, names, match: match as ((variable: tf.Variable) => unknown) | undefined };
  });
  return (variable) => {
    for (const [i, { label, names, match }] of checked.entries()) {
      if (names.has(variable.name)) return label;
      if (match === undefined) continue;
      const matched = match(variable);
      if (typeof matched !== 'boolean')
        throw new TypeError(
          `partition: group ${i} ('${label}'): match returned ${String(matched)}, not a boolean`,
        );
      if (matched) return label;
    }
    return null;
  };
}

/**
 * One `tf.Optimizer` that routes each variable to one of several optimkit optimizers: Optax's
 * `partition`, PyTorch's param groups with a different optimizer each. Made by {@link partition}.
 */
export class Partition extends tf.Optimizer {
  /** The tfjs serialization name. */
  static readonly className = CLASS_NAME;
  /** The package that defines it. */
  static readonly packageName: string = packageName;
  private readonly parts: ReadonlyMap<string, PartitionMember>;
  private readonly labelFunction: PartitionLabelFunction | null;
  /** Whether the labels come from param groups (for the error of a variable none takes). */
  private readonly byGroups: boolean;
  /** Each variable's label, in the order the variables were first seen. */
  private records = new Map<string, PartitionVariable>();
  private iterTensor: tf.Tensor | null = null;
  private readonly transforms: Required<PartitionOptions>;
  private skipped = 0;

  /**
   * @param optimizers - the optimkit optimizers by label (fresh, owned by the partition from now on).
   * @param label - the label function or the param groups; `null` to route only by `variables`.
   * @param options - the step-wide gradient transforms ({@link PartitionOptions}).
   * @param variables - labels recorded by name (what {@link Partition.getConfig} records).
   */
  constructor(
    optimizers: Readonly<Record<string, PartitionMember>>,
    label: PartitionLabels | null,
    options: PartitionOptions = {},
    variables: readonly PartitionVariable[] = [],
  ) {
    super();
    this.transforms = checkTransforms(options);
    this.parts = checkParts(optimizers);
    if (this.transforms.clipGradNorm !== null) {
      for (const [name, part] of this.parts) {
        const config = part.getConfig();
        const before = BEFORE_NORM.find((key) => key in config);
        if (before) {
          throw new TypeError(
            `partition: the optimizer of '${name}' has ${before}, which one optimizer applies before clipGradNorm; ` +
              "with the partition's clipGradNorm it would come after: transform the gradients before applyGradients",
          );
        }
      }
    }
    if (label !== null && typeof label !== 'function' && !Array.isArray(label)) {
      throw new TypeError(
        'partition: the labels must be a function (variable) => label or param groups [{ label, params | match }]',
      );
    }
    this.byGroups = Array.isArray(label);
    this.labelFunction = Array.isArray(label)
      ? groupLabels(label, this.parts)
      : (label as PartitionLabelFunction | null);
    for (const record of checkRecords(variables, this.parts)) this.records.set(record.name, record);
  }

  /** Steps skipped because their gradients were not finite (`skipNonFinite`). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** The optimizers by label (owned by the partition: do not dispose them yourself). */
  get optimizers(): Readonly<Record<string, PartitionMember>> {
    return Object.freeze(Object.fromEntries(this.parts));
  }

  /** The label of every variable seen so far (or recorded in a config), by variable name. */
  labels(): Map<string, string> {
    return new Map([...this.records.values()].map((r) => [r.name, r.label]));
  }

  override getClassName(): string {
    return CLASS_NAME;
  }

  /**
   * The labels of the entries of one step; `null` for an entry without a gradient that cannot be
   * labelled (it is left out). Throws, naming the variable and the labels, for one with a gradient.
   */
  private route(entries: readonly Entry[]): { labels: (string | null)[]; renamed: boolean } {
    const positional = this.labelFunction === null ? this.positionalLabels(entries) : null;
    const labels = entries.map(({ name, tensor }, i) => {
      const fail = (message: string): null => {
        if (tensor === null) return null;
        throw new Error(message);
      };
      const variable = registered(name);
      if (!variable) return fail(`applyGradients: no variable named '${name}' is registered`);
      const label = positional?.[i] ?? this.records.get(name)?.label ?? this.callLabel(variable);
      if (label === undefined) {
        return fail(
          `partition: variable '${name}' has no label: this partition has no label function (restored from a ` +
            `config) and did not record '${name}' among its ${this.records.size} variables; give the label ` +
            `function again (fromConfig(cls, config, { label }) or loadOptimizer(bytes, { label }))`,
        );
      }
      if (typeof label !== 'string') {
        return fail(
          `partition: variable '${name}' has no label: ` +
            (this.byGroups
              ? 'no group lists or matches it'
              : `the label function returned ${String(label)}`) +
            ` (the labels are ${listLabels(this.parts.keys())})`,
        );
      }
      if (!this.parts.has(label)) {
        return fail(
          `partition: variable '${name}' has label '${label}', but no optimizer has that label ` +
            `(the optimizers are ${listLabels(this.parts.keys())})`,
        );
      }
      return label;
    });
    return { labels, renamed: positional !== null };
  }

  private callLabel(variable: tf.Variable): unknown {
    if (this.labelFunction === null) return undefined;
    try {
      return this.labelFunction(variable) ?? null;
    } catch (error) {
      if (error instanceof Error) error.message += ` (labelling variable '${variable.name}')`;
      throw error;
    }
  }

  /**
   * Labels by position when none of the step's variables is recorded but the step has as many as
   * were recorded, with the same shapes in order: tfjs-layers passes its trainable weights in a
   * fixed order and renames them in a model loaded twice in one process.
   */
  private positionalLabels(entries: readonly Entry[]): string[] | null {
    const recorded = [...this.records.values()];
    if (recorded.length === 0 || recorded.length !== entries.length) return null;
    if (entries.some((e) => this.records.has(e.name))) return null;
    const fits = entries.every((e, i) => {
      const variable = registered(e.name);
      return variable !== undefined && sameShape(variable.shape, recorded[i]!.shape);
    });
    return fits ? recorded.map((r) => r.label) : null;
  }

  /**
   * Applies one step: each optimizer receives the gradients of its own variables (in the order
   * given, `null` ones included) and takes a step, also when it receives none, so that every
   * optimizer counts the same `iterations`. Every optimizer checks its part of the step
   * (`checkGradients`) before any applies it: a bad gradient, a variable without a label, or a
   * variable an optimizer refuses (Muon: not 2-D) throws, and nothing has changed.
   */
  override applyGradients(variableGradients: Gradients): void {
    const entries = entriesOf(variableGradients);
    const { labels, renamed } = this.route(entries);
    const byLabel = new Map([...this.parts.keys()].map((label) => [label, [] as NamedTensor[]]));
    entries.forEach((entry, i) => {
      const label = labels[i];
      if (label) byLabel.get(label)!.push(entry as NamedTensor);
    });
    for (const [label, part] of this.parts) {
      try {
        part.checkGradients(byLabel.get(label)!);
      } catch (error) {
        if (error instanceof Error) error.message += ` (in partition '${label}')`;
        throw error;
      }
    }
    const routed = [...byLabel.values()].flat();
    if (this.transforms.skipNonFinite && !allFinite(routed)) {
      this.skipped += 1;
      return;
    }
    const { clipGradNorm } = this.transforms;
    const scale = clipGradNorm === null ? null : clipScale(routed, clipGradNorm);
    const scaled: tf.Tensor[] = [];
    try {
      for (const [label, part] of this.parts) {
        const grads = byLabel.get(label)!;
        if (scale === null) part.applyGradients(grads);
        else {
          const list = grads.map(({ name, tensor }) => ({
            name,
            tensor: tensor == null ? null : tf.mul(tensor, scale),
          }));
          for (const { tensor } of list) if (tensor) scaled.push(tensor);
          part.applyGradients(list);
        }
      }
    } finally {
      tf.dispose([...scaled, ...(scale ? [scale] : [])]);
    }
    if (renamed) this.records = new Map();
    entries.forEach(({ name }, i) => {
      const label = labels[i];
      if (label && !this.records.has(name)) {
        this.records.set(name, { name, label, shape: [...registered(name)!.shape] });
      }
    });
    this.incrementIterations();
  }

  /** The number of updates each variable has received, by variable name, over every optimizer. */
  variableSteps(): Map<string, number> {
    return new Map([...this.parts.values()].flatMap((part) => [...part.variableSteps()]));
  }

  /** The current slot tensors of a variable, from the optimizer that updates it (do not dispose). */
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined {
    for (const part of this.parts.values()) {
      const slots = part.getSlots(variableName);
      if (slots) return slots;
    }
    return undefined;
  }

  /** Bytes of tensor state the optimizers hold. */
  stateBytes(): number {
    let bytes = 0;
    for (const part of this.parts.values()) bytes += part.stateBytes();
    return bytes;
  }

  /** Frees every tensor of every optimizer; the recorded labels are kept. */
  override dispose(): void {
    for (const part of this.parts.values()) part.dispose();
    this.iterTensor?.dispose();
    this.iterTensor = null;
    super.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // tfjs serialization

  /**
   * `{ optimizers: { <label>: { className, packageName, config } }, variables: [{ name, label,
   * shape }] }`: each optimizer's class and config, and the label of every variable seen, in the
   * order first seen, so that {@link Partition.fromConfig} routes them without the label function.
   */
  override getConfig(): tf.serialization.ConfigDict {
    const optimizers: Record<string, unknown> = {};
    for (const [label, part] of this.parts) {
      optimizers[label] = {
        className: part.getClassName(),
        packageName: part.definition.packageName,
        config: part.getConfig(),
      };
    }
    const variables = [...this.records.values()].map((r) => ({ ...r, shape: [...r.shape] }));
    const { clipGradNorm, skipNonFinite } = this.transforms;
    return {
      optimizers,
      variables,
      ...(clipGradNorm === null ? {} : { clipGradNorm }),
      ...(skipNonFinite ? { skipNonFinite } : {}),
    } as unknown as tf.serialization.ConfigDict;
  }

  /**
   * Rebuilds a partition from {@link Partition.getConfig} output (tfjs-layers calls this on load):
   * each optimizer through the optimkit registry, the variables routed by their recorded labels.
   * `overrides` may give the label function again (`{ label }`, for variables not recorded) and
   * each optimizer's overrides by label (`{ optimizers: { muon: { learningRate: schedule } } }`).
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
    overrides: PartitionOverrides = {},
  ): T {
    const given = config as unknown as Record<string, unknown>;
    for (const key of Object.keys(given)) {
      // tfjs-layers' deserialization adds `customObjects` to every config it passes.
      if (!['optimizers', 'variables', 'clipGradNorm', 'skipNonFinite', 'customObjects'].includes(key)) {
        throw new TypeError(`Unknown key '${key}' in the config of ${CLASS_NAME}`);
      }
    }
    for (const key of Object.keys(overrides)) {
      if (key !== 'label' && key !== 'optimizers') {
        throw new TypeError(`Unknown override '${key}' of ${CLASS_NAME} (give { label, optimizers })`);
      }
    }
    if (!isPlainObject(given.optimizers))
      throw new TypeError(`The config of ${CLASS_NAME} has no optimizers`);
    const parts: Record<string, PartitionMember> = {};
    try {
      for (const [label, entry] of Object.entries(given.optimizers)) {
        const {
          className,
          packageName: from,
          config: inner,
        } = (isPlainObject(entry) ? entry : {}) as Record<string, unknown>;
        if (typeof className !== 'string' || !isPlainObject(inner)) {
          throw new TypeError(`The config of ${CLASS_NAME} gives no className and config for '${label}'`);
        }
        const cls = getRegisteredOptimizer(className);
        if (!cls) {
          throw new Error(
            `The optimizer '${className}' of partition '${label}' is not registered: import '${String(from)}' before loading it`,
          );
        }
        const made = cls.fromConfig(
          cls,
          inner as tf.serialization.ConfigDict,
          overrides.optimizers?.[label] ?? {},
        );
        if (!(made instanceof OptimkitOptimizer)) {
          made.dispose();
          throw new TypeError(
            `partition: the optimizer of '${label}' (${className}) is not an optimkit optimizer`,
          );
        }
        parts[label] = made;
      }
      const records = checkRecords(given.variables ?? [], new Map(Object.entries(parts)));
      const { clipGradNorm, skipNonFinite } = given as PartitionOptions;
      return new Partition(
        parts,
        overrides.label ?? null,
        {
          ...(clipGradNorm === undefined ? {} : { clipGradNorm }),
          ...(skipNonFinite === undefined ? {} : { skipNonFinite }),
        },
        records,
      ) as unknown as T;
    } catch (error) {
      for (const part of Object.values(parts)) part.dispose();
      throw error;
    }
  }

  /**
   * The state as tfjs-layers saves it: `iter`, then each optimizer's weights (without its own
   * `iter`, which is the same) with its label in front: `<label>/<variable>/<slot>`.
   */
  override async getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]> {
    const parts = [...this.parts];
    const weights = await Promise.all(parts.map(([, part]) => part.getWeights()));
    this.iterTensor?.dispose();
    this.iterTensor = tf.scalar(this.iterations, 'int32');
    const out = [{ name: 'iter', tensor: this.iterTensor }];
    weights.forEach((list, i) => {
      for (const { name, tensor } of list.slice(1)) out.push({ name: `${parts[i]![0]}/${name}`, tensor });
    });
    return out;
  }

  /**
   * Restores what {@link Partition.getWeights} returned (tfjs-layers calls this on
   * `loadLayersModel`): each optimizer gets its own weights back, and the state binds on the next
   * step by name, or by position onto renamed variables. Atomic: on any error nothing changed.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues))
      throw new StateFormatError('setWeights takes an array of named tensors');
    const [iter, ...rest] = weightValues;
    if (iter?.name !== 'iter' || !(iter.tensor instanceof tf.Tensor)) {
      throw new StateFormatError(`setWeights: the first weight must be the scalar 'iter'`);
    }
    const byLabel = new Map([...this.parts.keys()].map((label) => [label, [iter] as NamedTensor[]]));
    const found: PartitionVariable[] = [];
    for (const entry of rest) {
      const name = typeof entry?.name === 'string' ? entry.name : '';
      const cut = name.indexOf('/');
      const label = name.slice(0, cut);
      const list = cut > 0 ? byLabel.get(label) : undefined;
      if (!list) {
        throw new StateFormatError(
          `setWeights: weight '${name}' belongs to none of this partition's optimizers (${listLabels(this.parts.keys())})`,
        );
      }
      const inner = name.slice(cut + 1);
      list.push({ name: inner, tensor: entry.tensor });
      if (
        inner.endsWith(STATE_WEIGHT) &&
        entry.tensor instanceof tf.Tensor &&
        entry.tensor.dtype === 'int32'
      ) {
        const variable = inner.slice(0, -STATE_WEIGHT.length);
        const known = this.records.get(variable);
        if (known && known.label !== label) {
          throw new StateFormatError(
            `setWeights: '${variable}' has state for '${label}', but this partition routes it to '${known.label}'`,
          );
        }
        const shape = Array.from(await entry.tensor.data()).slice(2);
        found.push({ name: variable, label, shape });
      }
    }
    await this.replaceAll((part, label) => part.setWeights(byLabel.get(label)!));
    for (const record of found) if (!this.records.has(record.name)) this.records.set(record.name, record);
    this.iterations_ = (await iter.tensor.data())[0]!;
  }

  /** Runs `load` on every optimizer; if one throws, those already loaded get their state back. */
  private async replaceAll(load: (part: PartitionMember, label: string) => Promise<void>): Promise<void> {
    const parts = [...this.parts];
    const previous = await Promise.all(parts.map(([, part]) => part.saveState()));
    const done: number[] = [];
    try {
      for (const [i, [label, part]] of parts.entries()) {
        await load(part, label);
        done.push(i);
      }
    } catch (error) {
      for (const i of done) await parts[i]![1].loadState(previous[i]!);
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // optimkit state format

  /**
   * The whole state as one optimkit state: the partition's config and iterations, every
   * optimizer's variables (in `variables`, their tensors in one payload) and, in
   * `extra.partitions`, each optimizer's class, config, param groups and extra state, with the
   * label of every variable in `extra.labels`.
   */
  async saveState(): Promise<Uint8Array> {
    const config = this.getConfig() as Record<string, unknown>;
    const iterations = this.iterations;
    // Each optimizer takes its state when called, before the first await: all at this moment.
    const parts = [...this.parts];
    const saved = await Promise.all(parts.map(([, part]) => part.saveState()));
    const chunks: [Uint8Array, number][] = [];
    const variables: VariableEntry[] = [];
    const partitions: Record<string, unknown> = {};
    const labels: Record<string, string> = {};
    let length = 0;
    saved.forEach((bytes, i) => {
      const label = parts[i]![0];
      const { header, payload } = decodeState(bytes);
      const base = length;
      const rebase = (entries: Record<string, TensorEntry>) =>
        Object.fromEntries(Object.entries(entries).map(([k, e]) => [k, { ...e, offset: e.offset + base }]));
      chunks.push([payload, base]);
      length += payload.length;
      for (const entry of header.variables) {
        variables.push({ ...entry, slots: rebase(entry.slots) });
        labels[entry.name] = label;
      }
      partitions[label] = {
        className: header.className,
        packageName: header.packageName,
        packageVersion: header.packageVersion,
        config: header.config,
        paramGroups: header.paramGroups,
        extraTensors: rebase(header.extraTensors),
        extra: header.extra,
      };
    });
    const header: StateHeader = {
      className: CLASS_NAME,
      packageName,
      packageVersion,
      config,
      iterations,
      paramGroups: [],
      variables,
      extraTensors: {},
      extra: { partitions, labels, skippedSteps: this.skipped },
    };
    return encodeState(header, length, (payload) => {
      for (const [chunk, offset] of chunks) payload.set(chunk, offset);
    });
  }

  /**
   * Replaces the whole state (every optimizer's, the iterations and the recorded labels) with
   * saved bytes; each optimizer keeps its own hyperparameters. Everything is validated first, by
   * each optimizer as its own `loadState` does; on any error nothing changed.
   */
  async loadState(bytes: Uint8Array | ArrayBuffer): Promise<void> {
    const { header, payload } = decodeState(bytes);
    if (header.className !== CLASS_NAME) {
      throw new StateFormatError(
        `Optimizer state is for ${header.className} (${header.packageName}), not ${CLASS_NAME}`,
      );
    }
    const {
      partitions,
      labels,
      skippedSteps = 0,
    } = header.extra as {
      partitions?: unknown;
      labels?: unknown;
      skippedSteps?: unknown;
    };
    if (!isPlainObject(partitions) || !isPlainObject(labels)) {
      throw new StateFormatError('Optimizer state of a partition has no partitions');
    }
    if (!Number.isSafeInteger(skippedSteps) || (skippedSteps as number) < 0) {
      throw new StateFormatError('Optimizer state has an invalid skippedSteps count');
    }
    const saved = Object.keys(partitions);
    if (saved.length !== this.parts.size || !saved.every((label) => this.parts.has(label))) {
      throw new StateFormatError(
        `Optimizer state has partitions ${listLabels(saved)}, but this partition has ${listLabels(this.parts.keys())}`,
      );
    }
    const records = (() => {
      try {
        return checkRecords((header.config as { variables?: unknown }).variables ?? [], this.parts);
      } catch (error) {
        throw new StateFormatError(`Optimizer state: ${(error as Error).message}`);
      }
    })();
    const byLabel = new Map(saved.map((label) => [label, [] as VariableEntry[]]));
    for (const entry of header.variables) {
      const list = byLabel.get(labels[entry.name] as string);
      if (!list) throw new StateFormatError(`Optimizer state gives '${entry.name}' no partition`);
      list.push(entry);
    }
    const innerBytes = new Map<string, Uint8Array>();
    for (const [label, part] of this.parts) {
      const inner = partitions[label] as Record<string, unknown>;
      if (!isPlainObject(inner) || inner.className !== part.getClassName()) {
        throw new StateFormatError(
          `Optimizer state has ${String(isPlainObject(inner) ? inner.className : inner)} for '${label}', not ${part.getClassName()}`,
        );
      }
      const innerHeader = { ...inner, iterations: header.iterations, variables: byLabel.get(label) };
      innerBytes.set(
        label,
        encodeState(innerHeader, payload.length, (p) => p.set(payload)),
      );
    }
    await this.replaceAll((part, label) => part.loadState(innerBytes.get(label)!));
    this.records = new Map(records.map((r) => [r.name, r]));
    this.iterations_ = header.iterations;
    this.skipped = skippedSteps as number;
  }
}

registerOptimizer(Partition as unknown as OptimizerClass);

/**
 * One `tf.Optimizer` that routes each variable to one of several optimkit optimizers (Optax's
 * `partition`; PyTorch's param groups, each with an optimizer of its own). A label function, or
 * param groups, give each variable the key of its optimizer; every optimizer then updates its variables
 * exactly as it would alone (bit for bit), and the partition is one optimizer to tfjs: one
 * `iterations`, one state file, tfjs-layers `model.save(…, { includeOptimizer: true })` and
 * `tf.loadLayersModel`.
 *
 * - **Routing**: `label(variable)` is called once per variable, on the first step that names it,
 *   and its answer is recorded by the variable's name. Param groups instead of a function,
 *   `[{ label, params: [variables or names] }, { label, match: (variable) => boolean }, …]`, label a
 *   variable by the first group that lists or matches it (a variable listed by two groups is
 *   refused, as PyTorch refuses a parameter in two param groups); those labels are recorded the same
 *   way (in `getConfig`, so a model or a state restored without the function routes every variable
 *   it recorded). A variable restored under
 *   another name (tfjs-layers renames the variables of a model loaded twice in one process) is
 *   routed by position: when a partition without a label function meets a step none of whose
 *   variables it recorded, with as many variables as it recorded and the same shapes in order
 *   (tfjs-layers' fixed order of trainable weights), it takes the recorded labels in that order.
 *   A variable with a gradient and no label (the function returned nothing, no group took it, or
 *   nothing is recorded and there is no function) or with a label no optimizer has throws an error that
 *   names the variable and the labels.
 * - **Steps**: each optimizer gets the gradients of its own variables and takes a step on every
 *   call, also without any (so schedules agree). Every optimizer checks its part first
 *   (`checkGradients`), so a bad gradient, or a variable an optimizer refuses (Muon refuses what
 *   is not 2-D), throws before any variable or state changes.
 * - **Gradient transforms**: the per-variable ones (`maximize`, `centralize`, `clipGradValue`,
 *   `adaptiveGradClip`) work in each optimizer as usual. Those over every gradient of a step
 *   belong to the partition: its `clipGradNorm` takes PyTorch's global norm over every
 *   optimizer's variables and `skipNonFinite` skips the whole step, exactly as one optimizer with
 *   these options would (tested bit for bit). On the optimizers of a partition, `clipGradNorm`,
 *   `skipNonFinite` and `accumulateSteps` are refused with an error naming the option (each would
 *   see only its own variables' gradients: a per-part norm, one part skipping or deferring a step
 *   the others take); accumulate before `applyGradients`.
 * - **State**: `saveState`/`loadState`/`loadOptimizer` write and read one optimkit state (class
 *   `OptimkitPartition`) holding every optimizer's; `getWeights`/`setWeights` prefix each
 *   optimizer's weights with its label. `variableSteps()`, `stateBytes()` and `getSlots()` answer
 *   over all the optimizers; `dispose()` frees them all (the partition owns them).
 *
 * @param optimizers - the optimizers by label: fresh optimkit optimizers, each used by no one else.
 *   Labels are letters, digits, `_`, `.` and `-`.
 * @param label - the label function, `(variable: tf.Variable) => label`, or param groups
 *   ({@link PartitionGroup}: `{ label, params }` or `{ label, match }`), the first that takes a variable labelling it.
 * @param options - `clipGradNorm` (default off) and `skipNonFinite` (default false) over all the
 *   gradients of a step: see {@link PartitionOptions}.
 * @returns a {@link Partition}, registered as `OptimkitPartition`.
 *
 * @example
 * ```ts
 * import { adamw } from '@optimkit/adam';
 * import { muon } from '@optimkit/muon';
 * import { partition } from '@optimkit/partition';
 *
 * // Muon for the hidden matrices, AdamW for embeddings, the head, biases and gains.
 * const optimizer = partition(
 *   { muon: muon({ learningRate: 0.02 }), adamw: adamw({ learningRate: 3e-4, weightDecay: 0.01 }) },
 *   (variable) => (variable.rank === 2 && !/embed|head/.test(variable.name) ? 'muon' : 'adamw'),
 * );
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 *
 * // The same with param groups: the listed head first, then every other matrix, then the rest.
 * const grouped = partition({ muon: muon(), adamw: adamw({ weightDecay: 0.01 }) }, [
 *   { label: 'adamw', params: [head.kernel] },
 *   { label: 'muon', match: (variable) => variable.rank === 2 },
 *   { label: 'adamw', match: () => true },
 * ]);
 * ```
 */
export function partition<L extends string>(
  optimizers: Readonly<Record<L, PartitionMember>>,
  label: PartitionLabels<L>,
  options: PartitionOptions = {},
): Partition {
  return new Partition(optimizers, label, options);
}
