/**
 * The rule vocabulary and its tracer. An optimizer's per-variable update is a function of named
 * tensors and scalars written against {@link RuleOps}; calling it once with symbolic values records
 * a small graph (the IR) from which core derives the composite tfjs-ops path and the fused kernels
 * of every backend.
 *
 * Values have a layout over the variable's last two dimensions (leading dimensions are batched):
 * `full` (the variable's shape), `row` (one value per row: the shape without its last dimension),
 * `col` (one per column: the shape without its second-last), `batch` (one per leading index) and
 * `scalar`. Elementwise operations broadcast layouts the way tensors broadcast.
 */

/** Where a value lives, relative to the variable's shape `[...batch, rows, cols]`. */
export type Layout = 'full' | 'row' | 'col' | 'batch' | 'scalar';

// Layouts as sets of axes: batch 1, rows 2, columns 4; broadcasting is their union.
const BITS: Record<Layout, number> = { scalar: 0, batch: 1, row: 3, col: 5, full: 7 };
const FROM_BITS: Record<number, Layout> = { 0: 'scalar', 1: 'batch', 3: 'row', 5: 'col', 7: 'full' };

/** A variable's index space: leading dims batched, the last two `rows × cols`, row-major. */
export interface VariableDims {
  batches: number;
  rows: number;
  cols: number;
}

/** The {@link VariableDims} of a variable of this shape (a vector is one row). */
export function variableDims(shape: readonly number[]): VariableDims {
  if (shape.length < 2) return { batches: 1, rows: 1, cols: shape[0] ?? 1 };
  const cols = shape[shape.length - 1]!;
  const rows = shape[shape.length - 2]!;
  return { batches: shape.slice(0, -2).reduce((a, b) => a * b, 1), rows, cols };
}

/** The broadcast of two layouts. */
export function unionLayout(a: Layout, b: Layout): Layout {
  return FROM_BITS[BITS[a] | BITS[b]]!;
}

export type UnaryOp = 'neg' | 'abs' | 'sign' | 'sqrt' | 'rsqrt' | 'square';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max';
export type CompareOp = 'greater' | 'less';
/**
 * `sum`/`mean` over every element; `rowMean`/`rowMax` over the last axis; `colMean`/`colMax` over
 * the second-last.
 */
export type ReduceOp = 'sum' | 'mean' | 'rowMean' | 'colMean' | 'rowMax' | 'colMax';

/** One node of a traced rule. Operands are indices of earlier nodes. */
export type GraphNode =
  | { op: 'param' | 'grad'; layout: 'full' }
  | { op: 'slot'; name: string; layout: Layout }
  | { op: 'scalar'; name: string; layout: 'scalar' }
  | { op: 'constant'; value: number; layout: 'scalar' }
  | { op: UnaryOp; a: number; layout: Layout }
  | { op: BinaryOp; a: number; b: number; layout: Layout }
  | { op: CompareOp; a: number; b: number; layout: Layout }
  | { op: 'select'; mask: number; a: number; b: number; layout: Layout }
  | { op: ReduceOp; a: number; layout: Layout };

/** A traced rule: its nodes in topological order and which nodes it writes. */
export interface RuleGraph {
  readonly nodes: readonly GraphNode[];
  /** The node of the variable's new value. */
  readonly param: number;
  /** The slots the rule writes, with their nodes (slots left out keep their value). */
  readonly slots: readonly (readonly [string, number])[];
  /** Names of the scalars the rule reads. */
  readonly scalars: readonly string[];
  /** Names of the slots the rule reads. */
  readonly reads: readonly string[];
}

const TRACE = Symbol('optimkit.trace');

/** A tensor (or scalar) value of a rule. Opaque: combine values with {@link RuleOps}. */
export interface Value {
  readonly kind: 'value';
  readonly layout: Layout;
  /** @internal */
  readonly [TRACE]: { trace: object; id: number };
}

/** A per-element condition, from {@link RuleOps.greater} or {@link RuleOps.less}. */
export interface Mask {
  readonly kind: 'mask';
  readonly layout: Layout;
  /** @internal */
  readonly [TRACE]: { trace: object; id: number };
}

/** A value or a constant (rounded to float32, as tfjs rounds a number it is given). */
export type Operand = Value | number;

/**
 * The vocabulary of a rule. Every operation rounds to float32 exactly as the tfjs op of the same
 * name does on the cpu backend; sums and means accumulate in float64 in element order, as its
 * `tf.sum` and `tf.mean` do.
 */
export interface RuleOps {
  /** `a + b` (tf.add). */
  add(a: Operand, b: Operand): Value;
  /** `a − b` (tf.sub). */
  sub(a: Operand, b: Operand): Value;
  /** `a · b` (tf.mul). */
  mul(a: Operand, b: Operand): Value;
  /** `a / b` (tf.div). */
  div(a: Operand, b: Operand): Value;
  /** The smaller of `a` and `b`, NaN if either is (tf.minimum). */
  min(a: Operand, b: Operand): Value;
  /** The larger of `a` and `b`, NaN if either is (tf.maximum). */
  max(a: Operand, b: Operand): Value;
  /** `−a` (tf.neg). */
  neg(a: Operand): Value;
  /** `|a|` (tf.abs). */
  abs(a: Operand): Value;
  /** 1, −1, or 0 for ±0 and NaN (tf.sign). */
  sign(a: Operand): Value;
  /** `√a` (tf.sqrt). */
  sqrt(a: Operand): Value;
  /** `1/√a`, in float64 and rounded once (tf.rsqrt on cpu). */
  rsqrt(a: Operand): Value;
  /** `a · a` (tf.square). */
  square(a: Operand): Value;
  /** `a > b` (tf.greater). */
  greater(a: Operand, b: Operand): Mask;
  /** `a < b` (tf.less). */
  less(a: Operand, b: Operand): Mask;
  /** `a` where `mask` holds, else `b` (tf.where). */
  select(mask: Mask, a: Operand, b: Operand): Value;
  /** The sum of every element, a scalar (tf.sum). */
  sum(x: Value): Value;
  /** The mean of every element, a scalar (tf.mean). */
  mean(x: Value): Value;
  /** The L2 (Frobenius) norm of every element, `√Σx²`, a scalar. */
  norm(x: Value): Value;
  /**
   * The mean over the last axis (tf.mean(x, −1)): of a `full` value, one value per row; of a `row`
   * or `col` value, one per batch. The variable needs rank ≥ 2.
   */
  rowMean(x: Value): Value;
  /** The mean over the second-last axis of a `full` value (tf.mean(x, −2)): one value per column. */
  colMean(x: Value): Value;
  /**
   * The largest element along the last axis of a `full` value (tf.max(x, −1)), NaN if any is:
   * one value per row. The variable needs rank ≥ 2.
   */
  rowMax(x: Value): Value;
  /** The largest element along the second-last axis of a `full` value (tf.max(x, −2)): one per column. */
  colMax(x: Value): Value;
}

/** What a traced rule returns: the new variable value and the slots it writes. */
export interface RuleResult<K extends string = string> {
  param: Value;
  slots?: { readonly [S in K]?: Value };
}

/** A rule's error, naming the optimizer (and the slot or scalar when there is one). */
export class RuleError extends TypeError {
  override name = 'RuleError';
}

/** What the tracer needs to know about the variable and the hyperparameters. */
export interface TraceSpec {
  className: string;
  /** Layout of each slot the variable keeps. */
  slotLayouts: ReadonlyMap<string, Layout>;
  /** Scalar names the rule may read. */
  scalarNames: ReadonlySet<string>;
  /** Hyperparameters that are `null` here, with what reading them means. */
  nullScalars: ReadonlySet<string>;
  /** Whether row and column reductions are allowed (rank ≥ 2). */
  factored: boolean;
}

/** The rule's symbolic arguments. */
export interface TraceInputs {
  param: Value;
  grad: Value;
  slots: Readonly<Record<string, Value>>;
  scalars: Readonly<Record<string, Value>>;
}

/** Traces `rule` once against symbolic inputs and returns its graph. */
export function traceRule(
  spec: TraceSpec,
  rule: (inputs: TraceInputs, op: RuleOps) => RuleResult,
): RuleGraph {
  const who = spec.className;
  const trace = {};
  const nodes: GraphNode[] = [];
  const memo = new Map<string, number>();
  const scalarsRead: string[] = [];
  const slotsRead: string[] = [];
  let open = true;
  const push = (node: GraphNode): number => {
    if (!open) throw new RuleError(`${who}: a rule value was used after the rule returned`);
    const key = JSON.stringify(node);
    const found = memo.get(key);
    if (found !== undefined) return found;
    nodes.push(node);
    memo.set(key, nodes.length - 1);
    return nodes.length - 1;
  };
  const make = <T extends 'value' | 'mask'>(kind: T, id: number) =>
    Object.freeze({ kind, layout: nodes[id]!.layout, [TRACE]: { trace, id } }) as T extends 'value'
      ? Value
      : Mask;
  const value = (id: number) => make('value', id);
  const idOf = (x: unknown, kind: 'value' | 'mask', what: string): number => {
    if (kind === 'value' && typeof x === 'number') {
      if (typeof x !== 'number') throw new RuleError(`${who}: ${what} is not a number or rule value`);
      return push({ op: 'constant', value: Math.fround(x), layout: 'scalar' });
    }
    const handle = (x as Value | undefined)?.[TRACE];
    if (!handle || handle.trace !== trace || (x as Value).kind !== kind) {
      throw new RuleError(
        `${who}: ${what} must be a ${kind === 'mask' ? 'mask (from op.greater or op.less)' : 'number or a value of this rule'}` +
          (typeof x === 'object' && x !== null && 'dataId' in x
            ? ', not a tf.Tensor: rules use op.*, not tf.*'
            : ''),
      );
    }
    return handle.id;
  };
  const layoutOf = (id: number) => nodes[id]!.layout;
  const unary = (op: UnaryOp) => (a: Operand) => {
    const ia = idOf(a, 'value', `the operand of op.${op}`);
    return value(push({ op, a: ia, layout: layoutOf(ia) }));
  };
  const binary = (op: BinaryOp) => (a: Operand, b: Operand) => {
    const ia = idOf(a, 'value', `the first operand of op.${op}`);
    const ib = idOf(b, 'value', `the second operand of op.${op}`);
    return value(push({ op, a: ia, b: ib, layout: unionLayout(layoutOf(ia), layoutOf(ib)) }));
  };
  const compare = (op: CompareOp) => (a: Operand, b: Operand) => {
    const ia = idOf(a, 'value', `the first operand of op.${op}`);
    const ib = idOf(b, 'value', `the second operand of op.${op}`);
    return make('mask', push({ op, a: ia, b: ib, layout: unionLayout(layoutOf(ia), layoutOf(ib)) }));
  };
  const reduce = (op: ReduceOp, x: Value): Value => {
    const ia = idOf(x, 'value', `the operand of op.${op}`);
    const from = layoutOf(ia);
    let layout: Layout | undefined = 'scalar';
    if (op !== 'sum' && op !== 'mean') {
      if (!spec.factored) {
        throw new RuleError(
          `${who}: op.${op} needs a variable of rank ≥ 2 (give such variables another variant)`,
        );
      }
      const reduced: Partial<Record<Layout, Layout>> =
        op === 'rowMean'
          ? { full: 'row', row: 'batch', col: 'batch' }
          : op === 'rowMax'
            ? { full: 'row' }
            : { full: 'col' };
      layout = reduced[from];
      if (layout === undefined) throw new RuleError(`${who}: op.${op} of a ${from} value is not defined`);
    }
    return value(push({ op, a: ia, layout }));
  };
  const op: RuleOps = {
    add: binary('add'),
    sub: binary('sub'),
    mul: binary('mul'),
    div: binary('div'),
    min: binary('min'),
    max: binary('max'),
    neg: unary('neg'),
    abs: unary('abs'),
    sign: unary('sign'),
    sqrt: unary('sqrt'),
    rsqrt: unary('rsqrt'),
    square: unary('square'),
    greater: compare('greater'),
    less: compare('less'),
    select: (mask, a, b) => {
      const im = idOf(mask, 'mask', 'the mask of op.select');
      const ia = idOf(a, 'value', 'the second operand of op.select');
      const ib = idOf(b, 'value', 'the third operand of op.select');
      const layout = unionLayout(layoutOf(im), unionLayout(layoutOf(ia), layoutOf(ib)));
      return value(push({ op: 'select', mask: im, a: ia, b: ib, layout }));
    },
    sum: (x) => reduce('sum', x),
    mean: (x) => reduce('mean', x),
    norm: (x) => op.sqrt(reduce('sum', op.square(x))),
    rowMean: (x) => reduce('rowMean', x),
    colMean: (x) => reduce('colMean', x),
    rowMax: (x) => reduce('rowMax', x),
    colMax: (x) => reduce('colMax', x),
  };
  Object.freeze(op);

  const slotNames = [...spec.slotLayouts.keys()];
  const slots = new Proxy({} as Record<string, Value>, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      const layout = spec.slotLayouts.get(key);
      if (layout === undefined) {
        throw new RuleError(
          `${who}: the rule reads slot '${key}', which this variable does not keep here ` +
            `(its slots: ${slotNames.join(', ') || 'none'})`,
        );
      }
      if (!slotsRead.includes(key)) slotsRead.push(key);
      return value(push({ op: 'slot', name: key, layout }));
    },
    has: (_target, key) => typeof key === 'string' && spec.slotLayouts.has(key),
    ownKeys: () => slotNames,
    getOwnPropertyDescriptor: (_target, key) =>
      typeof key === 'string' && spec.slotLayouts.has(key)
        ? { configurable: true, enumerable: true, writable: false, value: undefined }
        : undefined,
  });
  const scalars = new Proxy({} as Record<string, Value>, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      if (spec.nullScalars.has(key)) {
        throw new RuleError(
          `${who}: the rule reads '${key}', which is null here; branch on it in variant() instead`,
        );
      }
      if (!spec.scalarNames.has(key)) {
        throw new RuleError(
          `${who}: the rule reads scalar '${key}', which is neither a numeric hyperparameter nor returned by scalars()`,
        );
      }
      if (!scalarsRead.includes(key)) scalarsRead.push(key);
      return value(push({ op: 'scalar', name: key, layout: 'scalar' }));
    },
  });
  const inputs: TraceInputs = {
    param: value(push({ op: 'param', layout: 'full' })),
    grad: value(push({ op: 'grad', layout: 'full' })),
    slots,
    scalars,
  };
  const result = rule(inputs, op);
  if (typeof result !== 'object' || result === null) {
    throw new RuleError(`${who}: the rule must return { param, slots? }`);
  }
  const param = idOf(result.param, 'value', 'the param the rule returns');
  if (layoutOf(param) !== 'full') {
    throw new RuleError(
      `${who}: the rule returns a ${layoutOf(param)} param; it must have the variable's shape`,
    );
  }
  const written: [string, number][] = [];
  for (const [name, x] of Object.entries(result.slots ?? {})) {
    if (x === undefined) continue;
    const layout = spec.slotLayouts.get(name);
    if (layout === undefined) {
      throw new RuleError(
        `${who}: the rule writes slot '${name}', which this variable does not keep here ` +
          `(its slots: ${slotNames.join(', ') || 'none'})`,
      );
    }
    const id = idOf(x, 'value', `slot '${name}' the rule returns`);
    if (layoutOf(id) !== layout) {
      throw new RuleError(
        `${who}: the rule writes a ${layoutOf(id)} value to slot '${name}', which is ${layout}`,
      );
    }
    written.push([name, id]);
  }
  open = false;
  return { nodes, param, slots: written, scalars: scalarsRead, reads: slotsRead };
}

/**
 * The layout of a slot of shape `slot` for a variable of shape `variable`: the variable's own shape
 * is `full`, `shape[:-1]` is `row`, `shape[:-2] + shape[-1:]` is `col`, `shape[:-2]` is `batch`,
 * `[]` is `scalar`; anything else is not a layout (undefined).
 */
export function slotLayout(variable: readonly number[], slot: readonly number[]): Layout | undefined {
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  if (same(slot, variable)) return 'full';
  if (slot.length === 0) return 'scalar';
  if (variable.length < 2) return undefined;
  const lead = variable.slice(0, -2);
  if (same(slot, variable.slice(0, -1))) return 'row';
  if (same(slot, [...lead, variable[variable.length - 1]!])) return 'col';
  if (same(slot, lead)) return 'batch';
  return undefined;
}
