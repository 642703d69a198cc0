/**
 * A traced rule run as tfjs ops: the reference path, and the path of every backend that has no
 * fused kernel. Each node is the tfjs op of the same name, so on the cpu backend this is bit for
 * bit the chain of `tf.*` calls the rule stands for. Small layouts are kept with singleton axes
 * (`row` as `[..., rows, 1]`) so that tfjs broadcasting lines them up with the variable.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layout, RuleGraph } from './graph.js';

/** The shape a value of `layout` is kept in, for a variable of shape `shape`. */
export function broadcastShape(layout: Layout, shape: readonly number[]): number[] {
  if (layout === 'full') return [...shape];
  if (layout === 'scalar') return [];
  const lead = shape.slice(0, -2);
  const rows = shape[shape.length - 2]!;
  const cols = shape[shape.length - 1]!;
  if (layout === 'row') return [...lead, rows, 1];
  if (layout === 'col') return [...lead, 1, cols];
  return [...lead, 1, 1];
}

/** Inputs of one composite run. Tensors are owned by the caller; the results by the engine. */
export interface CompositeRun {
  param: tf.Tensor;
  grad: tf.Tensor;
  slots: Readonly<Record<string, tf.Tensor>>;
  scalars: Readonly<Record<string, number>>;
}

/** Runs `graph` as tfjs ops (call it inside `tf.tidy`); returns the param and the written slots. */
export function runComposite(
  graph: RuleGraph,
  run: CompositeRun,
): { param: tf.Tensor; slots: Record<string, tf.Tensor> } {
  const shape = run.param.shape;
  const values: (tf.Tensor | number)[] = [];
  // Numbers stay numbers until an op needs a tensor: tf.mul(x, 0.9) is what a rule stands for.
  const tensor = (x: tf.Tensor | number): tf.Tensor => (typeof x === 'number' ? tf.scalar(x) : x);
  const at = (id: number) => values[id]!;
  // tfjs ops take a number for either operand (not both): it becomes a float32 scalar.
  const operands = (a: number, b: number): [tf.Tensor, tf.Tensor] => {
    const x = at(a);
    const y = at(b);
    if (typeof x === 'number' && typeof y === 'number') return [tf.scalar(x), y as unknown as tf.Tensor];
    return [x, y] as [tf.Tensor, tf.Tensor];
  };
  for (const node of graph.nodes) {
    let result: tf.Tensor | number;
    switch (node.op) {
      case 'param':
        result = run.param;
        break;
      case 'grad':
        result = run.grad;
        break;
      case 'slot': {
        const slot = run.slots[node.name]!;
        const want = broadcastShape(node.layout, shape);
        result = sameShape(slot.shape, want) ? slot : tf.reshape(slot, want);
        break;
      }
      case 'scalar':
        result = run.scalars[node.name]!;
        break;
      case 'constant':
        result = node.value;
        break;
      case 'neg':
        result = tf.neg(tensor(at(node.a)));
        break;
      case 'abs':
        result = tf.abs(tensor(at(node.a)));
        break;
      case 'sign':
        result = tf.sign(tensor(at(node.a)));
        break;
      case 'sqrt':
        result = tf.sqrt(tensor(at(node.a)));
        break;
      case 'rsqrt':
        result = tf.rsqrt(tensor(at(node.a)));
        break;
      case 'square':
        result = tf.square(tensor(at(node.a)));
        break;
      case 'add':
        result = tf.add(...operands(node.a, node.b));
        break;
      case 'sub':
        result = tf.sub(...operands(node.a, node.b));
        break;
      case 'mul':
        result = tf.mul(...operands(node.a, node.b));
        break;
      case 'div':
        result = tf.div(...operands(node.a, node.b));
        break;
      case 'min':
        result = tf.minimum(...operands(node.a, node.b));
        break;
      case 'max':
        result = tf.maximum(...operands(node.a, node.b));
        break;
      case 'greater':
        result = tf.greater(...operands(node.a, node.b));
        break;
      case 'less':
        result = tf.less(...operands(node.a, node.b));
        break;
      case 'select': {
        const target = broadcastShape(node.layout, shape);
        const spread = (x: tf.Tensor | number) => {
          const t = tensor(x);
          return sameShape(t.shape, target) ? t : tf.broadcastTo(t, target);
        };
        result = tf.where(spread(at(node.mask)), spread(at(node.a)), spread(at(node.b)));
        break;
      }
      case 'sum':
        result = tf.sum(tensor(at(node.a)));
        break;
      case 'mean':
        result = tf.mean(tensor(at(node.a)));
        break;
      case 'rowMean': {
        const source = graph.nodes[node.a]!.layout;
        result = tf.mean(tensor(at(node.a)), source === 'row' ? -2 : -1, true);
        break;
      }
      case 'colMean':
        result = tf.mean(tensor(at(node.a)), -2, true);
        break;
      case 'rowMax':
        result = tf.max(tensor(at(node.a)), -1, true);
        break;
      case 'colMax':
        result = tf.max(tensor(at(node.a)), -2, true);
        break;
    }
    values.push(result);
  }
  const output = (id: number, target: readonly number[]) => {
    const x = tensor(at(id));
    return sameShape(x.shape, target) ? x : tf.reshape(x, [...target]);
  };
  const slots: Record<string, tf.Tensor> = {};
  for (const [name, id] of graph.slots) slots[name] = output(id, run.slots[name]!.shape);
  return { param: output(graph.param, shape), slots };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
