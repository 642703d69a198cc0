import { describe, expect, it } from 'vitest';
import { cosineDecay } from './cosine-decay.js';
import { expectClose } from './test-helpers.js';

// Optax cosine_decay_schedule's documented piecewise form.
function optaxCosine(I: number, T: number, alpha: number, p: number, t: number): number {
  if (t > T) return alpha * I;
  return alpha * I + (1 - alpha) * I * (0.5 * (1 + Math.cos((Math.PI * t) / T))) ** p;
}

describe('cosineDecay', () => {
  it('matches Optax at 0, inside, at the end ±1 and past it', () => {
    const s = cosineDecay({ initValue: 2, decaySteps: 8, alpha: 0.25, exponent: 2 });
    for (const t of [0, 1, 4, 7, 8, 9, 100, 1e9]) expectClose(s(t), optaxCosine(2, 8, 0.25, 2, t));
    expect(s(0)).toBe(2);
    // 2 · (0.75 · (½ (1 + cos(π/2)))² + 0.25) = 2 · (0.75 · 0.25 + 0.25) = 0.875
    expectClose(s(4), 0.875);
    expect(s(8)).toBe(0.5);
    expect(s(9)).toBe(0.5);
  });

  it('decays to exactly 0 with the default alpha and stays there', () => {
    const s = cosineDecay({ initValue: 1e-3, decaySteps: 10 });
    expect(s(0)).toBe(1e-3);
    expectClose(s(5), 5e-4);
    expect(s(10)).toBe(0);
    expect(s(11)).toBe(0);
    expect(s.scheduleConfig).toEqual({ initValue: 1e-3, decaySteps: 10, alpha: 0, exponent: 1 });
  });

  it('equals PyTorch CosineAnnealingLR(T_max, eta_min) up to T_max', () => {
    const [base, Tmax, etaMin] = [0.1, 12, 0.004];
    const torch = (t: number) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * t) / Tmax))) / 2;
    const s = cosineDecay({ initValue: base, decaySteps: Tmax, alpha: etaMin / base });
    for (let t = 0; t <= Tmax; t++) expectClose(s(t), torch(t));
  });

  it('rejects invalid arguments', () => {
    const ok = { initValue: 1, decaySteps: 10 };
    expect(() => cosineDecay({ ...ok, decaySteps: 0 })).toThrow(/cosineDecay: invalid decaySteps: 0/);
    expect(() => cosineDecay({ ...ok, decaySteps: 10.5 })).toThrow(RangeError);
    expect(() => cosineDecay({ ...ok, initValue: -1 })).toThrow(/invalid initValue: -1/);
    expect(() => cosineDecay({ ...ok, alpha: -0.1 })).toThrow(/invalid alpha: -0.1/);
    expect(() => cosineDecay({ ...ok, alpha: 1.5 })).toThrow(/invalid alpha: 1.5 \(must be in \[0, 1\]\)/);
    expect(() => cosineDecay({ ...ok, exponent: 0 })).toThrow(/invalid exponent: 0/);
    expect(() => cosineDecay({ ...ok, decay_steps: 3 } as never)).toThrow(/unknown option 'decay_steps'/);
  });
});
