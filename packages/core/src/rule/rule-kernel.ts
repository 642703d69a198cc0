/**
 * A rule run on its own, for an `update` that needs operations outside the rule vocabulary between
 * elementwise stages (Muon's matrix products): each stage is a rule, fused on the backends core has
 * kernels for and composite tfjs ops elsewhere, and the `update` chains them with tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelsActive } from '../fused.js';
import { FUSED_RULE_BACKENDS } from './backends.js';
import { runComposite } from './composite.js';
import {
  type Layout,
  RuleError,
  type RuleGraph,
  type RuleOps,
  type RuleResult,
  slotLayout,
  traceRule,
  type Value,
} from './graph.js';

/** What a {@link RuleKernel}'s rule receives: as a definition's rule, with its own scalars and flags. */
export interface RuleKernelContext<K extends string, S extends string, V> {
  /** The full-size tensor the rule computes a new value of (a variable, or any tensor). */
  param: Value;
  /** The second full-size input (a gradient, or any tensor of the param's shape). */
  grad: Value;
  /** The slots, by name. */
  slots: { readonly [N in K]: Value };
  /** The scalars given to {@link RuleKernel.run}, rounded to float32 where used. */
  s: { readonly [N in S]: Value };
  /** The operations. */
  op: RuleOps;
  /** The plain values given to {@link RuleKernel.run} as `variant`: one traced graph per distinct value. */
  v: Readonly<V>;
}

/** What one run of a {@link RuleKernel} takes. Tensors are the caller's; run it inside `tf.tidy`. */
export interface RuleKernelInputs<K extends string, S extends string, V> {
  param: tf.Tensor;
  grad: tf.Tensor;
  slots: { readonly [N in K]: tf.Tensor };
  scalars: { readonly [N in S]: number };
  variant: V;
  /**
   * Whether `param` may be overwritten with its new value (true for the variable being optimized,
   * as in a definition's rule). Default false: the result is a new tensor and `param` is unchanged.
   */
  inPlace?: boolean;
}

/** A rule compiled on its own: see {@link defineRuleKernel}. */
export interface RuleKernel<K extends string, S extends string, V> {
  /**
   * The rule's new param and the slots it writes. A slot (or, with `inPlace`, the param) that a
   * fused kernel updated in place may come back as the input tensor itself, or be left out.
   */
  run(inputs: RuleKernelInputs<K, S, V>): { param: tf.Tensor; slots: { [N in K]?: tf.Tensor } };
}

/**
 * Compiles a rule to run on its own, for an optimizer defined with `update` whose update has
 * elementwise stages around operations the vocabulary lacks (matrix products). The rule is traced
 * once per variant, rank class and slot layouts; on cpu, wasm, WebGL and WebGPU it runs as the
 * fused kernel `OptimkitFused_<name>` (unless fused kernels are switched off), elsewhere as tfjs
 * ops, with the same results as a definition's rule (bit for bit on cpu).
 *
 * @param spec.name The kernel's name: pass the optimizer's `className` for its final stage, so that
 *   profiles and the fused-equivalence suite count it as the optimizer's update.
 * @param spec.rule The rule; `s` holds exactly the scalars each run passes.
 *
 * @example
 * ```ts
 * const momentum = defineRuleKernel<'buffer', 'beta', Record<string, never>>({
 *   name: 'MyMomentum',
 *   rule: ({ grad, slots, s, op }) => {
 *     const buffer = op.add(op.mul(slots.buffer, s.beta), grad);
 *     return { param: buffer, slots: { buffer } };
 *   },
 * });
 * // inside an `update`: const { param: direction } = momentum.run({ param: grad, grad, slots, scalars: { beta: 0.9 }, variant: {} });
 * ```
 */
export function defineRuleKernel<K extends string, S extends string, V extends object>(spec: {
  name: string;
  rule: (context: RuleKernelContext<K, S, V>) => RuleResult<K>;
  /**
   * Slot layouts to use rather than those read from the shapes, which take a slot of the param's
   * shape as `full`: a `scalar` slot of a rank-0 param must be declared.
   */
  slotLayouts?: { readonly [N in K]?: Layout };
}): RuleKernel<K, S, V> {
  const graphs = new Map<string, RuleGraph>();
  const graphOf = (
    shape: readonly number[],
    slots: Record<string, tf.Tensor>,
    scalars: object,
    variant: V,
  ) => {
    const slotLayouts = new Map<string, Layout>();
    for (const [name, slot] of Object.entries(slots)) {
      const declared = (spec.slotLayouts as Record<string, Layout | undefined> | undefined)?.[name];
      const layout = declared ?? slotLayout(shape, slot.shape);
      if (layout === undefined) {
        throw new RuleError(`${spec.name}: slot '${name}' has a shape that is none of the param's layouts`);
      }
      slotLayouts.set(name, layout);
    }
    const scalarNames = Object.keys(scalars).sort();
    const factored = shape.length >= 2;
    const key = JSON.stringify([variant, [...slotLayouts], scalarNames, factored]);
    let graph = graphs.get(key);
    if (!graph) {
      graph = traceRule(
        {
          className: spec.name,
          slotLayouts,
          scalarNames: new Set(scalarNames),
          nullScalars: new Set(),
          factored,
        },
        (inputs, op) =>
          spec.rule({
            param: inputs.param,
            grad: inputs.grad,
            slots: inputs.slots as { readonly [N in K]: Value },
            s: inputs.scalars as { readonly [N in S]: Value },
            op,
            v: variant,
          }),
      );
      graphs.set(key, graph);
    }
    return graph;
  };
  type Result = { param: tf.Tensor; slots: { [N in K]?: tf.Tensor } };
  return {
    run({ param, grad, slots, scalars, variant, inPlace = false }): Result {
      const slotTensors = slots as Record<string, tf.Tensor>;
      const graph = graphOf(param.shape, slotTensors, scalars, variant);
      const values = scalars as Readonly<Record<string, number>>;
      const fused = fusedKernelsActive() ? FUSED_RULE_BACKENDS[tf.getBackend()] : undefined;
      if (!fused) return runComposite(graph, { param, grad, slots: slotTensors, scalars: values }) as Result;
      // A second reference to the buffer keeps a fused kernel from writing the result into it.
      const input = inPlace ? param : tf.clone(param);
      return fused.run({
        className: spec.name,
        graph,
        param: input,
        grad,
        slots: new Map(Object.entries(slotTensors)),
        scalars: values,
      }) as Result;
    },
  };
}
