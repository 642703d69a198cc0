import { fusedKernelName, setFusedKernels } from '@optimkit/core';
import { describeFusedEquivalence, describeOptimizerConformance, recordKernels } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdaBeliefDefaults, type AdaBeliefOptions, adabelief } from './adabelief.js';

/** adabelief-pytorch 0.2 (rectify=False, weight_decouple=True), in float64. */
function reference(steps: number[][], p0: number[], o: Record<keyof AdaBeliefDefaults, number>) {
  const p = [...p0];
  const m = p.map(() => 0);
  const s = p.map(() => 0);
  const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd } = o;
  steps.forEach((g, index) => {
    const t = index + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      s[i] = b2 * s[i]! + (1 - b2) * (g[i]! - m[i]!) ** 2 + eps;
      const denom = Math.sqrt(s[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] = p[i]! - (lr / (1 - b1 ** t)) * (m[i]! / denom);
    }
  });
  return p;
}

describe('AdaBelief plugin', () => {
  it('first step by hand: m = 0.1g, s = 0.001·(0.9g)² + ε, step = lr·sign(g)/(0.9 + …) ', () => {
    // m̂ = g, ŝ = s/0.001 = 0.81g² (+ε/0.001), so p − lr·g/(0.9|g|) = p − lr/0.9·sign(g)
    const p = tf.variable(tf.tensor1d([1, -2]));
    const optimizer = adabelief({ learningRate: 0.1 });
    const g = tf.tensor1d([0.5, -4]);
    optimizer.applyGradients({ [p.name]: g });
    const got = Array.from(p.dataSync());
    expect(got[0]).toBeCloseTo(1 - 0.1 / 0.9, 5);
    expect(got[1]).toBeCloseTo(-2 + 0.1 / 0.9, 5);
    tf.dispose([p, g]);
    optimizer.dispose();
  });

  it('matches the float64 reference over 30 steps', () => {
    const o = { learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1 };
    const grads = Array.from({ length: 30 }, (_, t) => [Math.sin(t), Math.cos(t * 0.7) * 3, 0.1 * t - 1]);
    const p0 = [0.5, -1, 2];
    const p = tf.variable(tf.tensor1d(p0));
    const optimizer = adabelief(o);
    for (const g of grads) {
      const tensor = tf.tensor1d(g);
      optimizer.applyGradients({ [p.name]: tensor });
      tensor.dispose();
    }
    const want = reference(
      grads.map((g) => g.map(Math.fround)),
      p0,
      o,
    );
    Array.from(p.dataSync()).forEach((x, i) => {
      expect(Math.abs(x - want[i]!)).toBeLessThanOrEqual(1e-6 + 2e-4 * Math.abs(want[i]!));
    });
    p.dispose();
    optimizer.dispose();
  });
});

describeOptimizerConformance<AdaBeliefOptions>({
  name: 'adabelief (third-party plugin)',
  create: (options) => adabelief(options),
  optionSets: [{}, { weightDecay: 0.01, paramGroups: [{ match: (v) => v.rank <= 1, weightDecay: 0 }] }],
  quadratic: { options: { learningRate: 0.05 }, steps: 400, tolerance: 1e-3 },
  rosenbrock: { options: { learningRate: 0.02 }, steps: 3000, tolerance: 1e-2 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta2: -0.1 }, error: /Invalid beta2: -0.1/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { weightDecay: -1 }, error: /Invalid weightDecay: -1/ },
  ],
});

describe('AdaBelief plugin: fused', () => {
  let previous = '';
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    setFusedKernels(true);
    await tf.setBackend(previous);
  });

  it('a step on cpu with fused kernels on runs one fused kernel per variable, off none', () => {
    const variables = [tf.variable(tf.tensor1d([1, -2])), tf.variable(tf.ones([2, 3]))];
    const optimizer = adabelief({ learningRate: 0.1, weightDecay: 0.01 });
    const name = fusedKernelName('PlaygroundAdaBelief');
    expect(name).toBe('OptimkitFused_PlaygroundAdaBelief');
    const step = (fused: boolean) => {
      const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
      const previousSetting = setFusedKernels(fused);
      try {
        return recordKernels(() => optimizer.applyGradients(grads));
      } finally {
        setFusedKernels(previousSetting);
        tf.dispose(grads.map((g) => g.tensor));
      }
    };
    expect(step(true).filter((k) => k === name)).toEqual([name, name]);
    expect(step(false)).not.toContain(name);
    expect(tf.getKernel(name, 'cpu')).toBeDefined();
    optimizer.dispose();
    tf.dispose(variables);
  });
});

describeFusedEquivalence<AdaBeliefOptions>({
  name: 'adabelief (third-party plugin)',
  create: adabelief,
  optionSets: [
    {},
    { learningRate: 0.05, weightDecay: 0.1 },
    { learningRate: 0.02, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.01 },
    { learningRate: 0.03, beta1: 0, beta2: 0.9, epsilon: 1e-3 },
    {
      learningRate: (step) => 0.01 * 0.9 ** step,
      beta2: (step) => 0.99 - 0.001 * step,
      weightDecay: 0.1,
      paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.05 }],
    },
    { clipGradNorm: 1, accumulateSteps: 2 },
    { skipNonFinite: true, clipGradValue: 0.5, weightDecay: 0.05 },
  ],
  bitIdentical: ['cpu', 'wasm'],
});
