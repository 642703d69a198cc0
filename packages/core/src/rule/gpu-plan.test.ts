/**
 * The GPU lowering of rule graphs, checked in Node: the plans' structure (stages at reductions,
 * one program per written tensor, scalars as uniforms, programs split to the binding limit), and
 * their arithmetic, run by a float32 interpreter of the programs against the composite tfjs ops on
 * the cpu backend. The shaders themselves run in the browser tests (`apps/browser`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { broadcastShape, runComposite } from './composite.js';
import {
  type GpuDims,
  type GpuOperand,
  GpuPlan,
  type GpuProgram,
  type GpuSource,
  gpuDims,
  layoutShape,
} from './gpu-plan.js';
import { type Layout, type RuleGraph, type RuleOps, type TraceInputs, traceRule } from './graph.js';

function trace(
  slots: Record<string, Layout>,
  scalars: string[],
  rule: (
    inputs: TraceInputs,
    op: RuleOps,
  ) => { param: TraceInputs['param']; slots?: Record<string, TraceInputs['param']> },
): RuleGraph {
  return traceRule(
    {
      className: 'Test',
      slotLayouts: new Map(Object.entries(slots)),
      scalarNames: new Set(scalars),
      nullScalars: new Set(),
      factored: true,
    },
    rule,
  );
}

const adamw = () =>
  trace(
    { m: 'full', v: 'full' },
    ['lr', 'b1', 'b2', 'eps', 'decay'],
    ({ param, grad, slots, scalars: s }, op) => {
      const m = op.add(op.mul(slots.m!, s.b1!), op.mul(grad, op.sub(1, s.b1!)));
      const v = op.add(op.mul(slots.v!, s.b2!), op.mul(op.square(grad), op.sub(1, s.b2!)));
      const step = op.div(m, op.add(op.sqrt(v), s.eps!));
      return { param: op.sub(op.mul(param, s.decay!), op.mul(step, s.lr!)), slots: { m, v } };
    },
  );

// A LAMB-like trust ratio (norms: full reductions to scalars), with a select on a mask.
const trust = () =>
  trace({ m: 'full' }, ['lr'], ({ param, grad, slots, scalars: s }, op) => {
    const m = op.add(op.mul(slots.m!, 0.9), grad);
    const ratio = op.select(op.greater(op.norm(m), 0), op.div(op.norm(param), op.norm(m)), 1);
    return { param: op.sub(param, op.mul(op.mul(m, ratio), s.lr!)), slots: { m } };
  });

// Adafactor-like factored second moment: row and column means, a row slot and a col slot.
const factored = () =>
  trace({ r: 'row', c: 'col' }, ['lr', 'b2'], ({ param, grad, slots, scalars: s }, op) => {
    const g2 = op.add(op.square(grad), 1e-3);
    const r = op.add(op.mul(slots.r!, s.b2!), op.mul(op.rowMean(g2), op.sub(1, s.b2!)));
    const c = op.add(op.mul(slots.c!, s.b2!), op.mul(op.colMean(g2), op.sub(1, s.b2!)));
    const v = op.div(op.mul(r, c), op.rowMean(r));
    const u = op.mul(grad, op.rsqrt(v));
    const rms = op.sqrt(op.mean(op.square(u)));
    return { param: op.sub(param, op.mul(op.div(u, op.max(1, rms)), s.lr!)), slots: { r, c } };
  });

// SM3-like cover statistics: row and column maxima of a full accumulator, and their min.
const maxima = () =>
  trace({ r: 'row', c: 'col' }, ['lr'], ({ param, grad, slots, scalars: s }, op) => {
    const accumulator = op.add(op.square(grad), op.min(slots.r!, slots.c!));
    const u = op.mul(grad, op.rsqrt(op.add(accumulator, 1e-8)));
    return {
      param: op.sub(param, op.mul(u, s.lr!)),
      slots: { r: op.rowMax(accumulator), c: op.colMax(accumulator) },
    };
  });

// Nine slots summed: more inputs than a WebGPU program binds.
const wide = () =>
  trace(
    Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`s${i}`, 'full' as Layout])),
    ['lr'],
    ({ param, grad, slots, scalars: s }, op) => {
      let total = grad;
      for (let i = 0; i < 9; i++) total = op.add(total, op.mul(slots[`s${i}`]!, i + 1));
      return { param: op.sub(param, op.mul(total, s.lr!)), slots: { s0: op.add(slots.s0!, grad) } };
    },
  );

describe('GPU plans', () => {
  it('AdamW: no stages, one program per written tensor, every scalar a uniform', () => {
    const plan = new GpuPlan(adamw(), 7);
    expect(plan.stages).toHaveLength(0);
    expect(plan.outputs.map((o) => o.target)).toEqual([
      { kind: 'param' },
      { kind: 'slot', name: 'm' },
      { kind: 'slot', name: 'v' },
    ]);
    const [p, m, v] = plan.outputs.map((o) => o.program) as [GpuProgram, GpuProgram, GpuProgram];
    expect(p.inputs.map((i) => i.source.kind).sort()).toEqual(['grad', 'param', 'slot', 'slot']);
    expect(m.inputs.map((i) => i.source)).toEqual([{ kind: 'slot', name: 'm' }, { kind: 'grad' }]);
    expect(v.inputs).toHaveLength(2);
    for (const program of plan.programs) expect(program.uniforms.every((u) => u.kind === 'host')).toBe(true);
    // 1 − β is computed on the host: the programs see it as one uniform.
    const host = plan.hostValues({ lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, decay: 0.99 });
    expect([...host.values()]).toContain(Math.fround(Math.fround(1) - Math.fround(0.9)));
  });

  it('reductions are stages: a program for the operand (divided for means), Sum over its axes', () => {
    const plan = new GpuPlan(factored(), 16);
    const axes = plan.stages.map((s) => s.axes);
    expect(axes).toEqual([[2], [1], [1], [0, 1, 2]]); // rowMean, colMean, rowMean of a row, mean
    // With WebGPU's 7 inputs the param's program (param, grad, 2 slots, 4 reductions) is split once.
    expect(new GpuPlan(factored(), 7).stages.map((s) => s.axes)).toEqual([...axes, undefined]);
    for (const stage of plan.stages) expect('program' in stage.operand).toBe(true);
    expect(plan.outputs.map((o) => o.program.layout)).toEqual(['full', 'row', 'col']);
    const norms = new GpuPlan(trust(), 7);
    expect(norms.stages.map((s) => s.axes)).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
  });

  it('row and column maxima are stages reduced by Max over the last or second-last axis', () => {
    const plan = new GpuPlan(maxima(), 7);
    expect(plan.stages.map((s) => [s.reduce, s.axes])).toEqual([
      ['max', [2]],
      ['max', [1]],
    ]);
    // Their operand is the accumulator's own program (no division), read by no other program.
    for (const stage of plan.stages) {
      expect('program' in stage.operand && stage.operand.program.uniforms).toEqual([]);
    }
    expect(plan.outputs.map((o) => o.program.layout)).toEqual(['full', 'row', 'col']);
    expect(new GpuPlan(factored(), 16).stages.every((s) => s.reduce === 'sum')).toBe(true);
  });

  it('splits a program that would read more tensors than the backend binds', () => {
    const graph = wide();
    const plan = new GpuPlan(graph, 4);
    expect(plan.stages.length).toBeGreaterThan(0);
    expect(plan.stages.every((s) => s.axes === undefined)).toBe(true);
    for (const program of plan.programs) expect(program.inputs.length).toBeLessThanOrEqual(4);
    expect(new GpuPlan(graph, 16).stages).toHaveLength(0);
  });

  for (const [name, make, shapes] of [
    ['adamw', adamw, [[], [5], [3, 4], [2, 3, 4]]],
    ['trust ratio', trust, [[], [7], [3, 5]]],
    [
      'factored',
      factored,
      [
        [4, 6],
        [2, 3, 5],
      ],
    ],
    ['wide, split', wide, [[3], [2, 3]]],
    [
      'maxima',
      maxima,
      [
        [4, 6],
        [2, 3, 5],
      ],
    ],
  ] as [string, () => RuleGraph, number[][]][]) {
    it(`${name}: the interpreted plan equals the composite ops on cpu`, () => {
      const graph = make();
      const scalars = { lr: 0.05, b1: 0.9, b2: 0.99, eps: 1e-8, decay: 0.995 };
      for (const shape of shapes) {
        const plan = new GpuPlan(graph, 4);
        const size = shape.reduce((a, b) => a * b, 1);
        const random = (seed: number) =>
          Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 1.5);
        const param = random(1);
        const grad = random(2);
        const slotShapes: Record<string, number[]> = {};
        const slotValues: Record<string, Float32Array> = {};
        graph.nodes.forEach((node) => {
          if (node.op !== 'slot') return;
          const full = broadcastShape(node.layout, shape);
          slotShapes[node.name] = node.layout === 'full' ? shape : full;
          slotValues[node.name] = Float32Array.from({ length: full.reduce((a, b) => a * b, 1) }, (_, i) =>
            Math.abs(Math.cos(i + node.name.length)),
          );
        });
        const got = interpret(plan, gpuDims(shape), { param, grad, slots: slotValues }, scalars);
        const want = tf.tidy(() => {
          const result = runComposite(graph, {
            param: tf.tensor(param, shape),
            grad: tf.tensor(grad, shape),
            slots: Object.fromEntries(
              Object.entries(slotValues).map(([k, v]) => [k, tf.tensor(v, slotShapes[k]!)]),
            ),
            scalars,
          });
          return {
            param: result.param.dataSync() as Float32Array,
            slots: Object.fromEntries(Object.entries(result.slots).map(([k, t]) => [k, t.dataSync()])),
          };
        });
        expectClose(got.param, want.param, `${name} [${shape}] param`);
        for (const [k, v] of Object.entries(want.slots))
          expectClose(got.slots[k]!, v, `${name} [${shape}] ${k}`);
      }
    });
  }
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tolerance = 1e-6 + 1e-5 * Math.abs(want[i]!);
    if (!(Math.abs(got[i]! - want[i]!) <= tolerance)) expect.fail(`${label}[${i}]: ${got[i]} ≠ ${want[i]}`);
  }
}

/**
 * Runs a plan as the GPU would, in float32 JavaScript: programs elementwise with broadcasting, Sum
 * in float64, Max exactly.
 */
function interpret(
  plan: GpuPlan,
  d: GpuDims,
  leaves: { param: Float32Array; grad: Float32Array; slots: Record<string, Float32Array> },
  scalars: Record<string, number>,
): { param: Float32Array; slots: Record<string, Float32Array> } {
  const host = plan.hostValues(scalars);
  const nodes = new Map<number, Float32Array>();
  const f = Math.fround;
  const source = (s: GpuSource): Float32Array =>
    s.kind === 'node' ? nodes.get(s.node)! : s.kind === 'slot' ? leaves.slots[s.name]! : leaves[s.kind];
  const run = (program: GpuProgram): Float32Array => {
    const [B, R, C] = layoutShape(program.layout, d);
    const out = new Float32Array(B * R * C);
    const uniforms = GpuPlan.uniformValues(program, host, d);
    const inputs = program.inputs.map((input) => ({
      data: source(input.source),
      shape: layoutShape(input.layout, d),
    }));
    for (let b = 0; b < B; b++)
      for (let r = 0; r < R; r++)
        for (let c = 0; c < C; c++) {
          const temps: number[] = [];
          const value = (o: GpuOperand): number => {
            if (o.kind === 'uniform') return uniforms[o.index]!;
            if (o.kind === 'temp') return temps[o.index]!;
            const { data, shape } = inputs[o.index]!;
            const [ib, ir, ic] = [shape[0] === 1 ? 0 : b, shape[1] === 1 ? 0 : r, shape[2] === 1 ? 0 : c];
            return data[(ib * shape[1] + ir) * shape[2] + ic]!;
          };
          for (const instruction of program.body) {
            const [x, y, z] = instruction.args.map(value) as [number, number, number];
            const ops: Record<string, () => number> = {
              neg: () => -x,
              abs: () => Math.abs(x),
              sign: () => Math.sign(x) || 0,
              sqrt: () => f(Math.sqrt(x)),
              rsqrt: () => f(1 / Math.sqrt(x)),
              square: () => f(x * x),
              add: () => f(x + y),
              sub: () => f(x - y),
              mul: () => f(x * y),
              div: () => f(x / y),
              min: () => Math.min(x, y),
              max: () => Math.max(x, y),
              greater: () => (x > y ? 1 : 0),
              less: () => (x < y ? 1 : 0),
              select: () => (x !== 0 ? y : z),
            };
            temps.push(ops[instruction.op]!());
          }
          out[(b * R + r) * C + c] = value(program.result);
        }
    return out;
  };
  for (const stage of plan.stages) {
    const operandLayout = 'program' in stage.operand ? stage.operand.program.layout : undefined;
    const operand = 'program' in stage.operand ? run(stage.operand.program) : source(stage.operand.source);
    if (stage.axes === undefined) {
      nodes.set(stage.node, operand);
      continue;
    }
    const a = (plan.graph.nodes[stage.node] as { a: number }).a;
    const shape = layoutShape(operandLayout ?? plan.graph.nodes[a]!.layout, d);
    const keep = shape.map((n, i) => (stage.axes!.includes(i) ? 1 : n));
    const max = stage.reduce === 'max';
    const sums = new Float64Array(keep[0]! * keep[1]! * keep[2]!).fill(max ? Number.NEGATIVE_INFINITY : 0);
    for (let b = 0; b < shape[0]!; b++)
      for (let r = 0; r < shape[1]!; r++)
        for (let c = 0; c < shape[2]!; c++) {
          const k =
            ((keep[0] === 1 ? 0 : b) * keep[1]! + (keep[1] === 1 ? 0 : r)) * keep[2]! +
            (keep[2] === 1 ? 0 : c);
          const x = operand[(b * shape[1]! + r) * shape[2]! + c]!;
          sums[k] = max ? Math.max(sums[k]!, x) : sums[k]! + x;
        }
    nodes.set(stage.node, Float32Array.from(sums));
  }
  const [param, ...slots] = plan.outputs.map((o) => run(o.program));
  return {
    param: param!,
    slots: Object.fromEntries(
      plan.outputs.slice(1).map((o, i) => [(o.target as { name: string }).name, slots[i]!]),
    ),
  };
}
