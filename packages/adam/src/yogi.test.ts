import { describeOptimizerConformance } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { adam } from './adam.js';
import {
  expectClose,
  expectNoLeaks,
  type ReferenceStep,
  runAdamGolden,
  runGoldenWithGroup,
  stateOf,
  trace,
} from './golden-inputs.js';
import { Yogi, type YogiOptions, yogi } from './yogi.js';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  init: number;
  weightDecay: number;
}

/** Optax's `scale_by_yogi` then `scale_by_learning_rate` (and a decoupled decay) in float64. */
function reference(o: Hyper): ReferenceStep {
  return (p, g, s, t) => {
    if (!s.mu) {
      s.mu = new Float64Array(p.length).fill(o.init);
      s.nu = new Float64Array(p.length).fill(o.init);
    }
    const mu = stateOf(s, 'mu', p.length);
    const nu = stateOf(s, 'nu', p.length);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      p[i] = p[i]! * (1 - o.lr * o.weightDecay);
      mu[i] = (1 - o.beta1) * gi + o.beta1 * mu[i]!;
      nu[i] = nu[i]! - (1 - o.beta2) * Math.sign(nu[i]! - gi * gi) * gi * gi;
      const muHat = mu[i]! / (1 - o.beta1 ** t);
      const nuHat = nu[i]! / (1 - o.beta2 ** t);
      p[i] = p[i]! - o.lr * (muHat / (Math.sqrt(nuHat) + o.eps));
    }
  };
}

const base: Hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-3, init: 1e-6, weightDecay: 0 };

describe('yogi: golden values against a float64 reference (40 steps, ranks 0–3)', () => {
  const cases: { options: YogiOptions; ref: Hyper }[] = [
    { options: {}, ref: base },
    { options: { learningRate: 0.05 }, ref: { ...base, lr: 0.05 } },
    {
      options: { learningRate: 0.02, beta1: 0.8, beta2: 0.9, epsilon: 1e-6, initialAccumulatorValue: 0.5 },
      ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.9, eps: 1e-6, init: 0.5 },
    },
    {
      options: { learningRate: 0.03, beta1: 0, weightDecay: 0.1 },
      ref: { ...base, lr: 0.03, beta1: 0, weightDecay: 0.1 },
    },
  ];
  cases.forEach(({ options, ref }, index) => {
    it(`matches for ${JSON.stringify(options)}`, () => {
      const result = runAdamGolden(yogi(options), reference(ref), {
        steps: 40,
        seed: 91 + index,
        slotNames: ['mu', 'nu'],
      });
      expect(result.worst).toBeLessThanOrEqual(1);
    });
  });

  it('ν moves both ways: up after large gradients, down after small ones (the sign term)', () => {
    // The harness's gradients are large (scale 2) for 8 steps, then small (0.05): ν grows, then shrinks.
    const states: number[] = [];
    const recorder: ReferenceStep = (p, g, s, t) => {
      reference(base)(p, g, s, t);
      if (t === 8 || t === 20) states.push(s.nu![0]!);
    };
    const result = runAdamGolden(yogi(), recorder, { steps: 20, seed: 5, slotNames: ['nu'] });
    expect(result.worst).toBeLessThanOrEqual(1);
    // 4 variables record per step: the rank-0 variable's ν at t = 8 and at t = 20.
    expect(states[0]!).toBeGreaterThan(1e-6);
    expect(states[4]!).toBeLessThan(states[0]!);
  });
});

describe('yogi: golden values with a param group (40 steps, ranks 0–3)', () => {
  it('rank ≤ 1 variables take the group’s learning rate and no weight decay, the others the top level’s', () => {
    const result = runGoldenWithGroup(yogi, (o) => reference({ ...base, ...o }), ['mu', 'nu']);
    expect(result.worst).toBeLessThanOrEqual(1);
  });
});

describe('yogi: steps by hand', () => {
  it('lr 0.1, β = (0.9, 0.999), ε = 1e-3, μ₀ = ν₀ = 1e-6; p₀ = [1, −2], g₁ = [2, 0.5], g₂ = [−1, 0.01]', () => {
    const c = 1e-6;
    // Step 1: μ = 0.1·g + 0.9·1e-6 = [0.2000009, 0.0500009]; ν₀ < g², so ν = ν₀ + 0.001·g² =
    // [0.004001, 0.000251]; μ̂ = μ/0.1 = [2.000009, 0.500009], ν̂ = ν/0.001 = [4.001, 0.251];
    // p₁ = p₀ − 0.1·μ̂/(√ν̂ + 1e-3) = [1 − 0.2000009/2.00125, −2 − 0.0500009/0.5019990].
    const mu1 = [0.1 * 2 + 0.9 * c, 0.1 * 0.5 + 0.9 * c];
    const nu1 = [c + 0.001 * 4, c + 0.001 * 0.25];
    const p1 = [0, 1].map((i) => [1, -2][i]! - (0.1 * (mu1[i]! / 0.1)) / (Math.sqrt(nu1[i]! / 0.001) + 1e-3));
    // Step 2: g₂² = [1, 1e-4]: element 0 still has ν < g² (ν += 0.001), element 1 has ν > g², so
    // ν decreases by 0.001·1e-4: ν = [0.005001, 0.0002509]; μ = 0.9·μ₁ + 0.1·g₂;
    // bias corrections 1 − 0.9² = 0.19 and 1 − 0.999² = 0.001999.
    const g2 = [-1, 0.01];
    const mu2 = mu1.map((m, i) => 0.1 * g2[i]! + 0.9 * m);
    const nu2 = [nu1[0]! + 0.001 * 1, nu1[1]! - 0.001 * 1e-4];
    const p2 = p1.map((p, i) => p - (0.1 * (mu2[i]! / 0.19)) / (Math.sqrt(nu2[i]! / 0.001999) + 1e-3));
    const [a1, a2] = trace(
      yogi({ learningRate: 0.1 }),
      [1, -2],
      [
        [2, 0.5],
        [-1, 0.01],
      ],
    );
    expectClose(a1!, p1, 'step 1');
    expectClose(a2!, p2, 'step 2');
    expect(a1![0]).toBeCloseTo(1 - 0.2000009 / 2.00125, 6); // 0.9000621
    expect(nu2[1]).toBeLessThan(nu1[1]!);
  });
});

describe('yogi: the initial accumulator', () => {
  it('a zero gradient moves a fresh variable: μ₁ = 0.9·1e-6, ν₁ = 1e-6 (sign(ν − 0)·0 = 0)', () => {
    // μ̂ = 9e-7/0.1 = 9e-6, ν̂ = 1e-6/0.001 = 1e-3, √ν̂ = 0.0316228: p₁ = 1 − 1e-3·9e-6/0.0326228 = 1 − 2.7588e-7.
    const [row] = trace(yogi(), [1], [[0]]);
    expectClose(row!, [1 - (1e-3 * 9e-6) / (Math.sqrt(1e-3) + 1e-3)], 'step 1');
    expect(row![0]).toBeLessThan(1);
    // Starting at zero, it stays.
    expect(trace(yogi({ initialAccumulatorValue: 0 }), [1], [[0]])[0]).toEqual([1]);
  });
});

describe('yogi: cross-equivalences', () => {
  it('μ is Adam’s first moment plus β₁ᵗ·initialAccumulatorValue', () => {
    const gradients = Array.from({ length: 25 }, (_, t) => [Math.sin(t) * 2, Math.cos(2 * t), 0.3 * t]);
    const read = (optimizer: ReturnType<typeof yogi> | ReturnType<typeof adam>, slot: string) => {
      const variable = tf.variable(tf.tensor1d([1, -2, 0.5]), true, `yogiAdam${slot}`);
      const out: number[][] = [];
      for (const g of gradients) {
        const grad = tf.tensor1d(g);
        optimizer.applyGradients({ [variable.name]: grad });
        grad.dispose();
        out.push(Array.from(optimizer.getSlots(variable.name)![slot]!.dataSync()));
      }
      optimizer.dispose();
      variable.dispose();
      return out;
    };
    const init = 0.25;
    const mu = read(yogi({ initialAccumulatorValue: init }), 'mu');
    const m = read(adam(), 'expAvg');
    mu.forEach((row, t) => {
      expectClose(
        row,
        m[t]!.map((x) => x + 0.9 ** (t + 1) * init),
        `step ${t + 1}`,
      );
    });
  });

  it('ν never forgets faster than (1 − β₂)·g² per step, where Adam’s v drops by (1 − β₂)·v', () => {
    // One large gradient, then zeros: Adam's v decays geometrically, Yogi's ν is unchanged by g = 0.
    const gradients = [[3], ...Array.from({ length: 10 }, () => [0])];
    const y = yogi({ learningRate: 0.1, beta2: 0.5 });
    const variable = tf.variable(tf.tensor1d([0]), true, 'yogiForget');
    for (const g of gradients) {
      const grad = tf.tensor1d(g);
      y.applyGradients({ [variable.name]: grad });
      grad.dispose();
    }
    // ν₁ = 1e-6 + 0.5·9; then sign(ν − 0)·0 = 0: ν stays.
    expectClose(y.getSlots(variable.name)!.nu!.dataSync(), [1e-6 + 4.5], 'ν after zeros');
    y.dispose();
    variable.dispose();
  });
});

describe('yogi: memory', () => {
  it('keeps numTensors constant from the second step and frees everything', () => {
    expectNoLeaks(yogi({ learningRate: 0.01 }));
    expectNoLeaks(yogi({ learningRate: 0.01, weightDecay: 0.1 }));
  });
});

describe('yogi: class', () => {
  it('is registered as OptimkitYogi with Optax’s defaults', () => {
    const optimizer = yogi();
    expect(Yogi.className).toBe('OptimkitYogi');
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getConfig()).toEqual({
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-3,
      initialAccumulatorValue: 1e-6,
      weightDecay: 0,
    });
    optimizer.dispose();
  });
});

describeOptimizerConformance<YogiOptions>({
  name: 'yogi',
  create: (options) => yogi(options),
  optionSets: [{}, { weightDecay: 0.1, initialAccumulatorValue: 0.01 }],
  // The kit checks that a zero gradient leaves a fresh variable in place, which holds only when the
  // moments start at zero (see 'a zero gradient moves a fresh variable' above for the default).
  quadratic: { options: { learningRate: 0.1, initialAccumulatorValue: 0 }, steps: 500, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: 0.05 }, steps: 3000, tolerance: 1e-6 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { beta1: 1 }, error: /Invalid beta1: 1/ },
    { options: { beta2: -0.1 }, error: /Invalid beta2: -0.1/ },
    { options: { epsilon: 0 }, error: /Invalid epsilon: 0/ },
    { options: { initialAccumulatorValue: -1 }, error: /Invalid initialAccumulatorValue: -1/ },
    { options: { weightDecay: -0.1 }, error: /Invalid weightDecay: -0.1/ },
  ],
});
