import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Adadelta, type AdadeltaOptions, adadelta } from './adadelta.js';
import {
  checkMemory,
  expectClose,
  type ReferenceStep,
  runAdaptiveGolden,
  steps,
  trajectory,
} from './golden-inputs.js';

type Value = number | ((step: number) => number);
interface AdadeltaHyper {
  learningRate: Value;
  rho: Value;
  epsilon: number;
  weightDecay: number;
}
const DEFAULTS: AdadeltaHyper = { learningRate: 1, rho: 0.9, epsilon: 1e-6, weightDecay: 0 };

const at = (value: Value, step: number) => (typeof value === 'function' ? value(step) : value);

/**
 * PyTorch's Adadelta (docs/algorithms/adaptive.md#adadelta), elementwise in float64. With `stale`, the denominator
 * uses the previous average instead, as tf.train.adadelta does (tfjs.md §2).
 */
function adadeltaReference(h: AdadeltaHyper, stale = false): ReferenceStep {
  let squareAvg: Float64Array | null = null;
  let accDelta: Float64Array | null = null;
  return (p, g, { iteration }) => {
    const lr = at(h.learningRate, iteration);
    const rho = at(h.rho, iteration);
    squareAvg ??= new Float64Array(p.length);
    accDelta ??= new Float64Array(p.length);
    for (let k = 0; k < p.length; k++) {
      const gk = g[k]! + h.weightDecay * p[k]!;
      const previous = squareAvg[k]!;
      squareAvg[k] = rho * previous + (1 - rho) * gk * gk;
      const denominator = Math.sqrt((stale ? previous : squareAvg[k]!) + h.epsilon);
      const delta = (Math.sqrt(accDelta[k]! + h.epsilon) / denominator) * gk;
      accDelta[k] = rho * accDelta[k]! + (1 - rho) * delta * delta;
      p[k]! -= lr * delta;
    }
  };
}

/** The float64 reference on tfjs's test loss Σx² (gradient 2x) from `start`. */
function referenceOnSquares(h: AdadeltaHyper, start: number[], steps: number, stale: boolean): number[][] {
  const p = Float64Array.from(start);
  const step = adadeltaReference(h, stale);
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    step(
      p,
      p.map((x) => 2 * x),
      { t, iteration: t - 1 },
    );
    out.push(Array.from(p));
  }
  return out;
}

describe('adadelta', () => {
  it('has the defaults of docs/algorithms/adaptive.md#adadelta and a registered class name', () => {
    const optimizer = adadelta();
    expect(optimizer).toBeInstanceOf(Adadelta);
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitAdadelta');
    expect(optimizer.getConfig()).toEqual({ learningRate: 1, rho: 0.9, epsilon: 1e-6, weightDecay: 0 });
    optimizer.dispose();
  });

  it.each([
    [{ learningRate: -1 }, 'Invalid learning rate: -1'],
    [{ rho: 1 }, 'Invalid rho: 1'],
    [{ rho: 1.5 }, 'Invalid rho: 1.5'],
    [{ rho: -0.1 }, 'Invalid rho: -0.1'],
    [{ epsilon: 0 }, 'Invalid epsilon: 0'],
    [{ epsilon: -1e-6 }, 'Invalid epsilon: -0.000001'],
    [{ weightDecay: -0.5 }, 'Invalid weightDecay: -0.5'],
    [{ rho: Number.NaN }, 'Invalid rho: NaN'],
  ])('rejects %o', (options, message) => {
    expect(() => adadelta(options)).toThrow(RangeError);
    expect(() => adadelta(options)).toThrow(message);
  });

  describe('golden: float64 reference over 30 steps, ranks 0-3 together', () => {
    const cases: {
      label: string;
      options: (variables: tf.Variable[]) => Parameters<typeof adadelta>[0];
      hyper: (index: number) => AdadeltaHyper;
      skip?: (index: number, step: number) => boolean;
    }[] = [
      { label: 'defaults', options: () => ({}), hyper: () => DEFAULTS },
      {
        label: 'learningRate 0.5, rho 0.95, epsilon 1e-4, weightDecay 0.1',
        options: () => ({ learningRate: 0.5, rho: 0.95, epsilon: 1e-4, weightDecay: 0.1 }),
        hyper: () => ({ learningRate: 0.5, rho: 0.95, epsilon: 1e-4, weightDecay: 0.1 }),
      },
      {
        label: 'scheduled learningRate and rho, a param group; rank 2 skipped every fourth step',
        options: (variables) => ({
          learningRate: (s: number) => 2 / (1 + 0.05 * s),
          rho: (s: number) => 0.5 + 0.01 * s,
          epsilon: 1e-3,
          paramGroups: [{ params: [variables[3]!.name], rho: 0.99, weightDecay: 0.01 }],
        }),
        hyper: (index) => ({
          learningRate: (s: number) => 2 / (1 + 0.05 * s),
          rho: index === 3 ? 0.99 : (s: number) => 0.5 + 0.01 * s,
          epsilon: 1e-3,
          weightDecay: index === 3 ? 0.01 : 0,
        }),
        skip: (index, step) => index === 2 && step % 4 === 3,
      },
    ];
    it.each(cases)('$label', async ({ options, hyper, skip }) => {
      const worst = await runAdaptiveGolden({
        create: (variables) => adadelta(options(variables)),
        reference: (index) => adadeltaReference(hyper(index)),
        steps: 30,
        seed: 12_125_701,
        ...(skip ? { skip } : {}),
      });
      expect(worst).toBeLessThanOrEqual(1);
    });
  });

  it('first two steps by hand: the defaults (learningRate 1, rho 0.9, epsilon 1e-6)', async () => {
    // p₀ = [1, −2]; g₁ = [0.5, −1]; g₂ = [−0.25, 2].
    // Step 1: v = 0.1·g² = [0.025, 0.1];  Δ = √(0 + 1e-6)/√(v + 1e-6)·g = [1e-3/0.1581170·0.5, 1e-3/0.3162293·(−1)]
    //           = [0.0031622, −0.0031623];  u = 0.1·Δ² = [9.99960e-7, 9.99990e-7]
    //         p₁ = p₀ − Δ = [0.9968378, −1.9968377]
    // Step 2: v = 0.9·v + 0.1·g² = [0.02875, 0.49];  Δ = √(u + 1e-6)/√(v + 1e-6)·g
    //           = [√1.99996e-6/0.1695612·(−0.25), √1.99999e-6/0.7000007·2] = [−0.0020851, 0.0040406]
    //         p₂ = p₁ − Δ = [0.9989229, −2.0008783]
    const got = await steps(
      adadelta(),
      [1, -2],
      [
        [0.5, -1],
        [-0.25, 2],
      ],
    );
    const d1 = [
      (Math.sqrt(1e-6) / Math.sqrt(0.025 + 1e-6)) * 0.5,
      (Math.sqrt(1e-6) / Math.sqrt(0.1 + 1e-6)) * -1,
    ];
    const p1 = [1 - d1[0]!, -2 - d1[1]!];
    expectClose(got[0]!, p1);
    expectClose(got[0]!, [0.9968378, -1.9968377]);
    const u1 = d1.map((d) => 0.1 * d * d);
    const d2 = [
      (Math.sqrt(u1[0]! + 1e-6) / Math.sqrt(0.9 * 0.025 + 0.1 * 0.0625 + 1e-6)) * -0.25,
      (Math.sqrt(u1[1]! + 1e-6) / Math.sqrt(0.9 * 0.1 + 0.1 * 4 + 1e-6)) * 2,
    ];
    expectClose(got[1]!, [p1[0]! - d2[0]!, p1[1]! - d2[1]!]);
    expectClose(got[1]!, [0.9989229, -2.0008783]);
  });

  it('first two steps by hand: learningRate 0.5, rho 0.5, epsilon 0.01, weightDecay 0.1', async () => {
    // p₀ = [1, −2]; g₁ = [0.5, −1]; g₂ = [−0.25, 2].
    // Step 1: g' = g + 0.1·p = [0.6, −1.2];  v = 0.5·g'² = [0.18, 0.72]
    //         Δ = √0.01/√(v + 0.01)·g' = [0.1/0.4358899·0.6, 0.1/0.8544004·(−1.2)] = [0.1376494, −0.1404494]
    //         u = 0.5·Δ² = [0.0094737, 0.0098630];  p₁ = p₀ − 0.5·Δ = [0.9311753, −1.9297753]
    // Step 2: g' = [−0.25 + 0.0931175, 2 − 0.1929775] = [−0.1568825, 1.8070225]
    //         v = 0.5·v + 0.5·g'² = [0.1023061, 1.9926651]
    //         Δ = √(u + 0.01)/√(v + 0.01)·g' = [0.1395482/0.3351210·(−0.1568825), 0.1409362/1.4151555·1.8070225]
    //           = [−0.0653276, 0.1799625];  p₂ = p₁ − 0.5·Δ = [0.9638391, −2.0197565]
    const got = await steps(
      adadelta({ learningRate: 0.5, rho: 0.5, epsilon: 0.01, weightDecay: 0.1 }),
      [1, -2],
      [
        [0.5, -1],
        [-0.25, 2],
      ],
    );
    const d1 = [(0.1 / Math.sqrt(0.19)) * 0.6, (0.1 / Math.sqrt(0.73)) * -1.2];
    const p1 = [1 - 0.5 * d1[0]!, -2 - 0.5 * d1[1]!];
    expectClose(got[0]!, p1);
    expectClose(got[0]!, [0.9311753, -1.9297753]);
    const g2 = [-0.25 + 0.1 * p1[0]!, 2 + 0.1 * p1[1]!];
    const d2 = [0, 1].map(
      (i) =>
        (Math.sqrt(0.5 * d1[i]! ** 2 + 0.01) / Math.sqrt(0.5 * [0.18, 0.72][i]! + 0.5 * g2[i]! ** 2 + 0.01)) *
        g2[i]!,
    );
    expectClose(got[1]!, [p1[0]! - 0.5 * d2[0]!, p1[1]! - 0.5 * d2[1]!]);
    expectClose(got[1]!, [0.9638391, -2.0197565]);
  });

  describe('cross-equivalences', () => {
    it('rho 0 with a constant gradient: Δₜ = g·√(1 − cᵗ), c = g²/(g² + ε)', async () => {
      // With rho 0: v = g², u = Δ², so Δₜ² = c·(Δₜ₋₁² + ε), whose solution from Δ₀ = 0 is g²(1 − cᵗ).
      const g = [0.1, -0.3, 1];
      const eps = 0.01;
      const got = await steps(
        adadelta({ rho: 0, epsilon: eps, learningRate: 0.5 }),
        [0, 0, 0],
        Array.from({ length: 25 }, () => g),
      );
      const closed = (t: number) =>
        g.map((gi) => {
          const c = (gi * gi) / (gi * gi + eps);
          let total = 0;
          for (let k = 1; k <= t; k++) total += gi * Math.sqrt(1 - c ** k);
          return -0.5 * total;
        });
      for (const t of [1, 2, 10, 25]) expectClose(got[t - 1]!, closed(t));
    });

    it('the displacement is linear in the learning rate (its state never sees it)', async () => {
      const gradients = Array.from({ length: 25 }, (_, k) => [
        Math.sin(k + 1),
        -0.3 * Math.cos(2 * k),
        2 * Math.sin(3 * k),
      ]);
      const start = [1, -1, 0.5];
      const unit = await steps(adadelta({ learningRate: 1, rho: 0.8, epsilon: 1e-3 }), start, gradients);
      const scaled = await steps(adadelta({ learningRate: 0.3, rho: 0.8, epsilon: 1e-3 }), start, gradients);
      for (let t = 0; t < 25; t++) {
        expectClose(
          scaled[t]!.map((x, i) => x - start[i]!),
          unit[t]!.map((x, i) => 0.3 * (x - start[i]!)),
        );
      }
    });

    it('weightDecay wd ≡ no weight decay fed g + wd·p (bit for bit)', async () => {
      const a = tf.variable(tf.tensor1d([0.5, -1.5]));
      const b = tf.variable(tf.tensor1d([0.5, -1.5]));
      const withDecay = adadelta({ rho: 0.8, weightDecay: 0.3 });
      const without = adadelta({ rho: 0.8 });
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

  describe('beside tf.train.adadelta', () => {
    const settings: AdadeltaHyper = { learningRate: 0.1, rho: 0.95, epsilon: 1e-7, weightDecay: 0 };

    it('tfjs-core example: tfjs steps plain SGD first, optimkit (PyTorch) a tiny warm-up step', async () => {
      // tf.train.adadelta(0.1, 0.95), ε = 1e-7 (backend), x = [1, 2], loss Σx², g = 2x = [2, 4].
      // tfjs: Δ = √(0 + ε)/√(v_old + ε)·g with v_old = 0 → Δ = g, x₁ = x₀ − 0.1·g = [0.8, 1.6];
      //       then v_old = [0.2, 0.8] = u, so again Δ = g: x₂ = [0.64, 1.28] (tfjs's test values).
      // ours: v = 0.05·g² = [0.2, 0.8], Δ = √1e-7/√(v + 1e-7)·g = [3.162278e-4/0.4472137·2, …]
      //       = [1.414213e-3, 1.414213e-3], x₁ = x₀ − 0.1·Δ = [0.9998586, 1.9998586].
      const theirs = await trajectory(tf.train.adadelta(0.1, 0.95), [1, 2], 10);
      const ours = await trajectory(adadelta({ learningRate: 0.1, rho: 0.95, epsilon: 1e-7 }), [1, 2], 10);
      expectClose(theirs[0]!, [0.8, 1.6]);
      expectClose(theirs[1]!, [0.64, 1.28]);
      const delta = [
        (Math.sqrt(1e-7) / Math.sqrt(0.2 + 1e-7)) * 2,
        (Math.sqrt(1e-7) / Math.sqrt(0.8 + 1e-7)) * 4,
      ];
      expectClose(ours[0]!, [1 - 0.1 * delta[0]!, 2 - 0.1 * delta[1]!]);
      expectClose(ours[0]!, [0.9998586, 1.9998586]);
      // Each is its algorithm exactly: ours the PyTorch rule, tfjs the same rule with the stale
      // denominator, over 10 steps with the same settings.
      const fresh = referenceOnSquares(settings, [1, 2], 10, false);
      const stale = referenceOnSquares(settings, [1, 2], 10, true);
      for (let t = 0; t < 10; t++) {
        expectClose(ours[t]!, fresh[t]!);
        expectClose(theirs[t]!, stale[t]!);
      }
    });

    it('agrees on the running average of g²: only the denominator that uses it differs', async () => {
      // After step 1 both hold v = (1 − 0.95)·g² = [0.2, 0.8] (tfjs's "accum_grad").
      const x = tf.variable(tf.tensor1d([1, 2]));
      const y = tf.variable(tf.tensor1d([1, 2]));
      const ours = adadelta({ learningRate: 0.1, rho: 0.95, epsilon: 1e-7 });
      const theirs = tf.train.adadelta(0.1, 0.95);
      ours.minimize(() => tf.sum(tf.square(x)));
      theirs.minimize(() => tf.sum(tf.square(y)));
      const weights = await theirs.getWeights();
      expect(weights[1]!.name).toBe(`${y.name}/accum_grad`);
      expectClose(await weights[1]!.tensor.data(), [0.2, 0.8]);
      expectClose(await ours.getSlots(x.name)!.squareAvg!.data(), [0.2, 0.8]);
      tf.dispose(weights[0]!.tensor);
      ours.dispose();
      theirs.dispose();
      tf.dispose([x, y]);
    });

    it('differs with the defaults: learning rate 1.0 / rho 0.9 / ε 1e-6 against tfjs 0.001 / 0.95 / 1e-7', async () => {
      // Ours: x₁ = x₀ − 1·√1e-6/√(0.1·g² + 1e-6)·g ≈ x₀ − √1e-6/√0.1·sign(g) = [0.9968378, 1.9968377]
      // tfjs: x₁ = x₀ − 0.001·g = [0.998, 1.996]
      const ours = await trajectory(adadelta(), [1, 2], 1);
      const theirs = await trajectory(tf.train.adadelta(), [1, 2], 1);
      expectClose(ours[0]!, [1 - (1e-3 / Math.sqrt(0.4 + 1e-6)) * 2, 2 - (1e-3 / Math.sqrt(1.6 + 1e-6)) * 4]);
      expectClose(theirs[0]!, [0.998, 1.996]);
    });
  });

  it('keeps two slots per variable, no leaks, frees everything on dispose', () => {
    expect(checkMemory(() => adadelta({ weightDecay: 0.01 }))).toBe(4);
  });
});

/** 1/t decay: with a constant learning rate Adadelta reaches ~1e-2 on Rosenbrock, then drifts back up. */
const harmonicDecay = (step: number) => 1 / (1 + step / 200);

describeOptimizerConformance<AdadeltaOptions>({
  name: 'adadelta',
  create: (options) => adadelta(options),
  optionSets: [
    {},
    { learningRate: 0.5, rho: 0.95, epsilon: 1e-5, weightDecay: 0.01 },
    { paramGroups: [{ match: (v) => v.rank === 0, rho: 0.5, weightDecay: 0.1 }] },
  ],
  // Measured: 8.1e-6 after 1000 steps and 0 (float32) after 2000 with the defaults; on Rosenbrock
  // 2.3e-3 after 2000 steps and 5.5e-4 after 4000 with the decaying learning rate.
  quadratic: { options: {}, steps: 2000, tolerance: 1e-8 },
  rosenbrock: { options: { learningRate: harmonicDecay }, steps: 4000, tolerance: 5e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { rho: 1 }, error: /Invalid rho: 1/ },
    { options: { rho: 1.1 }, error: /Invalid rho: 1.1/ },
    { options: { rho: -0.5 }, error: /Invalid rho: -0.5/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { epsilon: -1e-6 }, error: /Invalid epsilon: -0.000001/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});
