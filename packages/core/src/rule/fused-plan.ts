/**
 * A traced rule compiled for the cpu and wasm backends: passes of elementwise WebAssembly kernels
 * over the variable (one per level of reductions, the last one writing every full-size output), and
 * the small values between them (row, column, batch and scalar statistics) computed in JavaScript
 * with the rounding of the float32 tensor ops they stand for. Compiled once per rule graph; a run
 * allocates only arrays of the small layouts.
 */
import {
  type ElementwiseBuilder,
  type ElementwiseKernel,
  type Expr,
  elementwise,
  type Mask,
} from '../elementwise.js';
import {
  type GraphNode,
  type Layout,
  type ReduceOp,
  type RuleGraph,
  type VariableDims,
  variableDims,
} from './graph.js';

/** The index space of a variable (see {@link VariableDims}). */
export type PlanDims = VariableDims;

/** A variable of this shape as the plan sees it. */
export const planDims = variableDims;

/** Elements of a value of `layout`. */
export function layoutSize(layout: Layout, d: PlanDims): number {
  switch (layout) {
    case 'full':
      return d.batches * d.rows * d.cols;
    case 'row':
      return d.batches * d.rows;
    case 'col':
      return d.batches * d.cols;
    case 'batch':
      return d.batches;
    case 'scalar':
      return 1;
  }
}

/** Arrays and scalars of one run; `out` holds the param and every slot the rule writes. */
export interface PlanRun {
  dims: PlanDims;
  param: Float32Array;
  grad: Float32Array;
  slots: Readonly<Record<string, Float32Array>>;
  scalars: Readonly<Record<string, number>>;
  out: { param: Float32Array; slots: Readonly<Record<string, Float32Array>> };
  /**
   * Scratch for the small arrays the kernels read and write, {@link FusedPlan.workspace} float32
   * elements starting on an 8-byte boundary, in the same memory as the other arrays (so the kernels
   * run in place on the wasm heap).
   */
  workspace: Float32Array;
}

type FullLeaf = { source: 'param' | 'grad' } | { source: 'slot'; name: string };

interface Pass {
  kernel: ElementwiseKernel;
  /** Each kernel input: a full array, or a small node's array (batch values expanded per row). */
  inputs: ({ kind: 'full'; leaf: FullLeaf } | { kind: 'small'; node: number; expand: boolean })[];
  /** Each kernel scalar: a small scalar node, or the count a mean divides by. */
  scalars: ({ kind: 'node'; node: number } | { kind: 'count'; of: 'all' | 'rows' | 'cols' })[];
  /**
   * Full outputs, in kernel order: the param, written full slots, then the operands of the pass's
   * maxima (written to scratch, reduced in JavaScript as tf.max does).
   */
  outputs: ({ kind: 'param' } | { kind: 'slot'; name: string } | { kind: 'scratch'; node: number })[];
  /** Reduction nodes whose results this pass produces, in the kernel's sum / rowSum / colSum order. */
  sums: number[];
  rowSums: number[];
  colSums: number[];
  /** Argument arrays refilled on every run, so that a run allocates none (runs never overlap). */
  buffers: {
    inputs: Float32Array[];
    scalars: number[];
    outputs: Float32Array[];
    rowSums: Float32Array[];
    colSums: Float64Array[];
  };
}

type FullOutput = { kind: 'param' } | { kind: 'slot'; name: string };

const isFull = (node: GraphNode) => node.layout === 'full';
const EMPTY = new Float32Array(0);
const EMPTY64 = new Float64Array(0);

/** A compiled rule for the cpu and wasm backends. */
export class FusedPlan {
  private readonly graph: RuleGraph;
  private readonly passes: Pass[];
  /** Small nodes that get an array (not scalars, not full), in topological order. */
  private readonly smallNodes: number[];
  private readonly smallOutputs: [string, number][];
  /**
   * The small nodes (scalars included) evaluated in JavaScript before each pass, and after the
   * last one, in topological order; results of reductions over the variable come from the passes.
   */
  private readonly stages: number[][];
  /** Per run: scalar values and small arrays, by node (runs never overlap: JavaScript is one thread). */
  private readonly scalarValues: Float64Array;
  private readonly arrays: (Float32Array | undefined)[];

  constructor(graph: RuleGraph) {
    this.graph = graph;
    const { nodes } = graph;
    const needed = new Array<boolean>(nodes.length).fill(false);
    const mark = (id: number) => {
      if (needed[id]) return;
      needed[id] = true;
      const node = nodes[id]!;
      for (const key of ['a', 'b', 'mask'] as const) {
        const operand = (node as Record<string, unknown>)[key];
        if (typeof operand === 'number') mark(operand);
      }
    };
    mark(graph.param);
    for (const [, id] of graph.slots) mark(id);

    // Depth: how many passes over the variable a node's value needs before it is known.
    const depth = nodes.map(() => 0);
    nodes.forEach((node, id) => {
      const operands = (['a', 'b', 'mask'] as const)
        .map((k) => (node as Record<string, unknown>)[k])
        .filter((x): x is number => typeof x === 'number');
      const base = Math.max(0, ...operands.map((o) => depth[o]!));
      const reducesFull = isReduce(node) && isFull(nodes[(node as { a: number }).a]!);
      depth[id] = reducesFull ? base + 1 : base;
    });
    const fullOutputs: [FullOutput, number][] = [[{ kind: 'param' }, graph.param]];
    this.smallOutputs = [];
    for (const [name, id] of graph.slots) {
      if (isFull(nodes[id]!)) fullOutputs.push([{ kind: 'slot', name }, id]);
      else this.smallOutputs.push([name, id]);
    }
    const fullReduces = nodes
      .map((node, id) => ({ node, id }))
      .filter(({ node, id }) => needed[id] && isReduce(node) && isFull(nodes[(node as { a: number }).a]!));
    const last = Math.max(
      ...fullOutputs.map(([, id]) => depth[id]!),
      ...fullReduces.map(({ node }) => depth[(node as { a: number }).a]!),
    );
    this.passes = [];
    this.stages = [];
    const fromPasses = new Set(fullReduces.map((r) => r.id));
    const inJavaScript = nodes
      .map((node, id) => ({ node, id }))
      .filter(({ node, id }) => needed[id] && !isFull(node) && !fromPasses.has(id));
    const staged = new Set<number>();
    const stage = (upTo: number) =>
      inJavaScript
        .filter(({ id }) => depth[id]! <= upTo && !staged.has(id))
        .map(({ id }) => {
          staged.add(id);
          return id;
        });
    for (let k = 0; k <= last; k++) {
      const reduces = fullReduces
        .filter(({ node }) => depth[(node as { a: number }).a] === k)
        .map((r) => r.id);
      if (reduces.length === 0 && k < last) continue;
      this.stages.push(stage(k));
      this.passes.push(this.compilePass(reduces, k === last ? fullOutputs : []));
    }
    this.stages.push(stage(Number.POSITIVE_INFINITY));
    this.scalarValues = new Float64Array(nodes.length);
    this.arrays = new Array(nodes.length);
    this.smallNodes = nodes
      .map((node, id) => ({ node, id }))
      .filter(({ node, id }) => needed[id] && !isFull(node) && node.layout !== 'scalar')
      .map(({ id }) => id);
  }

  private compilePass(reduces: number[], fullOutputs: [FullOutput, number][]): Pass {
    const { nodes } = this.graph;
    const outputs: [Pass['outputs'][number], number][] = [...fullOutputs];
    for (const id of reduces) {
      const node = nodes[id]!;
      if (isMax(node)) outputs.push([{ kind: 'scratch', node: id }, node.a]);
    }
    const pass: Pass = {
      kernel: undefined as unknown as ElementwiseKernel,
      inputs: [],
      scalars: [],
      outputs: outputs.map(([o]) => o),
      sums: [],
      rowSums: [],
      colSums: [],
      buffers: { inputs: [], scalars: [], outputs: [], rowSums: [], colSums: [] },
    };
    const define = (e: ElementwiseBuilder): Expr[] => {
      const memo = new Map<number, Expr | Mask>();
      const scalarArg = (arg: Pass['scalars'][number]) => {
        const key = JSON.stringify(arg);
        let index = pass.scalars.findIndex((s) => JSON.stringify(s) === key);
        if (index < 0) index = pass.scalars.push(arg) - 1;
        return e.scalar(index);
      };
      const inputArg = (arg: Pass['inputs'][number]) => {
        const key = JSON.stringify(arg);
        let index = pass.inputs.findIndex((s) => JSON.stringify(s) === key);
        if (index < 0) index = pass.inputs.push(arg) - 1;
        return index;
      };
      const expr = (id: number): Expr => lower(id) as Expr;
      const lower = (id: number): Expr | Mask => {
        const found = memo.get(id);
        if (found) return found;
        const node = nodes[id]!;
        let result: Expr | Mask;
        if (!isFull(node)) {
          // Known before this pass: a kernel argument.
          if (node.op === 'constant') result = e.constant(node.value);
          else if (node.layout === 'scalar') result = scalarArg({ kind: 'node', node: id });
          else if (node.layout === 'col')
            result = e.colInput(inputArg({ kind: 'small', node: id, expand: false }));
          else result = e.rowInput(inputArg({ kind: 'small', node: id, expand: node.layout === 'batch' }));
          // A small mask arrives as 0 or 1.
          if (node.op === 'greater' || node.op === 'less') result = e.greater(result, e.constant(0));
        } else {
          switch (node.op) {
            case 'param':
            case 'grad':
              result = e.input(inputArg({ kind: 'full', leaf: { source: node.op } }));
              break;
            case 'slot':
              result = e.input(inputArg({ kind: 'full', leaf: { source: 'slot', name: node.name } }));
              break;
            case 'neg':
            case 'abs':
            case 'sign':
            case 'sqrt':
            case 'rsqrt':
              result = e[node.op](expr(node.a));
              break;
            case 'square': {
              const a = expr(node.a);
              result = e.mul(a, a);
              break;
            }
            case 'add':
            case 'sub':
            case 'mul':
            case 'div':
            case 'min':
            case 'max':
              result = e[node.op](expr(node.a), expr(node.b));
              break;
            case 'greater':
              result = e.greater(expr(node.a), expr(node.b));
              break;
            case 'less':
              result = e.less(expr(node.a), expr(node.b));
              break;
            case 'select':
              result = e.select(lower(node.mask) as Mask, expr(node.a), expr(node.b));
              break;
            default:
              throw new Error(`optimkit: a full ${node.op} node cannot be lowered`);
          }
        }
        memo.set(id, result);
        return result;
      };
      for (const id of reduces) {
        const node = nodes[id] as { op: ReduceNode['op']; a: number };
        if (node.op === 'rowMax' || node.op === 'colMax') continue; // a scratch output
        const x = expr(node.a);
        if (node.op === 'sum') {
          e.sum(x);
          pass.sums.push(id);
        } else if (node.op === 'mean') {
          // tf.mean divides each element by the count (a float32 scalar), then sums.
          e.sum(e.div(x, scalarArg({ kind: 'count', of: 'all' })));
          pass.sums.push(id);
        } else if (node.op === 'rowMean') {
          e.rowSum(e.div(x, scalarArg({ kind: 'count', of: 'cols' })));
          pass.rowSums.push(id);
        } else {
          e.colSum(e.div(x, scalarArg({ kind: 'count', of: 'rows' })));
          pass.colSums.push(id);
        }
      }
      return outputs.map(([, id]) => expr(id));
    };
    pass.kernel = elementwise(define);
    return pass;
  }

  /** Float32 elements of scratch a run needs for a variable of these dims. */
  workspace(d: PlanDims): number {
    let total = 0;
    for (const id of this.smallNodes) total += align(layoutSize(this.graph.nodes[id]!.layout, d));
    for (const pass of this.passes) {
      for (const output of pass.outputs)
        if (output.kind === 'scratch') total += align(d.batches * d.rows * d.cols);
      for (const input of pass.inputs)
        if (input.kind === 'small' && input.expand) total += align(d.batches * d.rows);
      total += pass.colSums.length * align(2 * d.batches * d.cols);
    }
    return total;
  }

  /** Runs the rule over one variable's arrays. */
  run(io: PlanRun): void {
    const { nodes } = this.graph;
    const d = io.dims;
    const scalars = this.scalarValues;
    const arrays = this.arrays;
    let offset = 0;
    const take = (length: number): Float32Array => {
      const view = io.workspace.subarray(offset, offset + length);
      offset += align(length);
      if (view.length < length) throw new RangeError('optimkit: the fused workspace is too small');
      return view;
    };
    for (const id of this.smallNodes) arrays[id] = take(layoutSize(nodes[id]!.layout, d));
    const n = d.batches * d.rows * d.cols;
    for (let j = 0; j < this.passes.length; j++) {
      for (const id of this.stages[j]!) this.evaluate(id, io, d);
      const pass = this.passes[j]!;
      const { inputs, scalars: kernelScalars, outputs, rowSums, colSums } = pass.buffers;
      for (let k = 0; k < pass.inputs.length; k++) {
        const input = pass.inputs[k]!;
        if (input.kind === 'full') {
          const { leaf } = input;
          inputs[k] =
            leaf.source === 'slot' ? io.slots[leaf.name]! : leaf.source === 'param' ? io.param : io.grad;
          continue;
        }
        const x = arrays[input.node]!;
        if (!input.expand) {
          inputs[k] = x;
          continue;
        }
        const expanded = take(d.batches * d.rows);
        for (let i = 0; i < expanded.length; i++) expanded[i] = x[Math.floor(i / d.rows)]!;
        inputs[k] = expanded;
      }
      for (let k = 0; k < pass.scalars.length; k++) {
        const a = pass.scalars[k]!;
        kernelScalars[k] =
          a.kind === 'node'
            ? scalars[a.node]!
            : Math.fround(a.of === 'all' ? n : a.of === 'rows' ? d.rows : d.cols);
      }
      for (let k = 0; k < pass.outputs.length; k++) {
        const o = pass.outputs[k]!;
        outputs[k] = o.kind === 'param' ? io.out.param : o.kind === 'slot' ? io.out.slots[o.name]! : take(n);
      }
      for (let k = 0; k < pass.rowSums.length; k++) rowSums[k] = arrays[pass.rowSums[k]!]!;
      for (let k = 0; k < pass.colSums.length; k++) {
        const raw = take(2 * d.batches * d.cols);
        const view = new Float64Array(raw.buffer, raw.byteOffset, d.batches * d.cols);
        view.fill(0);
        colSums[k] = view;
      }
      const totals = pass.kernel.run(d, inputs, kernelScalars, outputs, { rowSums, colSums });
      for (let k = 0; k < pass.sums.length; k++) scalars[pass.sums[k]!] = Math.fround(totals[k]!);
      for (let k = 0; k < pass.colSums.length; k++) arrays[pass.colSums[k]!]!.set(colSums[k]!);
      for (let k = 0; k < pass.outputs.length; k++) {
        const o = pass.outputs[k]!;
        if (o.kind === 'scratch') maxima(nodes[o.node]!.op === 'rowMax', outputs[k]!, arrays[o.node]!, d);
      }
      // The buffers hold no views past the run (the heap they view may be detached by then).
      inputs.fill(EMPTY);
      outputs.fill(EMPTY);
      rowSums.fill(EMPTY);
      colSums.fill(EMPTY64);
    }
    for (const id of this.stages[this.passes.length]!) this.evaluate(id, io, d);
    // Every small output is computed before any is written: outputs may be their inputs' buffers.
    for (const [name, id] of this.smallOutputs) {
      const target = io.out.slots[name]!;
      if (nodes[id]!.layout === 'scalar') target[0] = scalars[id]!;
      else target.set(arrays[id]!);
    }
    for (const id of this.smallNodes) arrays[id] = undefined;
  }

  /** Computes a small node (of a layout other than full) from values already known. */
  private evaluate(id: number, io: PlanRun, d: PlanDims): void {
    const node = this.graph.nodes[id]!;
    const scalars = this.scalarValues;
    const f = Math.fround;
    if (node.layout === 'scalar') {
      switch (node.op) {
        case 'scalar': {
          const x = io.scalars[node.name];
          if (typeof x !== 'number') throw new TypeError(`optimkit: scalar '${node.name}' has no value`);
          scalars[id] = f(x);
          return;
        }
        case 'constant':
          scalars[id] = node.value;
          return;
        case 'slot':
          scalars[id] = io.slots[node.name]![0]!;
          return;
        case 'sum':
        case 'mean': {
          // Of a small value (a reduction over the variable comes from its pass).
          const source = this.graph.nodes[node.a]!;
          const xs = source.layout === 'scalar' ? Float32Array.of(scalars[node.a]!) : this.arrays[node.a]!;
          const count = f(xs.length);
          let total = 0;
          for (let i = 0; i < xs.length; i++) total += node.op === 'mean' ? f(xs[i]! / count) : xs[i]!;
          scalars[id] = f(total);
          return;
        }
        default:
          scalars[id] = this.element(node, 0, 'scalar', d);
          return;
      }
    }
    const into = this.arrays[id]!;
    switch (node.op) {
      case 'slot':
        into.set(io.slots[node.name]!.subarray(0, into.length));
        return;
      case 'rowMean': {
        // Of a row or col value: one mean per batch over its last axis.
        const source = this.graph.nodes[node.a]!;
        const xs = this.arrays[node.a]!;
        const per = source.layout === 'row' ? d.rows : d.cols;
        const count = f(per);
        for (let b = 0; b < d.batches; b++) {
          let total = 0;
          for (let j = 0; j < per; j++) total += f(xs[b * per + j]! / count);
          into[b] = total;
        }
        return;
      }
      default:
        for (let i = 0; i < into.length; i++) into[i] = this.element(node, i, node.layout, d);
    }
  }

  /** Element `i` of an elementwise node evaluated over layout `target`, with float32 rounding. */
  private element(node: GraphNode, i: number, target: Layout, d: PlanDims): number {
    const f = Math.fround;
    const x = (operand: number): number => {
      const layout = this.graph.nodes[operand]!.layout;
      if (layout === 'scalar') return this.scalarValues[operand]!;
      return this.arrays[operand]![broadcastIndex(target, layout, i, d)]!;
    };
    switch (node.op) {
      case 'neg':
        return -x(node.a);
      case 'abs':
        return Math.abs(x(node.a));
      case 'sign': {
        const a = x(node.a);
        return a > 0 ? 1 : a < 0 ? -1 : 0;
      }
      case 'sqrt':
        return f(Math.sqrt(x(node.a)));
      case 'rsqrt':
        return f(1 / Math.sqrt(x(node.a)));
      case 'square': {
        const a = x(node.a);
        return f(a * a);
      }
      case 'add':
        return f(x(node.a) + x(node.b));
      case 'sub':
        return f(x(node.a) - x(node.b));
      case 'mul':
        return f(x(node.a) * x(node.b));
      case 'div':
        return f(x(node.a) / x(node.b));
      case 'min':
        return Math.min(x(node.a), x(node.b));
      case 'max':
        return Math.max(x(node.a), x(node.b));
      case 'greater':
        return x(node.a) > x(node.b) ? 1 : 0;
      case 'less':
        return x(node.a) < x(node.b) ? 1 : 0;
      case 'select':
        return x(node.mask) !== 0 ? x(node.a) : x(node.b);
      default:
        throw new Error(`optimkit: ${node.op} is not an elementwise node`);
    }
  }
}

type ReduceNode = Extract<GraphNode, { op: ReduceOp }>;

function isReduce(node: GraphNode): node is ReduceNode {
  return (
    node.op === 'sum' ||
    node.op === 'mean' ||
    node.op === 'rowMean' ||
    node.op === 'colMean' ||
    node.op === 'rowMax' ||
    node.op === 'colMax'
  );
}

function isMax(node: GraphNode): node is ReduceNode & { op: 'rowMax' | 'colMax' } {
  return node.op === 'rowMax' || node.op === 'colMax';
}

/**
 * The maxima of `x` (a full value) along its rows (`rows`) or columns into `into`, in the cpu
 * backend's order and with its NaN rule (a NaN met is kept).
 */
function maxima(rows: boolean, x: Float32Array, into: Float32Array, d: PlanDims): void {
  const { batches, rows: r, cols: c } = d;
  const count = rows ? c : r;
  const stride = rows ? 1 : c;
  for (let b = 0; b < batches; b++) {
    for (let k = 0; k < (rows ? r : c); k++) {
      const start = b * r * c + (rows ? k * c : k);
      let max = x[start]!;
      for (let j = 0; j < count; j++) {
        const value = x[start + j * stride]!;
        if (Number.isNaN(value) || value > max) max = value;
      }
      into[b * (rows ? r : c) + k] = max;
    }
  }
}

// Float32 elements rounded up to a multiple of 4 (16 bytes), so every array starts 8-byte aligned.
function align(length: number): number {
  return Math.ceil(length / 4) * 4;
}

/** Index into a value of layout `source` for element `i` of layout `target` (source ⊆ target). */
function broadcastIndex(target: Layout, source: Layout, i: number, d: PlanDims): number {
  if (source === target) return i;
  if (source === 'scalar') return 0;
  // source is batch, target row or col.
  return Math.floor(i / (target === 'row' ? d.rows : d.cols));
}
