/**
 * A traced rule lowered for the GPU backends (webgl, webgpu): the step as a few elementwise GPU
 * programs and the reductions between them. Backend-neutral: {@link GpuProgram}s are lists of
 * instructions over inputs (tensors presented at their layout) and uniforms (per-step floats), which
 * `webgl.ts` and `webgpu.ts` turn into shader source once per program.
 *
 * Every tensor is seen as `[batches, rows, cols]` (see {@link planDims}); a value of a small layout
 * keeps singleton axes (`row` is `[B, R, 1]`, `col` `[B, 1, C]`, `batch` `[B, 1, 1]`, `scalar`
 * `[1, 1, 1]`), so the backends' samplers broadcast it over the output.
 *
 * - Scalar nodes that depend only on scalars and constants are computed on the host each step, in
 *   float32 as the cpu backend computes them, and reach the programs as uniforms: shader source
 *   never depends on a step.
 * - Each reduction of a non-scalar value is a stage: a program writes its operand (divided by the
 *   count for means, as `tf.mean` divides each element before summing) and the backend's `Sum`
 *   kernel reduces it; later programs read the result as an input.
 * - Each written tensor (the param, every written slot) is one program at its layout, recomputing
 *   the subexpressions it shares with the others: nothing full-size is kept between programs.
 */
import {
  type BinaryOp,
  type CompareOp,
  type GraphNode,
  type Layout,
  type ReduceOp,
  type RuleGraph,
  type UnaryOp,
  type VariableDims,
  variableDims,
} from './graph.js';

/** The index space of a variable (see {@link VariableDims}). */
export type GpuDims = VariableDims;

/** A variable of this shape as the plan sees it. */
export const gpuDims = variableDims;

/** The rank-3 shape a value of `layout` is presented in. */
export function layoutShape(layout: Layout, d: GpuDims): [number, number, number] {
  switch (layout) {
    case 'full':
      return [d.batches, d.rows, d.cols];
    case 'row':
      return [d.batches, d.rows, 1];
    case 'col':
      return [d.batches, 1, d.cols];
    case 'batch':
      return [d.batches, 1, 1];
    case 'scalar':
      return [1, 1, 1];
  }
}

/** A tensor a program reads: a leaf of the rule, or a node computed by an earlier stage. */
export type GpuSource =
  | { kind: 'param' }
  | { kind: 'grad' }
  | { kind: 'slot'; name: string }
  | { kind: 'node'; node: number };

/** A per-step float of a program: a host-computed scalar node, or the count a mean divides by. */
export type GpuUniform = { kind: 'host'; node: number } | { kind: 'count'; of: CountOf };

/** What a mean divides by: every element of a layout, or the rows or columns of the variable. */
export type CountOf = { all: Layout } | 'rows' | 'cols';

/** An instruction operand: an input, a uniform or an earlier instruction's result. */
export type GpuOperand =
  | { kind: 'input'; index: number }
  | { kind: 'uniform'; index: number }
  | { kind: 'temp'; index: number };

/** One elementwise operation; masks are values of 0 and 1. */
export type GpuInstruction =
  | { op: UnaryOp; args: [GpuOperand] }
  | { op: BinaryOp | CompareOp; args: [GpuOperand, GpuOperand] }
  | { op: 'select'; args: [GpuOperand, GpuOperand, GpuOperand] };

/** An elementwise GPU program: writes one value of `layout` from its inputs and uniforms. */
export interface GpuProgram {
  /** A short unique name of the program (its place in the plan), for shader keys and labels. */
  readonly name: string;
  readonly layout: Layout;
  readonly inputs: readonly { source: GpuSource; layout: Layout }[];
  readonly uniforms: readonly GpuUniform[];
  readonly body: readonly GpuInstruction[];
  readonly result: GpuOperand;
  /** Shader sources by backend mode, filled by the backends (compiled once per program). */
  readonly code: Map<string, unknown>;
}

/**
 * A value computed before the output programs: a reduction (its operand, a program's output or a
 * tensor read as is, summed over `axes`), or an elementwise node kept as a tensor because a program
 * reading everything it depends on would have more inputs than the backend binds.
 */
export interface GpuStage {
  node: number;
  /** The program writing the operand (divided by the count for means), or the operand itself. */
  operand: { program: GpuProgram } | { source: GpuSource };
  /** Axes of the rank-3 operand that `Sum` reduces (keeping them as 1s); none: the operand is the value. */
  axes?: number[];
  /** The backend kernel that reduces: `Sum` (sums and means) or `Max`; `sum` when not given. */
  reduce?: 'sum' | 'max';
}

/** Where a program's output goes. */
export type GpuTarget = { kind: 'param' } | { kind: 'slot'; name: string };

const REDUCE_OPS = new Set(['sum', 'mean', 'rowMean', 'colMean', 'rowMax', 'colMax']);
const isReduce = (node: GraphNode): node is Extract<GraphNode, { op: ReduceOp }> => REDUCE_OPS.has(node.op);
const operandsOf = (node: GraphNode): number[] =>
  (['mask', 'a', 'b'] as const)
    .map((k) => (node as Record<string, unknown>)[k])
    .filter((x): x is number => typeof x === 'number');

/** A rule graph compiled for the GPU backends (once per graph and input limit). */
export class GpuPlan {
  readonly graph: RuleGraph;
  /** Stages in the order they run; each may read the results of earlier ones. */
  readonly stages: readonly GpuStage[];
  /** The param's program first, then one per written slot. */
  readonly outputs: readonly { target: GpuTarget; program: GpuProgram }[];
  /** Every program, in the order they run. */
  readonly programs: readonly GpuProgram[];
  private readonly host: boolean[];
  /** Nodes computed by a stage: reductions, and elementwise nodes split off a program. */
  private readonly computed = new Set<number>();
  private readonly maxInputs: number;
  private readonly stageList: GpuStage[] = [];
  private readonly programList: GpuProgram[] = [];

  /** `maxInputs`: the most tensors one program may read (the backend's binding limit). */
  constructor(graph: RuleGraph, maxInputs: number) {
    this.graph = graph;
    this.maxInputs = maxInputs;
    const { nodes } = graph;
    const needed = new Array<boolean>(nodes.length).fill(false);
    const mark = (id: number) => {
      if (needed[id]) return;
      needed[id] = true;
      for (const o of operandsOf(nodes[id]!)) mark(o);
    };
    mark(graph.param);
    for (const [, id] of graph.slots) mark(id);

    // Host nodes: scalars computed from scalars and constants only (slots live on the device).
    this.host = nodes.map(() => false);
    nodes.forEach((node, id) => {
      if (node.layout !== 'scalar' || node.op === 'slot') return;
      if (node.op === 'scalar' || node.op === 'constant') this.host[id] = true;
      else this.host[id] = operandsOf(node).every((o) => this.host[o]);
    });

    nodes.forEach((node, id) => {
      if (!needed[id] || !isReduce(node) || this.host[id]) return;
      const from = nodes[node.a]!.layout;
      if (from === 'scalar') return; // the sum or mean of one value is that value
      let count: CountOf | undefined;
      let axes: number[];
      if (node.op === 'sum' || node.op === 'mean') {
        axes = [0, 1, 2];
        if (node.op === 'mean') count = { all: from };
      } else if (node.op === 'rowMean') {
        axes = from === 'row' ? [1] : [2];
        count = from === 'row' ? 'rows' : 'cols';
      } else if (node.op === 'colMean') {
        axes = [1];
        count = 'rows';
      } else {
        axes = node.op === 'rowMax' ? [2] : [1];
      }
      const leaf = this.leafSource(node.a);
      const operand =
        leaf && count === undefined
          ? { source: leaf }
          : { program: this.compile(`s${this.stageList.length}`, from, node.a, count) };
      const reduce = node.op === 'rowMax' || node.op === 'colMax' ? 'max' : 'sum';
      this.stageList.push({ node: id, operand, axes, reduce });
      this.computed.add(id);
    });
    const outputs: { target: GpuTarget; program: GpuProgram }[] = [
      { target: { kind: 'param' }, program: this.compile('p', 'full', graph.param) },
    ];
    graph.slots.forEach(([name, id], i) => {
      outputs.push({ target: { kind: 'slot', name }, program: this.compile(`o${i}`, nodes[id]!.layout, id) });
    });
    this.stages = this.stageList;
    this.outputs = outputs;
    this.programs = this.programList;
  }

  /**
   * A program computing `root` at `layout`. When it would read more than `maxInputs` tensors, the
   * subexpression whose own program leaves the fewest inputs is computed first by a stage of its
   * own (and read as a tensor), until it fits.
   */
  private compile(name: string, layout: Layout, root: number, divide?: CountOf): GpuProgram {
    for (;;) {
      const program = this.compileProgram(name, layout, root, divide);
      if (program.inputs.length <= this.maxInputs) {
        this.programList.push(program);
        return program;
      }
      const split = this.bestSplit(root);
      if (split === undefined) {
        throw new Error(
          `optimkit: a GPU program of this rule reads ${program.inputs.length} tensors, more than the ${this.maxInputs} the backend binds`,
        );
      }
      const operand = this.compile(`m${this.stageList.length}`, this.graph.nodes[split]!.layout, split);
      this.stageList.push({ node: split, operand: { program: operand } });
      this.computed.add(split);
    }
  }

  /** The inputs `id` reads (by source key), through nodes computed inline. */
  private inputsOf(id: number, memo: Map<number, Set<string>>): Set<string> {
    const found = memo.get(id);
    if (found) return found;
    let result: Set<string>;
    const leaf = this.leafSource(id);
    if (this.host[id]) result = new Set();
    else if (leaf) result = new Set([JSON.stringify(leaf)]);
    else {
      result = new Set();
      for (const o of operandsOf(this.graph.nodes[id]!))
        for (const key of this.inputsOf(o, memo)) result.add(key);
    }
    memo.set(id, result);
    return result;
  }

  /** The inline node of `root`'s expression to compute first so that `root` reads the fewest tensors. */
  private bestSplit(root: number): number | undefined {
    const memo = new Map<number, Set<string>>();
    const all = this.inputsOf(root, memo).size;
    let best: number | undefined;
    let bestCount = all;
    const seen = new Set<number>();
    const visit = (id: number) => {
      if (seen.has(id) || this.host[id] || this.leafSource(id)) return;
      seen.add(id);
      const own = this.inputsOf(id, memo);
      if (id !== root && own.size >= 2 && own.size <= this.maxInputs) {
        // The root's inputs with this node read as one tensor.
        const rest = new Map<number, Set<string>>([[id, new Set([`node:${id}`])]]);
        const count = this.inputsOf(root, rest).size;
        if (count < bestCount) {
          best = id;
          bestCount = count;
        }
      }
      for (const o of operandsOf(this.graph.nodes[id]!)) visit(o);
    };
    visit(root);
    return best;
  }

  /** The tensor a node is, when it is one as is: a leaf, or a stage's result. */
  private leafSource(id: number): GpuSource | undefined {
    const node = this.graph.nodes[id]!;
    if (node.op === 'param' || node.op === 'grad') return { kind: node.op };
    if (node.op === 'slot') return { kind: 'slot', name: node.name };
    if (this.computed.has(id)) return { kind: 'node', node: id };
    return undefined;
  }

  private compileProgram(name: string, layout: Layout, root: number, divide?: CountOf): GpuProgram {
    const { nodes } = this.graph;
    const inputs: { source: GpuSource; layout: Layout }[] = [];
    const uniforms: GpuUniform[] = [];
    const body: GpuInstruction[] = [];
    const memo = new Map<number, GpuOperand>();
    const intern = <T>(list: T[], item: T): number => {
      const key = JSON.stringify(item);
      const found = list.findIndex((x) => JSON.stringify(x) === key);
      return found >= 0 ? found : list.push(item) - 1;
    };
    const emit = (instruction: GpuInstruction): GpuOperand => ({
      kind: 'temp',
      index: body.push(instruction) - 1,
    });
    const lower = (id: number): GpuOperand => {
      const found = memo.get(id);
      if (found) return found;
      const node = nodes[id]!;
      let result: GpuOperand;
      const leaf = this.leafSource(id);
      if (this.host[id]) {
        result = { kind: 'uniform', index: intern(uniforms, { kind: 'host', node: id }) };
      } else if (leaf) {
        result = { kind: 'input', index: intern(inputs, { source: leaf, layout: node.layout }) };
      } else if (isReduce(node)) {
        result = lower(node.a); // of a scalar value: the value itself (others are stages)
      } else {
        switch (node.op) {
          case 'neg':
          case 'abs':
          case 'sign':
          case 'sqrt':
          case 'rsqrt':
          case 'square':
            result = emit({ op: node.op, args: [lower(node.a)] });
            break;
          case 'add':
          case 'sub':
          case 'mul':
          case 'div':
          case 'min':
          case 'max':
          case 'greater':
          case 'less':
            result = emit({ op: node.op, args: [lower(node.a), lower(node.b)] });
            break;
          case 'select':
            result = emit({ op: 'select', args: [lower(node.mask), lower(node.a), lower(node.b)] });
            break;
          default:
            throw new Error(`optimkit: a ${node.layout} ${node.op} node cannot be lowered to a GPU program`);
        }
      }
      memo.set(id, result);
      return result;
    };
    let result = lower(root);
    if (divide !== undefined) {
      const count: GpuOperand = { kind: 'uniform', index: intern(uniforms, { kind: 'count', of: divide }) };
      result = emit({ op: 'div', args: [result, count] });
    }
    return { name, layout, inputs, uniforms, body, result, code: new Map() };
  }

  /**
   * The values of every host node at this step, rounded to float32 as the cpu backend computes
   * them (`scalars` in float64, as the rule's scalars are given).
   */
  hostValues(scalars: Readonly<Record<string, number>>): Map<number, number> {
    const { nodes } = this.graph;
    const values = new Map<number, number>();
    const f = Math.fround;
    const value = (id: number): number => {
      const found = values.get(id);
      if (found !== undefined) return found;
      const node = nodes[id]!;
      const a = () => value((node as { a: number }).a);
      const b = () => value((node as { b: number }).b);
      let x: number;
      switch (node.op) {
        case 'scalar': {
          const given = scalars[node.name];
          if (typeof given !== 'number') throw new TypeError(`optimkit: scalar '${node.name}' has no value`);
          x = f(given);
          break;
        }
        case 'constant':
          x = node.value;
          break;
        case 'neg':
          x = -a();
          break;
        case 'abs':
          x = Math.abs(a());
          break;
        case 'sign': {
          const v = a();
          x = v > 0 ? 1 : v < 0 ? -1 : 0;
          break;
        }
        case 'sqrt':
          x = f(Math.sqrt(a()));
          break;
        case 'rsqrt':
          x = f(1 / Math.sqrt(a()));
          break;
        case 'square':
          x = f(a() * a());
          break;
        case 'add':
          x = f(a() + b());
          break;
        case 'sub':
          x = f(a() - b());
          break;
        case 'mul':
          x = f(a() * b());
          break;
        case 'div':
          x = f(a() / b());
          break;
        case 'min':
          x = Math.min(a(), b());
          break;
        case 'max':
          x = Math.max(a(), b());
          break;
        case 'greater':
          x = a() > b() ? 1 : 0;
          break;
        case 'less':
          x = a() < b() ? 1 : 0;
          break;
        case 'select':
          x = value(node.mask) !== 0 ? a() : b();
          break;
        case 'sum':
        case 'mean':
          x = a(); // of one value
          break;
        default:
          throw new Error(`optimkit: node ${id} (${node.op}) is not a host scalar`);
      }
      values.set(id, x);
      return x;
    };
    for (const program of this.programs) {
      for (const u of program.uniforms) if (u.kind === 'host') value(u.node);
    }
    return values;
  }

  /** A program's uniform values for a run. */
  static uniformValues(program: GpuProgram, host: ReadonlyMap<number, number>, d: GpuDims): number[] {
    return program.uniforms.map((u) => {
      if (u.kind === 'host') return host.get(u.node)!;
      const of = u.of;
      const n = of === 'rows' ? d.rows : of === 'cols' ? d.cols : layoutSize(of.all, d);
      return Math.fround(n);
    });
  }
}

function layoutSize(layout: Layout, d: GpuDims): number {
  const [b, r, c] = layoutShape(layout, d);
  return b * r * c;
}

const CALLS: Partial<Record<GpuInstruction['op'], string>> = {
  abs: 'abs',
  sign: 'optkSign',
  sqrt: 'optkSqrt',
  rsqrt: 'optkRsqrt',
  min: 'optkMin',
  max: 'optkMax',
  greater: 'optkGreater',
  less: 'optkLess',
  select: 'optkSelect',
};
const INFIX: Partial<Record<GpuInstruction['op'], string>> = { add: '+', sub: '-', mul: '*', div: '/' };

/**
 * One instruction as a GLSL or WGSL expression (the syntax both share): operators infix, the rest
 * as calls of `abs` or the `optk…` helpers each backend defines with the cpu backend's NaN rules.
 */
export function gpuExpression(op: GpuInstruction['op'], args: readonly string[]): string {
  if (op === 'neg') return `-${args[0]}`;
  if (op === 'square') return `${args[0]} * ${args[0]}`;
  const infix = INFIX[op];
  if (infix) return `${args[0]} ${infix} ${args[1]}`;
  return `${CALLS[op]}(${args.join(', ')})`;
}
