import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  checkMemory,
  expectClose,
  type ReferenceStep,
  runAdaptiveGolden,
  steps,
  trajectory,
} from './golden-inputs.js';
import { RMSprop, type RMSpropOptions, rmsprop } from './rmsprop.js';

type Value = number | ((step: number) => number);
interface RMSpropHyper {
  learningRate: Value;
  alpha: Value;
  epsilon: number;
  weightDecay: number;
  momentum: Value;
  centered: boolean;
}
const DEFAULTS: RMSpropHyper = {
  learningRate: 1e-2,
  alpha: 0.99,
  epsilon: 1e-8,
  weightDecay: 0,
  momentum: 0,
  centered: false,
};

const at = (value: Value, step: number) => (typeof value === 'function' ? value(step) : value);

/** PyTorch's RMSprop (docs/algorithms/adaptive.md#rmsprop), elementwise in float64. */
function rmspropReference(h: RMSpropHyper): ReferenceStep {
  let squareAvg: Float64Array | null = null;
  let gradAvg: Float64Array | null = null;
  let buffer: Float64Array | null = null;
  return (p, g, { iteration }) => {
    const lr = at(h.learningRate, iteration);
    const alpha = at(h.alpha, iteration);
    const momentum = at(h.momentum, iteration);
    squareAvg ??= new Float64Array(p.length);
    if (h.centered) gradAvg ??= new Float64Array(p.length);
    if (momentum > 0) buffer ??= new Float64Array(p.length);
    for (let k = 0; k < p.length; k++) {
      const gk = g[k]! + h.weightDecay * p[k]!;
      squareAvg[k] = alpha * squareAvg[k]! + (1 - alpha) * gk * gk;
      let avg: number;
      if (gradAvg) {
        gradAvg[k]! += (1 - alpha) * (gk - gradAvg[k]!);
        avg = Math.sqrt(squareAvg[k]! - gradAvg[k]! ** 2) + h.epsilon;
      } else {
        avg = Math.sqrt(squareAvg[k]!) + h.epsilon;
      }
      if (momentum > 0 && buffer) {
        buffer[k] = momentum * buffer[k]! + gk / avg;
        p[k]! -= lr * buffer[k]!;
      } else {
        p[k]! -= (lr * gk) / avg;
      }
    }
  };
}

describe('rmsprop', () => {
  it('has the defaults of docs/algorithms/adaptive.md#rmsprop and a registered class name', () => {
    const optimizer = rmsprop();
    expect(optimizer).toBeInstanceOf(RMSprop);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitRMSprop');
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-2,
      alpha: 0.99,
      epsilon: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
    });
    optimizer.dispose();
  });

  it.each([
    [{ learningRate: -0.01 }, 'Invalid learning rate: -0.01'],
    [{ alpha: 1.2 }, 'Invalid alpha: 1.2'],
    [{ alpha: 1 }, 'Invalid alpha: 1'],
    [{ alpha: -0.1 }, 'Invalid alpha: -0.1'],
    [{ epsilon: 0 }, 'Invalid epsilon: 0'],
    [{ epsilon: -1e-8 }, 'Invalid epsilon: -1e-8'],
    [{ weightDecay: -0.01 }, 'Invalid weightDecay: -0.01'],
    [{ momentum: 1 }, 'Invalid momentum: 1'],
    [{ momentum: -0.5 }, 'Invalid momentum: -0.5'],
    [{ alpha: Number.NaN }, 'Invalid alpha: NaN'],
  ])('rejects %o', (options, message) => {
    expect(() => rmsprop(options)).toThrow(RangeError);
    expect(() => rmsprop(options)).toThrow(message);
  });

  it('keeps slots only for what is on', () => {
    const x = tf.variable(tf.tensor1d([1, 2, 3]));
    const slotsOf = (options: Parameters<typeof rmsprop>[0]) => {
      const optimizer = rmsprop(options);
      tf.tidy(() => optimizer.applyGradients({ [x.name]: tf.onesLike(x) }));
      const names = Object.keys(optimizer.getSlots(x.name) ?? {}).sort();
      const bytes = optimizer.stateBytes();
      optimizer.dispose();
      return { names, bytes };
    };
    expect(slotsOf({})).toEqual({ names: ['squareAvg'], bytes: 12 });
    expect(slotsOf({ momentum: 0.9 })).toEqual({ names: ['momentumBuffer', 'squareAvg'], bytes: 24 });
    expect(slotsOf({ centered: true })).toEqual({ names: ['gradAvg', 'squareAvg'], bytes: 24 });
    expect(slotsOf({ momentum: 0.9, centered: true })).toEqual({
      names: ['gradAvg', 'momentumBuffer', 'squareAvg'],
      bytes: 36,
    });
    x.dispose();
  });

  describe('golden: float64 reference over 30 steps, ranks 0-3 together', () => {
    const cases: {
      label: string;
      options: (variables: tf.Variable[]) => Parameters<typeof rmsprop>[0];
      hyper: (index: number) => RMSpropHyper;
      skip?: (index: number, step: number) => boolean;
    }[] = [
      { label: 'defaults', options: () => ({}), hyper: () => DEFAULTS },
      {
        label: 'alpha 0.9, momentum 0.9',
        options: () => ({ learningRate: 0.01, alpha: 0.9, momentum: 0.9 }),
        hyper: () => ({ ...DEFAULTS, learningRate: 0.01, alpha: 0.9, momentum: 0.9 }),
      },
      {
        label: 'centered, epsilon 1e-4, weightDecay 0.05',
        options: () => ({
          learningRate: 0.02,
          alpha: 0.95,
          epsilon: 1e-4,
          weightDecay: 0.05,
          centered: true,
        }),
        hyper: () => ({
          ...DEFAULTS,
          learningRate: 0.02,
          alpha: 0.95,
          epsilon: 1e-4,
          weightDecay: 0.05,
          centered: true,
        }),
      },
      {
        label:
          'centered with momentum, scheduled learningRate, momentum and alpha; rank 0 skipped on even steps',
        options: () => ({
          learningRate: (s: number) => 0.02 * 0.97 ** s,
          momentum: (s: number) => Math.min(0.9, 0.5 + 0.05 * s),
          alpha: (s: number) => 0.8 + 0.005 * s,
          epsilon: 1e-3,
          weightDecay: 0.01,
          centered: true,
        }),
        hyper: () => ({
          learningRate: (s: number) => 0.02 * 0.97 ** s,
          momentum: (s: number) => Math.min(0.9, 0.5 + 0.05 * s),
          alpha: (s: number) => 0.8 + 0.005 * s,
          epsilon: 1e-3,
          weightDecay: 0.01,
          centered: true,
        }),
        skip: (index, step) => index === 0 && step % 2 === 0,
      },
      {
        label: 'a param group with momentum and centering over plain top-level options',
        options: (variables) => ({
          learningRate: 0.005,
          paramGroups: [{ params: [variables[1]!, variables[3]!], momentum: 0.8, centered: true }],
        }),
        hyper: (index) => ({
          ...DEFAULTS,
          learningRate: 0.005,
          ...(index === 1 || index === 3 ? { momentum: 0.8, centered: true } : {}),
        }),
      },
    ];
    it.each(cases)('$label', async ({ options, hyper, skip }) => {
      const worst = await runAdaptiveGolden({
        create: (variables) => rmsprop(options(variables)),
        reference: (index) => rmspropReference(hyper(index)),
        steps: 30,
        seed: 6_500_013,
        ...(skip ? { skip } : {}),
      });
      expect(worst).toBeLessThanOrEqual(1);
    });
  });

  it('first two steps by hand: learningRate 0.1, alpha 0.9', async () => {
    // p₀ = [1, −2]; g₁ = [0.5, −1]; g₂ = [−0.25, 2]; ε = 1e-8 (negligible here).
    // Step 1: v = 0.1·g² = [0.025, 0.1];  √v = [0.1581139, 0.3162278]
    //         p₁ = [1 − 0.1·0.5/0.1581139, −2 + 0.1·1/0.3162278] = [0.6837722, −1.6837722]
    // Step 2: v = 0.9·[0.025, 0.1] + 0.1·[0.0625, 4] = [0.02875, 0.49];  √v = [0.1695582, 0.7]
    //         p₂ = [0.6837722 + 0.1·0.25/0.1695582, −1.6837722 − 0.1·2/0.7] = [0.8312142, −1.9694865]
    const got = await steps(
      rmsprop({ learningRate: 0.1, alpha: 0.9 }),
      [1, -2],
      [
        [0.5, -1],
        [-0.25, 2],
      ],
    );
    const p1 = [1 - (0.1 * 0.5) / (Math.sqrt(0.025) + 1e-8), -2 + (0.1 * 1) / (Math.sqrt(0.1) + 1e-8)];
    expectClose(got[0]!, p1);
    expectClose(got[0]!, [0.6837722, -1.6837722]);
    expectClose(got[1]!, [
      p1[0]! + (0.1 * 0.25) / (Math.sqrt(0.9 * 0.025 + 0.1 * 0.0625) + 1e-8),
      p1[1]! - (0.1 * 2) / (Math.sqrt(0.9 * 0.1 + 0.1 * 4) + 1e-8),
    ]);
    expectClose(got[1]!, [0.8312142, -1.9694865]);
  });

  it('first two steps by hand: centered, momentum 0.5, weightDecay 0.1, alpha 0.9', async () => {
    // p₀ = [1, −2]; g₁ = [0.5, −1]; g₂ = [−0.25, 2]; learningRate 0.1.
    // Step 1: g' = g + 0.1·p = [0.6, −1.2];  v = 0.1·g'² = [0.036, 0.144];  ḡ = 0.1·g' = [0.06, −0.12]
    //         v − ḡ² = [0.0324, 0.1296];  d = √(v − ḡ²) + 1e-8 = [0.18, 0.36]  (= 0.3·|g'|)
    //         b = g'/d = [3.3333333, −3.3333333];  p₁ = p₀ − 0.1·b = [0.6666667, −1.6666667]
    // Step 2: g' = [−0.25 + 0.0666667, 2 − 0.1666667] = [−0.1833333, 1.8333333]
    //         v = 0.9·v + 0.1·g'² = [0.0357611, 0.4657111];  ḡ = ḡ + 0.1·(g' − ḡ) = [0.0356667, 0.0753333]
    //         d = √(v − ḡ²) + 1e-8 = [√0.0344890, √0.4600360] = [0.1857122, 0.6782595]
    //         b = 0.5·b + g'/d = [1.6666667 − 0.9871910, −1.6666667 + 2.7029968] = [0.6794758, 1.0363301]
    //         p₂ = p₁ − 0.1·b = [0.5987191, −1.7702997]
    const got = await steps(
      rmsprop({ learningRate: 0.1, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.1 }),
      [1, -2],
      [
        [0.5, -1],
        [-0.25, 2],
      ],
    );
    const b1 = [0.6 / (Math.sqrt(0.036 - 0.06 ** 2) + 1e-8), -1.2 / (Math.sqrt(0.144 - 0.12 ** 2) + 1e-8)];
    const p1 = [1 - 0.1 * b1[0]!, -2 - 0.1 * b1[1]!];
    expectClose(got[0]!, p1);
    expectClose(got[0]!, [0.6666667, -1.6666667]);
    const g2 = [-0.25 + 0.1 * p1[0]!, 2 + 0.1 * p1[1]!];
    const v2 = [0.9 * 0.036 + 0.1 * g2[0]! ** 2, 0.9 * 0.144 + 0.1 * g2[1]! ** 2];
    const m2 = [0.06 + 0.1 * (g2[0]! - 0.06), -0.12 + 0.1 * (g2[1]! + 0.12)];
    const b2 = [0, 1].map((i) => 0.5 * b1[i]! + g2[i]! / (Math.sqrt(v2[i]! - m2[i]! ** 2) + 1e-8));
    expectClose(got[1]!, [p1[0]! - 0.1 * b2[0]!, p1[1]! - 0.1 * b2[1]!]);
    expectClose(got[1]!, [0.5987191, -1.7702997]);
  });

  describe('cross-equivalences', () => {
    const g = [0.8, -0.05, 3];
    const p0 = [1, 2, -1];
    const constant = (n: number) => Array.from({ length: n }, () => g);

    it('momentum 0, not centered, constant gradient: p − lr·Σₖ g/(√(1 − αᵏ)·|g| + ε)', async () => {
      const got = await steps(rmsprop({ learningRate: 0.01, alpha: 0.9 }), p0, constant(40));
      const closed = (t: number) =>
        p0.map((p, i) => {
          let total = 0;
          for (let k = 1; k <= t; k++) total += g[i]! / (Math.sqrt(1 - 0.9 ** k) * Math.abs(g[i]!) + 1e-8);
          return p - 0.01 * total;
        });
      for (const t of [1, 2, 10, 40]) expectClose(got[t - 1]!, closed(t));
    });

    it('centered, constant gradient: v − ḡ² = (1 − αᵏ)·αᵏ·g², so p − lr·Σₖ g/(√((1 − αᵏ)αᵏ)·|g| + ε)', async () => {
      const got = await steps(rmsprop({ learningRate: 0.01, alpha: 0.9, centered: true }), p0, constant(20));
      const closed = (t: number) =>
        p0.map((p, i) => {
          let total = 0;
          for (let k = 1; k <= t; k++) {
            total += g[i]! / (Math.sqrt((1 - 0.9 ** k) * 0.9 ** k) * Math.abs(g[i]!) + 1e-8);
          }
          return p - 0.01 * total;
        });
      for (const t of [1, 2, 10, 20]) expectClose(got[t - 1]!, closed(t));
    });

    it('momentum μ, constant gradient: bₖ = Σⱼ μᵏ⁻ʲ·g/dⱼ, p − lr·Σₖ bₖ', async () => {
      const got = await steps(rmsprop({ learningRate: 0.01, alpha: 0.9, momentum: 0.7 }), p0, constant(30));
      const closed = (t: number) =>
        p0.map((p, i) => {
          let total = 0;
          for (let k = 1; k <= t; k++) {
            for (let j = 1; j <= k; j++) {
              total += 0.7 ** (k - j) * (g[i]! / (Math.sqrt(1 - 0.9 ** j) * Math.abs(g[i]!) + 1e-8));
            }
          }
          return p - 0.01 * total;
        });
      for (const t of [1, 2, 10, 30]) expectClose(got[t - 1]!, closed(t));
    });

    it('alpha 0 is sign descent: p − lr·Σₖ g/(|g| + ε)', async () => {
      const gradients = Array.from({ length: 20 }, (_, k) => [
        Math.sin(k + 1),
        -0.01 * Math.cos(2 * k),
        5 * Math.sin(3 * k + 2),
      ]);
      const got = await steps(rmsprop({ learningRate: 0.05, alpha: 0 }), p0, gradients);
      const expected = [...p0];
      gradients.forEach((gk, k) => {
        gk.forEach((gi, i) => {
          expected[i]! -= (0.05 * gi) / (Math.abs(Math.fround(gi)) + 1e-8);
        });
        expectClose(got[k]!, expected);
      });
    });

    it('weightDecay wd ≡ no weight decay fed g + wd·p (bit for bit)', async () => {
      const a = tf.variable(tf.tensor1d([0.5, -1.5]));
      const b = tf.variable(tf.tensor1d([0.5, -1.5]));
      const options = { learningRate: 0.05, momentum: 0.9, centered: true };
      const withDecay = rmsprop({ ...options, weightDecay: 0.3 });
      const without = rmsprop(options);
      for (let i = 0; i < 12; i++) {
        tf.tidy(() => {
          const grad = tf.tensor1d([Math.sin(i + 1), Math.cos(3 * i)]);
          withDecay.applyGradients({ [a.name]: grad });
          without.applyGradients({ [b.name]: tf.add(grad, tf.mul(b, 0.3)) });
        });
      }
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      withDecay.dispose();
      without.dispose();
      tf.dispose([a, b]);
    });
  });

  describe('beside tf.train.rmsprop', () => {
    it('agrees with tf.train.rmsprop(0.1, 0.95, 0.1) for a constant learning rate', async () => {
      // tfjs-core's own test: x = [1, 2], loss Σx², decay 0.95, momentum 0.1, ε = 1e-7 (backend).
      // Step 1: v = 0.05·[4, 16] = [0.2, 0.8]; b = g/√v = [2/0.4472136, 4/0.8944272] = [4.472136, 4.472136]
      //         x₁ = x₀ − 0.1·b = [0.5527864, 1.5527864]  (tfjs keeps 0.1·b in its buffer: same x).
      // Step 2 (tfjs's save/load test): [0.2874418, 1.2294267].
      // tfjs's ε = 1e-7 inside √(v + ε) against ours outside changes the result by ~1e-7 relative.
      const ours = await trajectory(
        rmsprop({ learningRate: 0.1, alpha: 0.95, momentum: 0.1, epsilon: 1e-7 }),
        [1, 2],
        10,
      );
      const theirs = await trajectory(tf.train.rmsprop(0.1, 0.95, 0.1), [1, 2], 10);
      expectClose(ours[0]!, [1 - (0.1 * 2) / Math.sqrt(0.2), 2 - (0.1 * 4) / Math.sqrt(0.8)]);
      expectClose(ours[0]!, [0.5527864, 1.5527864]);
      expectClose(ours[1]!, [0.2874418, 1.2294267]);
      for (let i = 0; i < 10; i++) expectClose(ours[i]!, theirs[i]!);
    });

    it('agrees with the centered tf.train.rmsprop(0.1, 0.95, 0.1, 1e-8, true) while ε is tiny', async () => {
      // tfjs-core's centered test: [0.5411684, 1.5411685], then [0.2677834, 1.2035918].
      // Step 1: v − ḡ² = [0.2 − 0.01, 0.8 − 0.04] = [0.19, 0.76]; x₁ = [1 − 0.2/√0.19, 2 − 0.4/√0.76].
      const ours = await trajectory(
        rmsprop({ learningRate: 0.1, alpha: 0.95, momentum: 0.1, epsilon: 1e-8, centered: true }),
        [1, 2],
        10,
      );
      const theirs = await trajectory(tf.train.rmsprop(0.1, 0.95, 0.1, 1e-8, true), [1, 2], 10);
      expectClose(ours[0]!, [1 - 0.2 / Math.sqrt(0.19), 2 - 0.4 / Math.sqrt(0.76)]);
      expectClose(ours[0]!, [0.5411684, 1.5411685]);
      expectClose(ours[1]!, [0.2677834, 1.2035918]);
      for (let i = 0; i < 10; i++) expectClose(ours[i]!, theirs[i]!);
    });

    it('differs when the learning rate changes: tfjs keeps lr inside its momentum buffer', async () => {
      // Same settings; learning rate 0.1 on step 1, then 0.05. Step 1 agrees (b₁ = [4.472136, 4.472136]).
      // Ours (PyTorch): x₂ = x₁ − 0.05·(0.1·b₁ + g₂/d₂)
      // tfjs (TF form): x₂ = x₁ − (0.1·(0.1·b₁) + 0.05·g₂/d₂)
      // so tfjs's step is larger by 0.1·(0.1 − 0.05)·b₁ = 0.005·4.472136 = 0.0223607.
      const x = tf.variable(tf.tensor1d([1, 2]));
      const y = tf.variable(tf.tensor1d([1, 2]));
      const ours = rmsprop({
        learningRate: (s: number) => (s === 0 ? 0.1 : 0.05),
        alpha: 0.95,
        momentum: 0.1,
        epsilon: 1e-7,
      });
      const theirs = tf.train.rmsprop(0.1, 0.95, 0.1);
      ours.minimize(() => tf.sum(tf.square(x)));
      theirs.minimize(() => tf.sum(tf.square(y)));
      expectClose(await x.data(), await y.data());
      (theirs as unknown as { learningRate: number }).learningRate = 0.05;
      ours.minimize(() => tf.sum(tf.square(x)));
      theirs.minimize(() => tf.sum(tf.square(y)));
      const b1 = (0.1 * 2) / Math.sqrt(0.2) / 0.1; // = 2/√0.2 = 4.472136 (same for both elements)
      const gap = Array.from(await x.data()).map((xi, i) => xi - (y.dataSync()[i] as number));
      expectClose(gap, [0.1 * (0.1 - 0.05) * b1, 0.1 * (0.1 - 0.05) * b1]);
      expectClose(gap, [0.0223607, 0.0223607]);
      ours.dispose();
      theirs.dispose();
      tf.dispose([x, y]);
    });

    it('differs in centered mode with a larger ε: tfjs computes √(v − ḡ² − ε)', async () => {
      // x = [1, 2], decay 0.95, momentum 0, ε = 0.1. v − ḡ² = [0.19, 0.76] as above.
      // Ours: x₁ = [1 − 0.2/(√0.19 + 0.1), 2 − 0.4/(√0.76 + 0.1)] = [0.6267949, 1.5883761]
      // tfjs: x₁ = [1 − 0.2/√(0.19 − 0.1), 2 − 0.4/√(0.76 − 0.1)] = [0.3333333, 1.5076312]
      const ours = await trajectory(
        rmsprop({ learningRate: 0.1, alpha: 0.95, epsilon: 0.1, centered: true }),
        [1, 2],
        1,
      );
      const theirs = await trajectory(tf.train.rmsprop(0.1, 0.95, 0, 0.1, true), [1, 2], 1);
      expectClose(ours[0]!, [1 - 0.2 / (Math.sqrt(0.19) + 0.1), 2 - 0.4 / (Math.sqrt(0.76) + 0.1)]);
      expectClose(theirs[0]!, [1 - 0.2 / Math.sqrt(0.19 - 0.1), 2 - 0.4 / Math.sqrt(0.76 - 0.1)]);
      // With ε = 0.5 > v − ḡ² = 0.19, tfjs takes the root of a negative number.
      const nan = await trajectory(tf.train.rmsprop(0.1, 0.95, 0, 0.5, true), [1, 2], 1);
      expect(Number.isNaN(nan[0]![0])).toBe(true);
      const finite = await trajectory(
        rmsprop({ learningRate: 0.1, alpha: 0.95, epsilon: 0.5, centered: true }),
        [1, 2],
        1,
      );
      expectClose(finite[0]!, [1 - 0.2 / (Math.sqrt(0.19) + 0.5), 2 - 0.4 / (Math.sqrt(0.76) + 0.5)]);
    });

    it('differs for tiny gradients: tfjs puts ε inside the root', async () => {
      // x = [1e-4, 2e-4], g = 2x, decay 0.9, ε = 1e-7: v = 0.1·g² = [4e-9, 1.6e-8].
      // Ours: g/(√v + ε) = [2e-4/(6.324555e-5 + 1e-7), …] ≈ 3.157 → a step of 0.3157 with lr 0.1.
      // tfjs: g/√(v + ε) = [2e-4/√1.04e-7, 4e-4/√1.16e-7] = [0.6202, 1.1744].
      const ours = await trajectory(
        rmsprop({ learningRate: 0.1, alpha: 0.9, epsilon: 1e-7 }),
        [1e-4, 2e-4],
        1,
      );
      const theirs = await trajectory(tf.train.rmsprop(0.1, 0.9, 0, 1e-7), [1e-4, 2e-4], 1);
      expectClose(ours[0]!, [
        1e-4 - (0.1 * 2e-4) / (Math.sqrt(4e-9) + 1e-7),
        2e-4 - (0.1 * 4e-4) / (Math.sqrt(1.6e-8) + 1e-7),
      ]);
      expectClose(theirs[0]!, [
        1e-4 - (0.1 * 2e-4) / Math.sqrt(1.04e-7),
        2e-4 - (0.1 * 4e-4) / Math.sqrt(1.16e-7),
      ]);
    });

    it('differs with the defaults: alpha 0.99 (PyTorch) against tfjs decay 0.9', async () => {
      // Ours, alpha 0.99: v = 0.01·g², √v = 0.1·|g|, so x₁ = x₀ − 0.1·g/(0.1·|g|) = [0, 1].
      // tfjs, decay 0.9: √v = √0.1·|g|, so x₁ = x₀ − 0.1·sign(g)/√0.1 = [0.6837722, 1.6837722].
      const ours = await trajectory(rmsprop({ learningRate: 0.1 }), [1, 2], 1);
      const theirs = await trajectory(tf.train.rmsprop(0.1), [1, 2], 1);
      expectClose(ours[0]!, [1 - 0.2 / (Math.sqrt(0.04) + 1e-8), 2 - 0.4 / (Math.sqrt(0.16) + 1e-8)]);
      expectClose(theirs[0]!, [1 - Math.sqrt(0.1), 2 - Math.sqrt(0.1)]);
    });
  });

  it.each([
    [{}, 2],
    [{ momentum: 0.9 }, 4],
    [{ centered: true, weightDecay: 0.01 }, 4],
    [{ momentum: 0.9, centered: true }, 6],
  ])('%o: its slots and no leaks, frees everything on dispose', (options, held) => {
    expect(checkMemory(() => rmsprop({ learningRate: 0.01, ...options }))).toBe(held);
  });
});

describeOptimizerConformance<RMSpropOptions>({
  name: 'rmsprop',
  create: (options) => rmsprop(options),
  optionSets: [
    {},
    { momentum: 0.9, centered: true, weightDecay: 0.01 },
    {
      learningRate: 0.005,
      alpha: 0.9,
      paramGroups: [{ match: (v) => v.rank >= 2, momentum: 0.5, centered: true }],
    },
  ],
  // Measured: 7.7e-30 after 300 steps; on Rosenbrock 2.2e-3 after 3000 steps, 9.2e-4 after 5000
  // and 9.0e-4 after 10000 (a constant learning rate settles at a noise floor).
  quadratic: { options: { learningRate: 0.05 }, steps: 300, tolerance: 1e-8 },
  rosenbrock: { options: { learningRate: 0.002 }, steps: 5000, tolerance: 5e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { alpha: 1.2 }, error: /Invalid alpha: 1.2/ },
    { options: { alpha: 1 }, error: /Invalid alpha: 1/ },
    { options: { alpha: -0.01 }, error: /Invalid alpha: -0.01/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: -1e-8 }, error: /Invalid epsilon: -1e-8/ },
    { options: { weightDecay: -0.01 }, error: /Invalid weightDecay: -0.01/ },
    { options: { momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { momentum: -0.9 }, error: /Invalid momentum: -0.9/ },
  ],
});
