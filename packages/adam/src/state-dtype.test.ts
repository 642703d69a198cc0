import { loadOptimizer, StateFormatError, setFusedKernels } from '@optimkit/core';
import {
  type QuantizedReferenceStep,
  referenceDynamicMap,
  referenceQuantize,
  rewriteState,
  runQuantizedGolden,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { adam } from './adam.js';
import { type AdamWOptions, adamw } from './adamw.js';

afterEach(() => {
  setFusedKernels(true);
});

/** torch's Adam / AdamW in float64, over dequantised moments (the quantisation is the driver's). */
function reference(o: {
  lr: number;
  weightDecay: number;
  decoupled: boolean;
  amsgrad?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
}): QuantizedReferenceStep {
  const { lr, weightDecay, decoupled, amsgrad = false, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = o;
  return (p, g, s, t) => {
    const { expAvg: m, expAvgSq: v, maxExpAvgSq: vMax } = s;
    for (let i = 0; i < p.length; i++) {
      let grad = g[i]!;
      if (decoupled) p[i] = p[i]! * (1 - lr * weightDecay);
      else grad += weightDecay * p[i]!;
      m![i] = beta1 * m![i]! + (1 - beta1) * grad;
      v![i] = beta2 * v![i]! + (1 - beta2) * grad * grad;
      let second = v![i]!;
      if (amsgrad) {
        vMax![i] = Math.max(vMax![i]!, v![i]!);
        second = vMax![i]!;
      }
      p[i] = p[i]! - (lr / (1 - beta1 ** t)) * (m![i]! / (Math.sqrt(second / (1 - beta2 ** t)) + eps));
    }
  };
}

const moments = { expAvg: 'signed', expAvgSq: 'unsigned' } as const;

describe("stateDtype 'int8': golden values against a float64 reference that quantises (40 steps, ranks 0–3)", () => {
  it('adamw, lr 1e-2, weightDecay 0.1', () => {
    const worst = runQuantizedGolden(
      adamw({ learningRate: 1e-2, weightDecay: 0.1, stateDtype: 'int8' }),
      reference({ lr: 1e-2, weightDecay: 0.1, decoupled: true }),
      { steps: 40, seed: 3, slots: moments },
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('adamw with the defaults but the learning rate, fused kernels off (composite tfjs ops)', () => {
    setFusedKernels(false);
    const worst = runQuantizedGolden(
      adamw({ learningRate: 3e-3, stateDtype: 'int8' }),
      reference({ lr: 3e-3, weightDecay: 1e-2, decoupled: true }),
      { steps: 30, seed: 4, slots: moments },
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('adam with amsgrad and L2 decay: the running maximum is 8-bit too (unsigned map)', () => {
    const worst = runQuantizedGolden(
      adam({ learningRate: 5e-3, weightDecay: 0.05, amsgrad: true, beta2: 0.99, stateDtype: 'int8' }),
      reference({ lr: 5e-3, weightDecay: 0.05, decoupled: false, amsgrad: true, beta2: 0.99 }),
      { steps: 40, seed: 5, slots: { ...moments, maxExpAvgSq: 'unsigned' } },
    );
    expect(worst).toBeLessThanOrEqual(1);
  });
});

function gradient(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31 - 0.5;
  });
}

describe("stateDtype 'int8': the first step by hand", () => {
  it('adamw on 4096 values: absmax, a code, the dequantised moment, and the same parameters as float32', async () => {
    const n = 4096;
    const g = gradient(n, 1).map((x) => Math.fround(x * 0.5)); // |g| < 0.25
    g[0] = 0.4; // the largest magnitude of the first block
    g[1] = -0.2;
    const make = () => tf.variable(tf.ones([n]), true, `byHand${Math.random()}`);
    const [a, b] = [make(), make()];
    const int8 = adamw({ learningRate: 0.1, stateDtype: 'int8' });
    const float = adamw({ learningRate: 0.1 });
    int8.applyGradients({ [a.name]: tf.tensor1d(g) });
    float.applyGradients({ [b.name]: tf.tensor1d(g) });
    // Step 1 updates the parameters from the float32 moments, before they are quantised: the
    // parameters are those of float32 state, bit for bit.
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    const slots = int8.getSlots(a.name)!;
    expect(Object.keys(slots).sort()).toEqual([
      'expAvgAbsmax',
      'expAvgCodes',
      'expAvgSqAbsmax',
      'expAvgSqCodes',
    ]);
    // m₁ = 0.1·g: the first block's absmax is 0.1·0.4 = 0.04 (float32 of (g − 0)·0.1).
    const absmax = (await slots.expAvgAbsmax!.data()) as Float32Array;
    expect(absmax.length).toBe(16);
    expect(absmax[0]).toBe(Math.fround(Math.fround(0.4) * Math.fround(0.1)));
    // g₁ = −0.2: m = −0.02, normalised −0.5; the nearest signed value is −0.50078 (code 64).
    const codes = (await slots.expAvgCodes!.data()) as Int32Array;
    const code1 = Math.floor(((codes[0]! % 2 ** 24) + 2 ** 24) / 2 ** 8) % 2 ** 8;
    const map = referenceDynamicMap(true);
    expect(code1).toBe(referenceQuantize([-0.5, 1], map).codes[0]);
    expect(map[code1]).toBeCloseTo(-0.50078125, 6);
    // v₁ = 0.001·g²: absmax 0.001·0.16 = 1.6e-4, and g² of 0.4 is the map's 1 (code 255).
    const vAbsmax = (await slots.expAvgSqAbsmax!.data()) as Float32Array;
    expect(vAbsmax[0]).toBeCloseTo(1.6e-4, 10);
    const vCodes = (await slots.expAvgSqCodes!.data()) as Int32Array;
    expect(((vCodes[0]! % 256) + 256) % 256).toBe(255);
    int8.dispose();
    float.dispose();
    tf.dispose([a, b]);
  });
});

describe("stateDtype 'int8': memory", () => {
  it('stateBytes is about 2 bytes per parameter for adamw (8 with float32)', () => {
    const v = tf.variable(tf.zeros([512, 512]), true, 'memoryBytes/kernel');
    const small = tf.variable(tf.zeros([100]), true, 'memoryBytes/bias');
    const grads = () => ({ [v.name]: tf.onesLike(v), [small.name]: tf.onesLike(small) });
    const int8 = adamw({ stateDtype: 'int8' });
    const float = adamw();
    for (const o of [int8, float]) {
      const g = grads();
      o.applyGradients(g);
      tf.dispose(Object.values(g));
    }
    // 2 × (262144 one-byte codes + 1024 float32 absmax) + 2 × 100 float32 values of the bias.
    expect(int8.stateBytes()).toBe(2 * (262144 + 1024 * 4) + 2 * 100 * 4);
    expect(float.stateBytes()).toBe(8 * (262144 + 100));
    expect(int8.stateBytes() / (v.size + small.size)).toBeLessThan(2.05);
    int8.dispose();
    float.dispose();
    tf.dispose([v, small]);
  });

  it('a param group may keep float32 moments beside 8-bit ones', () => {
    const big = tf.variable(tf.zeros([80, 64]), true, 'groupsBig');
    const other = tf.variable(tf.zeros([80, 64]), true, 'groupsOther');
    const optimizer = adamw({
      stateDtype: 'int8',
      paramGroups: [{ params: [other], stateDtype: 'float32' }],
    });
    const g = { [big.name]: tf.onesLike(big), [other.name]: tf.onesLike(other) };
    optimizer.applyGradients(g);
    tf.dispose(Object.values(g));
    expect(Object.keys(optimizer.getSlots(big.name)!).sort()).toEqual([
      'expAvgAbsmax',
      'expAvgCodes',
      'expAvgSqAbsmax',
      'expAvgSqCodes',
    ]);
    expect(Object.keys(optimizer.getSlots(other.name)!).sort()).toEqual(['expAvg', 'expAvgSq']);
    expect(optimizer.stateBytes()).toBe(2 * (5120 + 20 * 4) + 8 * 5120);
    optimizer.dispose();
    tf.dispose([big, other]);
  });

  it('numTensors is constant from the second step and dispose() frees every tensor, fused or not', () => {
    for (const fused of [true, false]) {
      setFusedKernels(fused);
      const baseline = tf.memory().numTensors;
      const v = tf.tidy(() =>
        tf.variable(tf.randomNormal([70, 80], 0, 1, 'float32', 1), true, `memoryFlat${fused}`),
      );
      const optimizer = adamw({ stateDtype: 'int8', amsgrad: true });
      let after = -1;
      for (let t = 1; t <= 5; t++) {
        const g = tf.randomNormal([70, 80], 0, 1, 'float32', t);
        optimizer.applyGradients({ [v.name]: g });
        g.dispose();
        if (t === 1) after = tf.memory().numTensors;
        else expect(tf.memory().numTensors).toBe(after);
      }
      optimizer.dispose();
      v.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
    }
  });

  it('fused and composite paths are bit-identical on cpu', async () => {
    const run = async (fused: boolean) => {
      setFusedKernels(fused);
      const v = tf.variable(tf.randomNormal([50, 90], 0, 1, 'float32', 2), true, `fusedBits${fused}`);
      const optimizer = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
      for (let t = 1; t <= 10; t++) {
        const g = tf.randomNormal([50, 90], 0, 1, 'float32', 10 + t);
        optimizer.applyGradients({ [v.name]: g });
        g.dispose();
      }
      const out = [
        Array.from(await v.data()),
        Array.from(await optimizer.getSlots(v.name)!.expAvgCodes!.data()),
      ];
      optimizer.dispose();
      v.dispose();
      return out;
    };
    expect(await run(true)).toEqual(await run(false));
  });
});

function trainer(name: string, options: AdamWOptions = { learningRate: 1e-2, stateDtype: 'int8' }) {
  const v = tf.tidy(() => tf.variable(tf.randomNormal([64, 72], 0, 1, 'float32', 3), true, name));
  const b = tf.variable(tf.zeros([8]), true, `${name}Bias`);
  const optimizer = adamw(options);
  /** Step `t` (the same gradients each time it is given), by this optimizer or another one. */
  const step = (t: number, by: tf.Optimizer = optimizer) => {
    const g = {
      [v.name]: tf.randomNormal([64, 72], 0, 1, 'float32', 100 + t),
      [b.name]: tf.fill([8], 0.1 * t),
    };
    by.applyGradients(g);
    tf.dispose(Object.values(g));
  };
  // tf.tensor keeps the array it is given, which an in-place fused step would then change: a copy.
  const reset = (values: Float32Array) =>
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(values), v.shape)));
  return { v, b, optimizer, step, reset, dispose: () => tf.dispose([v, b]) };
}

describe("stateDtype 'int8': saved state keeps the quantised form", () => {
  it('save → load → continue is bit-identical, through loadState and loadOptimizer', async () => {
    const a = trainer('resumeA');
    for (let t = 1; t <= 5; t++) a.step(t);
    const bytes = await a.optimizer.saveState();
    const restored = await loadOptimizer(bytes);
    const slots = restored.getSlots('resumeA')!;
    expect(slots.expAvgCodes!.dtype).toBe('int32');
    // A copy: on cpu, data() is the backend's own buffer, which the fused kernel updates in place.
    const saved = Float32Array.from(await a.v.data());
    for (let t = 6; t <= 9; t++) a.step(t);
    const straight = Array.from(await a.v.data());
    a.reset(saved);
    await a.optimizer.loadState(bytes);
    for (let t = 6; t <= 9; t++) a.step(t);
    expect(Array.from(await a.v.data())).toEqual(straight);
    // loadOptimizer's copy continues the same way.
    a.reset(saved);
    for (let t = 6; t <= 9; t++) a.step(t, restored);
    expect(Array.from(await a.v.data())).toEqual(straight);
    restored.dispose();
    a.optimizer.dispose();
    a.dispose();
  });

  it('getWeights → setWeights round-trips the codes and absmax and continues bit-identically', async () => {
    const a = trainer('weightsA');
    for (let t = 1; t <= 4; t++) a.step(t);
    const weights = await a.optimizer.getWeights();
    expect(weights.map((w) => `${w.name}:${w.tensor.dtype}`)).toContain('weightsA/expAvgCodes:int32');
    const copy = weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    // A copy: on cpu, data() is the backend's own buffer, which the fused kernel updates in place.
    const saved = Float32Array.from(await a.v.data());
    for (let t = 5; t <= 7; t++) a.step(t);
    const straight = Array.from(await a.v.data());
    a.reset(saved);
    const other = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
    await other.setWeights(copy);
    for (let t = 5; t <= 7; t++) a.step(t, other);
    expect(Array.from(await a.v.data())).toEqual(straight);
    tf.dispose(copy.map((w) => w.tensor));
    other.dispose();
    a.optimizer.dispose();
    a.dispose();
  });

  it('refuses restored codes and absmax that are wrong, and changes nothing', async () => {
    const a = trainer('refuseA');
    a.step(1);
    const bytes = await a.optimizer.saveState();
    const before = await a.optimizer.saveState();
    const edits: [string, (h: Parameters<Parameters<typeof rewriteState>[1]>[0]) => unknown, RegExp][] = [
      [
        'codes stored as float32',
        (h) => {
          h.variables[0]!.slots.expAvgCodes!.dtype = 'float32';
          return h;
        },
        /expAvgCodes' of 'refuseA' is not int32/,
      ],
      [
        'an absmax missing',
        (h) => {
          delete h.variables[0]!.slots.expAvgSqAbsmax;
          return h;
        },
        /keeps \[expAvgCodes, expAvgAbsmax, expAvgSqCodes, expAvgSqAbsmax\]/,
      ],
    ];
    for (const [, edit, error] of edits) {
      await expect(a.optimizer.loadState(rewriteState(bytes, edit))).rejects.toThrow(error);
    }
    // Through setWeights: a negative or NaN absmax, codes of another shape.
    for (const [slot, replacement, error] of [
      [
        'expAvgAbsmax',
        () => tf.tensor1d([-1, ...new Array(17).fill(0)]),
        /expAvgAbsmax' of 'refuseA' holds -1 at element 0, but OptimkitAdamW keeps it non-negative/,
      ],
      [
        'expAvgSqAbsmax',
        () => tf.tensor1d([Number.NaN, ...new Array(17).fill(0)]),
        /expAvgSqAbsmax' of 'refuseA' holds NaN at element 0/,
      ],
      [
        'expAvgCodes',
        () => tf.zeros([10], 'int32'),
        /expAvgCodes' of 'refuseA' has shape \[10\], expected \[1152\]/,
      ],
    ] as const) {
      const other = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
      const weights = await a.optimizer.getWeights();
      const edited = weights.map((w) =>
        w.name === `refuseA/${slot}` ? { name: w.name, tensor: replacement() } : w,
      );
      await expect(other.setWeights(edited)).rejects.toThrow(error);
      tf.dispose(edited.filter((w, i) => w !== weights[i]).map((w) => w.tensor));
      other.dispose();
    }
    // An int8 state does not load into a float32 optimizer (and the reverse).
    const float = adamw({ learningRate: 1e-2 });
    await expect(float.loadState(bytes)).rejects.toThrow(StateFormatError);
    await expect(float.loadState(bytes)).rejects.toThrow(/keeps \[expAvg, expAvgSq\]/);
    float.dispose();
    expect(await a.optimizer.saveState()).toEqual(before);
    a.optimizer.dispose();
    a.dispose();
  });
});

/**
 * Codes packed four per int32 (cpu, wasm, webgpu) repacked three per int32, as webgl keeps them, in
 * float64 arithmetic: c₀ + c₁·2⁸ + c₂·2¹⁶; codes after the last block's values are those of 0.
 */
function threePerWord(words: Int32Array, zeroCode: number): Int32Array {
  const codes: number[] = [];
  for (const word of words) {
    const unsigned = word < 0 ? word + 2 ** 32 : word;
    for (let k = 0; k < 4; k++) {
      const byte = Math.floor(unsigned / 2 ** (8 * k)) % 256;
      codes.push(k === 3 ? (byte + 128) % 256 : byte);
    }
  }
  while (codes.length % 3 !== 0) codes.push(zeroCode);
  return Int32Array.from(
    { length: codes.length / 3 },
    (_, w) => codes[3 * w]! + codes[3 * w + 1]! * 2 ** 8 + codes[3 * w + 2]! * 2 ** 16,
  );
}

describe("stateDtype 'int8': codes packed three per int32 (webgl's form) restore on every backend", () => {
  const zeroCodes = { expAvgCodes: 127, expAvgSqCodes: 0 } as Record<string, number>;

  /** The optimizer's weights with its codes repacked three per int32. */
  async function asWebGLWeights(optimizer: tf.Optimizer) {
    const weights = await optimizer.getWeights();
    return Promise.all(
      weights.map(async (w) => {
        const slot = w.name.slice(w.name.lastIndexOf('/') + 1);
        if (!(slot in zeroCodes)) return { name: w.name, tensor: tf.clone(w.tensor) };
        const words = threePerWord((await w.tensor.data()) as Int32Array, zeroCodes[slot]!);
        return { name: w.name, tensor: tf.tensor1d(words, 'int32') };
      }),
    );
  }

  it('setWeights and loadState take them; the next step repacks four per int32 and continues bit-identically', async () => {
    const a = trainer('packedA');
    for (let t = 1; t <= 4; t++) a.step(t);
    const weights = await asWebGLWeights(a.optimizer);
    // 4608 values: 18 blocks, 1152 int32 of four codes or 1536 of three.
    expect(weights.find((w) => w.name === 'packedA/expAvgCodes')!.tensor.shape).toEqual([1536]);
    const saved = Float32Array.from(await a.v.data());
    for (let t = 5; t <= 7; t++) a.step(t);
    const straight = Array.from(await a.v.data());

    const other = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
    await other.setWeights(weights);
    // Saved as restored (three per int32), and loadable so.
    const bytes = await other.saveState();
    a.reset(saved);
    for (let t = 5; t <= 7; t++) a.step(t, other);
    expect(Array.from(await a.v.data())).toEqual(straight);
    expect(other.getSlots('packedA')!.expAvgCodes!.shape).toEqual([1152]);

    const third = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
    await third.loadState(bytes);
    expect(third.getSlots('packedA')!.expAvgSqCodes!.shape).toEqual([1536]);
    a.reset(saved);
    for (let t = 5; t <= 7; t++) a.step(t, third);
    expect(Array.from(await a.v.data())).toEqual(straight);
    // Repacking frees the old codes: the tensor count is that of the straight run's optimizer.
    const counts = () => tf.memory().numTensors;
    const before = counts();
    a.step(8, third);
    expect(counts()).toBe(before);
    tf.dispose(weights.map((w) => w.tensor));
    for (const o of [other, third, a.optimizer]) o.dispose();
    a.dispose();
  });

  it('refuses three-per-int32 codes that are not three 8-bit codes, and changes nothing', async () => {
    const a = trainer('packedB');
    a.step(1);
    const other = adamw({ learningRate: 1e-2, stateDtype: 'int8' });
    const good = await asWebGLWeights(a.optimizer);
    await other.setWeights(good);
    const before = await other.saveState();
    for (const [value, shown] of [
      [2 ** 24, '16777216'],
      [-1, '-1'],
    ] as const) {
      const weights = await asWebGLWeights(a.optimizer);
      const codes = weights.find((w) => w.name === 'packedB/expAvgSqCodes')!;
      const edited = (await codes.tensor.data()) as Int32Array;
      edited[7] = value;
      codes.tensor.dispose();
      codes.tensor = tf.tensor1d(edited, 'int32');
      await expect(other.setWeights(weights)).rejects.toThrow(
        new RegExp(
          `'expAvgSqCodes' of 'packedB' holds ${shown} at element 7, which is not three 8-bit codes`,
        ),
      );
      tf.dispose(weights.map((w) => w.tensor));
    }
    expect(await other.saveState()).toEqual(before);
    tf.dispose(good.map((w) => w.tensor));
    other.dispose();
    a.optimizer.dispose();
    a.dispose();
  });
});

describe('stateDtype: bad values and backends', () => {
  it("refuses stateDtype 'int4' at construction", () => {
    expect(() => adamw({ stateDtype: 'int4' as 'int8' })).toThrow(
      /Invalid stateDtype: 'int4' \(expected 'float32' or 'int8'\)/,
    );
    expect(() => adam({ stateDtype: 'float16' as 'int8' })).toThrow(RangeError);
  });

  it('refuses a backend whose int32 tensors are not exact (named in the error), changing nothing', async () => {
    // The cpu backend under another name, with every cpu kernel: a backend core does not know.
    const cpu = tf.findBackend('cpu')!;
    tf.registerBackend('notExactInt32', () => cpu as tf.KernelBackend, 0);
    const kernels = tf.getKernelsForBackend('cpu');
    for (const kernel of kernels) tf.registerKernel({ ...kernel, backendName: 'notExactInt32' });
    const v = tf.variable(tf.ones([4096]), true, 'otherBackend');
    const optimizer = adamw({ stateDtype: 'int8' });
    try {
      await tf.setBackend('notExactInt32');
      const g = tf.onesLike(v);
      expect(() => optimizer.applyGradients({ [v.name]: g })).toThrow(
        /OptimkitAdamW: 8-bit state \(stateDtype 'int8'\) of 'otherBackend' runs on the cpu, wasm, webgl and webgpu backends, not on 'notExactInt32'/,
      );
      g.dispose();
      expect(optimizer.getSlots(v.name)).toBeUndefined();
      expect(optimizer.iterations).toBe(0);
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('notExactInt32');
      for (const kernel of kernels) tf.unregisterKernel(kernel.kernelName, 'notExactInt32');
      optimizer.dispose();
      v.dispose();
    }
  });
});
