import { loadOptimizer } from '@optimkit/core';
import {
  type QuantizedReferenceStep,
  referenceDynamicMap,
  runQuantizedGolden,
  unpackCodes,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { lion } from './lion.js';

/** The google/automl Lion step in float64, over the dequantised momentum. */
function reference(lr: number, weightDecay: number, beta1 = 0.9, beta2 = 0.99): QuantizedReferenceStep {
  return (p, g, s) => {
    const m = s.m!;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * weightDecay);
      const c = beta1 * m[i]! + (1 - beta1) * g[i]!;
      p[i] = p[i]! - lr * Math.sign(c);
      m[i] = beta2 * m[i]! + (1 - beta2) * g[i]!;
    }
  };
}

describe("lion stateDtype 'int8': golden values against a float64 reference that quantises", () => {
  it('40 steps, ranks 0–3, lr 1e-3, weightDecay 0.5', () => {
    const worst = runQuantizedGolden(
      lion({ learningRate: 1e-3, weightDecay: 0.5, stateDtype: 'int8' }),
      reference(1e-3, 0.5),
      {
        steps: 40,
        seed: 8,
        slots: { m: 'signed' },
      },
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('beta1 0.95, beta2 0.98, no decay', () => {
    const worst = runQuantizedGolden(
      lion({ learningRate: 3e-3, beta1: 0.95, beta2: 0.98, stateDtype: 'int8' }),
      reference(3e-3, 0, 0.95, 0.98),
      { steps: 30, seed: 9, slots: { m: 'signed' } },
    );
    expect(worst).toBeLessThanOrEqual(1);
  });
});

describe("lion stateDtype 'int8': the first step by hand", () => {
  it('m₁ = 0.01·g is quantised with absmax 0.01·max|g|; a tiny negative momentum keeps its sign', async () => {
    const n = 4096;
    const g = new Float32Array(n).fill(0.001);
    g[0] = 2; // absmax of block 0: 0.01·2 = 0.02
    g[1] = -1e-7; // m = −1e-9: normalised −5e-8, nearest map value 0, kept negative (code 126)
    g[2] = 1; // normalised 0.5
    const v = tf.variable(tf.zeros([n]), true, 'lionByHand');
    const optimizer = lion({ learningRate: 0.1, stateDtype: 'int8' });
    const grad = tf.tensor1d(g);
    optimizer.applyGradients({ [v.name]: grad });
    grad.dispose();
    // Step 1: c = 0.1·g, so p = −0.1·sign(g).
    const p = await v.data();
    expect([p[0], p[1], p[2]]).toEqual([Math.fround(-0.1), Math.fround(0.1), Math.fround(-0.1)]);
    const slots = optimizer.getSlots(v.name)!;
    const absmax = (await slots.mAbsmax!.data()) as Float32Array;
    expect(absmax[0]).toBe(Math.fround(Math.fround(2) * Math.fround(0.01)));
    const codes = unpackCodes((await slots.mCodes!.data()) as Int32Array);
    const map = referenceDynamicMap(true);
    expect(map[codes[0]!]).toBe(1);
    expect(codes[1]).toBe(126);
    expect(map[codes[1]!]).toBeLessThan(0);
    // 0.5: the nearest signed value is 0.50078125 (decade 10⁰, means of linspace(0.1, 1, 65)).
    expect(map[codes[2]!]).toBeCloseTo(0.50078125, 6);
    // About 1 byte per parameter: 4096 codes + 16 absmax.
    expect(optimizer.stateBytes()).toBe(4096 + 16 * 4);
    optimizer.dispose();
    v.dispose();
  });
});

describe("lion stateDtype 'int8': state", () => {
  it('save → loadOptimizer → continue is bit-identical; memory flat; dispose frees everything', async () => {
    const baseline = tf.memory().numTensors;
    const v = tf.tidy(() => tf.variable(tf.randomNormal([70, 60], 0, 1, 'float32', 1), true, 'lionResume'));
    const optimizer = lion({ learningRate: 1e-3, weightDecay: 0.1, stateDtype: 'int8' });
    const step = (o: typeof optimizer, t: number) => {
      const g = tf.randomNormal([70, 60], 0, 1, 'float32', 50 + t);
      o.applyGradients({ [v.name]: g });
      g.dispose();
    };
    let count = -1;
    for (let t = 1; t <= 4; t++) {
      step(optimizer, t);
      if (t === 1) count = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(count);
    }
    const bytes = await optimizer.saveState();
    const saved = Float32Array.from(await v.data());
    for (let t = 5; t <= 8; t++) step(optimizer, t);
    const straight = Array.from(await v.data());
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(saved), v.shape)));
    const restored = (await loadOptimizer(bytes)) as typeof optimizer;
    for (let t = 5; t <= 8; t++) step(restored, t);
    expect(Array.from(await v.data())).toEqual(straight);
    restored.dispose();
    optimizer.dispose();
    v.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it("refuses stateDtype 'int4'", () => {
    expect(() => lion({ stateDtype: 'int4' as 'int8' })).toThrow(/Invalid stateDtype: 'int4'/);
  });
});
