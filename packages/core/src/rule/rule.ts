/**
 * Rules as optimizers define them (typed slots, scalars and variants), and their runtime: each
 * variable's situation (variant, slot layouts, null hyperparameters) selects a traced graph,
 * traced once and cached with its compiled kernels.
 */
import type { Defaults, Resolved } from '../types.js';
import {
  type Layout,
  RuleError,
  type RuleGraph,
  type RuleOps,
  type RuleResult,
  traceRule,
  type Value,
} from './graph.js';

/** The keys of `D` whose values are booleans (flags). */
export type FlagKeys<D extends Defaults> = { [K in keyof D]: D[K] extends boolean ? K : never }[keyof D] &
  string;
/** The keys of `D` whose values are numbers (or optional numbers). */
export type NumericKeys<D extends Defaults> = Exclude<keyof D & string, FlagKeys<D>>;

/** What a rule may branch on: the boolean hyperparameters and the definition's `variant`. */
export type RuleVariant<D extends Defaults, V> = { readonly [K in FlagKeys<D>]: boolean } & Readonly<V>;

/** The scalars a rule reads: every numeric hyperparameter and what `scalars()` returns. */
export type RuleScalars<D extends Defaults, S extends string> = { readonly [K in NumericKeys<D> | S]: Value };

/** What a rule receives. */
export interface RuleContext<D extends Defaults, K extends string, S extends string, V> {
  /** The variable's current value. */
  param: Value;
  /** Its gradient, after the gradient transforms. */
  grad: Value;
  /**
   * The slots, by name. Reading a slot the variable does not keep in this variant throws, so read
   * conditional slots inside the branch that needs them.
   */
  slots: { readonly [N in K]: Value };
  /** Hyperparameters and step scalars, computed in float64 once per step and rounded to float32. */
  s: RuleScalars<D, S>;
  /** The operations. */
  op: RuleOps;
  /** The flags the rule may branch on. */
  v: RuleVariant<D, V>;
}

/** A per-variable update rule: a pure function of its context, traced once per variant. */
export type Rule<D extends Defaults, K extends string, S extends string, V> = (
  context: RuleContext<D, K, S, V>,
) => RuleResult<K>;

/** The parts of an optimizer definition that make its rule. */
export interface RuleParts<D extends Defaults> {
  className: string;
  rule: Rule<D, string, string, Record<string, unknown>>;
  variant?: (h: Resolved<D>, step: number, shape: readonly number[]) => Record<string, unknown>;
  scalars?: (h: Resolved<D>, step: number, variant: Record<string, unknown>) => Record<string, number>;
  epsilons?: readonly string[];
}

/** Epsilon names already warned about, per class, so that each warning is given once. */
const warned = new Set<string>();

/** One variable's compiled situation: reused while its key stays the same. */
export interface RulePlan {
  key: string;
  graph: RuleGraph;
  variant: Record<string, unknown>;
}

/** A definition's rule with its trace cache. */
export class CompiledRule<D extends Defaults> {
  private readonly parts: RuleParts<D>;
  private readonly flags: string[];
  private readonly numeric: string[];
  private readonly plans = new Map<string, RulePlan>();
  /**
   * The scalars of the current step, by hyperparameters (one object per group and step) and
   * variant: the same object for every variable of a group, variant and step, so that those
   * variables can share a fused kernel call.
   */
  private scalarCache = new WeakMap<
    Resolved<D>,
    Map<string, { step: number; floor: number; values: Record<string, number> }>
  >();

  constructor(parts: RuleParts<D>, defaults: D) {
    this.parts = parts;
    this.flags = Object.keys(defaults).filter((k) => typeof defaults[k] === 'boolean');
    this.numeric = Object.keys(defaults).filter((k) => typeof defaults[k] !== 'boolean');
  }

  /** The variant of a variable at a step. */
  variantOf(h: Resolved<D>, step: number, shape: readonly number[]): Record<string, unknown> {
    const variant: Record<string, unknown> = {};
    for (const flag of this.flags) variant[flag] = h[flag];
    const extra = this.parts.variant?.(h, step, shape);
    if (extra !== undefined) {
      if (typeof extra !== 'object' || extra === null) {
        throw new RuleError(`${this.parts.className}: variant() must return an object of plain values`);
      }
      Object.assign(variant, extra);
    }
    return variant;
  }

  /**
   * The plan for a variable in this situation, tracing the rule the first time it is seen.
   * `previous` is the variable's plan of its last step: kept when the variant has not changed
   * (everything else in the key is fixed for a variable).
   */
  plan(
    h: Resolved<D>,
    step: number,
    shape: readonly number[],
    slotLayouts: ReadonlyMap<string, Layout>,
    previous?: RulePlan,
    maximize = false,
  ): RulePlan {
    const variant = this.variantOf(h, step, shape);
    if (previous && sameVariant(previous.variant, variant)) return previous;
    const nulls = this.numeric.filter((k) => h[k] === null);
    const factored = shape.length >= 2;
    const key = JSON.stringify([variant, [...slotLayouts], nulls, factored, maximize]);
    const found = this.plans.get(key);
    if (found) return found;
    const scalarNames = new Set([...this.numeric, ...Object.keys(this.scalarValues(h, step, variant, key))]);
    const { className, rule } = this.parts;
    const graph = traceRule(
      { className, slotLayouts, scalarNames, nullScalars: new Set(nulls), factored },
      ({ param, grad, slots, scalars }, op) =>
        rule({
          param,
          // PyTorch's maximize: the rule sees −g, before its weight decay.
          grad: maximize ? op.neg(grad) : grad,
          slots,
          s: scalars as RuleScalars<D, string>,
          op,
          v: variant as RuleVariant<D, object>,
        }),
    );
    const plan: RulePlan = { key, graph, variant };
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Every scalar the plan's graph reads, at this step (float64; the kernels round them). `floor`
   * is the least magnitude of the definition's epsilons (0 but on 16-bit backends).
   */
  scalarValues(
    h: Resolved<D>,
    step: number,
    variant: Record<string, unknown>,
    variantKey: string,
    floor = 0,
  ): Record<string, number> {
    let byVariant = this.scalarCache.get(h);
    if (!byVariant) {
      byVariant = new Map();
      this.scalarCache.set(h, byVariant);
    }
    const cache = byVariant.get(variantKey);
    if (cache && cache.step === step && cache.floor === floor) return cache.values;
    const values: Record<string, number> = {};
    for (const key of this.numeric) {
      const x = h[key];
      if (typeof x === 'number') values[key] = x;
    }
    const extra = this.parts.scalars?.(h, step, variant);
    if (extra !== undefined) {
      for (const [name, x] of Object.entries(extra)) {
        if (typeof x !== 'number') {
          throw new RuleError(
            `${this.parts.className}: scalars() returned ${String(x)} for '${name}', not a number`,
          );
        }
        values[name] = x;
      }
    }
    if (floor > 0) {
      for (const name of this.parts.epsilons ?? []) {
        const x = values[name];
        if (typeof x !== 'number' || !(Math.abs(x) < floor)) continue;
        values[name] = x < 0 ? -floor : floor;
        const key = `${this.parts.className}.${name}`;
        if (!warned.has(key)) {
          warned.add(key);
          console.warn(
            `${this.parts.className}: ${name} = ${x} underflows in this backend's 16-bit floats; using ${floor} instead`,
          );
        }
      }
    }
    byVariant.set(variantKey, { step, floor, values });
    return values;
  }
}

export type { RuleResult };

function sameVariant(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.is(a[key], b[key])) return false;
  return true;
}
