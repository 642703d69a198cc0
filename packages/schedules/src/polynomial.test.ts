import { describe, expect, it } from 'vitest';
import { linear, polynomial } from './polynomial.js';
import { expectClose } from './test-helpers.js';

// Optax's documented piecewise form, written independently of the implementation.
function optaxPolynomial(I: number, E: number, P: number, T: number, B: number, t: number): number {
  if (t < B) return I;
  if (t >= B + T) return E;
  return (I - E) * (1 - (t - B) / T) ** P + E;
}

describe('linear', () => {
  const opts = { initValue: 2, endValue: 0.5, transitionSteps: 10, transitionBegin: 5 };
  const s = linear(opts);

  it('holds initValue up to transitionBegin, interpolates, then clamps at endValue', () => {
    // I + (t − B)/T · (E − I)
    const expected = (t: number) => (t <= 5 ? 2 : t >= 15 ? 0.5 : 2 + ((t - 5) / 10) * (0.5 - 2));
    for (const t of [0, 1, 4, 5, 6, 7.5, 10, 14, 15, 16, 100, 1e9]) expectClose(s(t), expected(t));
    expect(s(0)).toBe(2);
    expect(s(5)).toBe(2);
    expectClose(s(6), 1.85);
    expectClose(s(10), 1.25);
    expectClose(s(14), 0.65);
    expect(s(15)).toBe(0.5);
    expect(s(16)).toBe(0.5);
  });

  it('starts at once without transitionBegin (a warmup), and may rise or go negative', () => {
    const warmup = linear({ initValue: 0, endValue: 1e-3, transitionSteps: 4 });
    expect(warmup(0)).toBe(0);
    expectClose(warmup(1), 2.5e-4);
    expectClose(warmup(3), 7.5e-4);
    expect(warmup(4)).toBe(1e-3);
    expect(warmup(5)).toBe(1e-3);
    const negative = linear({ initValue: -1, endValue: -0.5, transitionSteps: 2 });
    expectClose(negative(1), -0.75);
  });

  it('equals PyTorch LinearLR(start_factor, end_factor, total_iters) as absolute values', () => {
    const base = 0.1;
    const [sf, ef, T] = [1 / 3, 1, 5];
    const torch = (t: number) => base * (sf + ((ef - sf) * Math.min(T, t)) / T);
    const ours = linear({ initValue: sf * base, endValue: ef * base, transitionSteps: T });
    for (let t = 0; t <= 8; t++) expectClose(ours(t), torch(t));
  });

  it('carries its name and options', () => {
    expect(s.scheduleName).toBe('linear');
    expect(s.scheduleConfig).toEqual(opts);
    expect(linear({ initValue: 1, endValue: 0, transitionSteps: 3 }).scheduleConfig).toEqual({
      initValue: 1,
      endValue: 0,
      transitionSteps: 3,
      transitionBegin: 0,
    });
  });

  it('rejects invalid arguments', () => {
    const ok = { initValue: 1, endValue: 0, transitionSteps: 10 };
    expect(() => linear({ ...ok, transitionSteps: 0 })).toThrow(/linear: invalid transitionSteps: 0/);
    expect(() => linear({ ...ok, transitionSteps: -3 })).toThrow(RangeError);
    expect(() => linear({ ...ok, transitionSteps: 2.5 })).toThrow(
      /invalid transitionSteps: 2.5 \(must be an integer > 0\)/,
    );
    expect(() => linear({ ...ok, transitionBegin: -1 })).toThrow(/invalid transitionBegin: -1/);
    expect(() => linear({ ...ok, transitionBegin: 0.5 })).toThrow(RangeError);
    expect(() => linear({ ...ok, initValue: Number.NaN })).toThrow(/invalid initValue: NaN/);
    expect(() => linear({ initValue: 1, transitionSteps: 3 } as never)).toThrow(
      /missing required option 'endValue'/,
    );
    expect(() => linear({ ...ok, power: 2 } as never)).toThrow(/unknown option 'power'/);
  });
});

describe('polynomial', () => {
  const opts = { initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100, transitionBegin: 5 };
  const s = polynomial(opts);

  it('matches the Optax closed form at 0, inside, at the boundaries ±1 and past the end', () => {
    for (const t of [0, 4, 5, 6, 50, 55.5, 104, 105, 106, 1e6]) {
      expectClose(s(t), optaxPolynomial(1, 0.01, 2, 100, 5, t));
    }
  });

  it("reproduces Optax's documented example values", () => {
    // optax.polynomial_schedule(1.0, 0.01, transition_steps=100, transition_begin=5, power=2)
    expect(s(0).toFixed(4)).toBe('1.0000');
    expect(s(5).toFixed(4)).toBe('1.0000');
    expect(s(6).toFixed(4)).toBe('0.9803');
    expect(s(104).toFixed(4)).toBe('0.0101');
    expect(s(105).toFixed(4)).toBe('0.0100');
    expect(s(110).toFixed(4)).toBe('0.0100');
  });

  it('equals PyTorch PolynomialLR(total_iters, power) as absolute values', () => {
    const [base, T, p] = [0.5, 6, 1.5];
    const torch = (t: number) => base * (1 - Math.min(T, t) / T) ** p;
    const ours = polynomial({ initValue: base, endValue: 0, power: p, transitionSteps: T });
    for (let t = 0; t <= 9; t++) expectClose(ours(t), torch(t));
  });

  it('with power 1 equals linear', () => {
    const a = polynomial({ initValue: 3, endValue: 1, power: 1, transitionSteps: 7, transitionBegin: 2 });
    const b = linear({ initValue: 3, endValue: 1, transitionSteps: 7, transitionBegin: 2 });
    for (let t = 0; t <= 12; t++) expect(a(t)).toBe(b(t));
  });

  it('rejects invalid arguments', () => {
    expect(() => polynomial({ ...opts, power: 0 })).toThrow(/polynomial: invalid power: 0/);
    expect(() => polynomial({ ...opts, power: -1 })).toThrow(RangeError);
    expect(() => polynomial({ ...opts, transitionSteps: 0 })).toThrow(/invalid transitionSteps: 0/);
    expect(() => polynomial({ ...opts, power: undefined } as never)).toThrow(
      /missing required option 'power'/,
    );
  });
});
