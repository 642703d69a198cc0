import { describe, expect, it } from 'vitest';
import { cosineDecay } from './cosine-decay.js';
import { join } from './join.js';
import { linear } from './polynomial.js';
import { expectClose } from './test-helpers.js';
import { warmupCosine } from './warmup-cosine.js';

// Optax warmup_cosine_decay_schedule, written out: linear warmup, then cosine over D − W steps.
function optaxWarmupCosine(
  I: number,
  P: number,
  W: number,
  D: number,
  E: number,
  p: number,
  t: number,
): number {
  if (t < W) return I + ((P - I) * t) / W;
  const c = Math.min(t - W, D - W);
  const alpha = P === 0 ? 0 : E / P;
  return P * ((1 - alpha) * (0.5 * (1 + Math.cos((Math.PI * c) / (D - W)))) ** p + alpha);
}

describe('warmupCosine', () => {
  it('warms up linearly, peaks at warmupSteps, decays to endValue at decaySteps (warmup included)', () => {
    const s = warmupCosine({ initValue: 0.1, peakValue: 1, warmupSteps: 4, decaySteps: 12, endValue: 0.2 });
    for (const t of [0, 1, 3, 4, 5, 8, 11, 12, 13, 1e6]) {
      expectClose(s(t), optaxWarmupCosine(0.1, 1, 4, 12, 0.2, 1, t));
    }
    expectClose(s(0), 0.1);
    expectClose(s(3), 0.775); // 0.1 + 0.9 · 3/4
    expect(s(4)).toBe(1);
    expectClose(s(8), 0.6); // half-way through the 8 cosine steps: 0.2 + 0.8 · ½
    expectClose(s(12), 0.2);
    expectClose(s(13), 0.2);
  });

  it('supports an exponent', () => {
    const s = warmupCosine({ initValue: 0, peakValue: 2, warmupSteps: 2, decaySteps: 10, exponent: 3 });
    for (let t = 0; t <= 12; t++) expectClose(s(t), optaxWarmupCosine(0, 2, 2, 10, 0, 3, t));
  });

  it('with warmupSteps 0 starts at the peak', () => {
    const s = warmupCosine({ initValue: 0, peakValue: 1e-3, warmupSteps: 0, decaySteps: 10 });
    expect(s(0)).toBe(1e-3);
    expectClose(s(5), 5e-4);
    expect(s(10)).toBe(0);
  });

  it('is Optax join_schedules([linear_schedule, cosine_decay_schedule], [W])', () => {
    const s = warmupCosine({ initValue: 0, peakValue: 3e-4, warmupSteps: 5, decaySteps: 20, endValue: 3e-5 });
    const joined = join(
      [
        linear({ initValue: 0, endValue: 3e-4, transitionSteps: 5 }),
        cosineDecay({ initValue: 3e-4, decaySteps: 15, alpha: 3e-5 / 3e-4 }),
      ],
      [5],
    );
    for (let t = 0; t <= 25; t++) expectClose(s(t), joined(t));
  });

  it('equals HF get_cosine_schedule_with_warmup(W, T) on a base lr', () => {
    const [base, W, T] = [5e-4, 3, 13];
    const hf = (t: number) =>
      base *
      (t < W
        ? t / Math.max(1, W)
        : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * ((t - W) / Math.max(1, T - W))))));
    const s = warmupCosine({ initValue: 0, peakValue: base, warmupSteps: W, decaySteps: T });
    for (let t = 0; t <= T; t++) expectClose(s(t), hf(t));
  });

  it('gives zeros after the warmup when peakValue is 0 (alpha = 0, as Optax)', () => {
    const s = warmupCosine({ initValue: 0, peakValue: 0, warmupSteps: 2, decaySteps: 5, endValue: 0.5 });
    expect(s(3)).toBe(0);
    expect(s(10)).toBe(0);
  });

  it('rejects invalid arguments', () => {
    const ok = { initValue: 0, peakValue: 1e-3, warmupSteps: 500, decaySteps: 10_000 };
    expect(() => warmupCosine({ ...ok, warmupSteps: 10_001 })).toThrow(
      /warmupCosine: invalid warmupSteps: 10001 \(must be less than decaySteps \(10000\), which includes the warmup\)/,
    );
    expect(() => warmupCosine({ ...ok, warmupSteps: 10_000 })).toThrow(RangeError);
    expect(() => warmupCosine({ ...ok, warmupSteps: -1 })).toThrow(/invalid warmupSteps: -1/);
    expect(() => warmupCosine({ ...ok, warmupSteps: 2.5 })).toThrow(/invalid warmupSteps: 2.5/);
    expect(() => warmupCosine({ ...ok, decaySteps: 0 })).toThrow(/invalid decaySteps: 0/);
    expect(() => warmupCosine({ ...ok, peakValue: -1e-3 })).toThrow(/invalid peakValue: -0.001/);
    expect(() => warmupCosine({ ...ok, initValue: -1 })).toThrow(/invalid initValue: -1/);
    expect(() => warmupCosine({ ...ok, endValue: -1 })).toThrow(/invalid endValue: -1/);
    expect(() => warmupCosine({ ...ok, exponent: -1 })).toThrow(/invalid exponent: -1/);
    expect(() => warmupCosine({ peakValue: 1, warmupSteps: 1, decaySteps: 2 } as never)).toThrow(
      /missing required option 'initValue'/,
    );
  });
});
