import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { mixedRanks } from '../../testing/src/index.js';
import { defineOptimizer } from './index.js';

// Refuses every variable that is not a vector, as Muon refuses what is not 2-D.
const VectorsOnly = defineOptimizer({
  className: 'OptimkitTestVectorsOnly',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1, momentum: 0.5 },
  slots: (shape) => {
    if (shape.length !== 1) throw new RangeError('OptimkitTestVectorsOnly updates vectors only');
    return { velocity: 0 };
  },
  rule: ({ param, grad, slots, s, op }) => {
    const velocity = op.add(op.mul(slots.velocity, s.momentum), grad);
    return { param: op.sub(param, op.mul(velocity, s.learningRate)), slots: { velocity } };
  },
});

function bits(variables: readonly tf.Variable[]): number[][] {
  return variables.map((v) => Array.from(new Uint32Array(Float32Array.from(v.dataSync()).buffer)));
}

describe('checkGradients', () => {
  it('throws what applyGradients would throw, and changes nothing either way', async () => {
    const problem = mixedRanks();
    const vectors = problem.variables.filter((v) => v.rank === 1);
    const optimizer = new VectorsOnly();
    const vectorGrads = (step: number) => {
      const grads = problem.gradients(step);
      const kept = Object.fromEntries(vectors.map((v) => [v.name, grads[v.name]!]));
      tf.dispose(Object.values(grads).filter((g) => !Object.values(kept).includes(g)));
      return kept;
    };
    const first = vectorGrads(0);
    optimizer.applyGradients(first);
    tf.dispose(Object.values(first));
    const state = await optimizer.saveState();
    const values = bits(problem.variables);
    const tensors = tf.memory().numTensors;

    const all = problem.gradients(1);
    const refused = problem.variables.find((v) => v.rank !== 1)!;
    expect(() => optimizer.checkGradients(all)).toThrow(`vectors only (variable '${refused.name}'`);
    expect(() => optimizer.applyGradients(all)).toThrow(/vectors only/);
    const wrong = { [vectors[0]!.name]: tf.zeros([7]) };
    expect(() => optimizer.checkGradients(wrong)).toThrow(new RegExp(`'${vectors[0]!.name}' has shape`));
    const stray = { 'no/such': tf.zeros([1]) };
    expect(() => optimizer.checkGradients(stray)).toThrow(/no variable named 'no\/such'/);
    tf.dispose([...Object.values(all), ...Object.values(wrong), ...Object.values(stray)]);
    expect(bits(problem.variables)).toEqual(values);
    expect(await optimizer.saveState()).toEqual(state);
    expect(optimizer.iterations).toBe(1);

    // A valid step passes the check, creates no state and no tensor, and then applies as usual.
    const fresh = problem.variables.find((v) => v.rank === 1 && v !== vectors[0]) ?? vectors[0]!;
    const next = vectorGrads(1);
    optimizer.checkGradients(next);
    expect(tf.memory().numTensors).toBe(tensors + Object.keys(next).length);
    expect(await optimizer.saveState()).toEqual(state);
    expect(bits(problem.variables)).toEqual(values);
    optimizer.applyGradients(next);
    expect(optimizer.variableSteps().get(fresh.name)).toBe(2);
    tf.dispose(Object.values(next));
    optimizer.dispose();
    problem.dispose();
  });

  it('checks restored state without binding it', async () => {
    const problem = mixedRanks();
    const vector = problem.variables.find((v) => v.rank === 1)!;
    const optimizer = new VectorsOnly();
    const grad = () => ({ [vector.name]: tf.onesLike(vector) });
    const g0 = grad();
    optimizer.applyGradients(g0);
    const restored = new VectorsOnly();
    await restored.setWeights(await optimizer.getWeights());
    const before = await restored.saveState();
    restored.checkGradients(g0);
    expect(await restored.saveState()).toEqual(before);
    restored.applyGradients(g0);
    optimizer.applyGradients(g0);
    expect(restored.variableSteps().get(vector.name)).toBe(2);
    tf.dispose(Object.values(g0));
    optimizer.dispose();
    restored.dispose();
    problem.dispose();
  });
});
