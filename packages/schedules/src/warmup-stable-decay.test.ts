import { describe, expect, it } from 'vitest';
import { expectClose } from './test-helpers.js';
import { warmupStableDecay } from './warmup-stable-decay.js';

describe('warmupStableDecay', () => {
  const base = { initValue: 0.1, peakValue: 1, warmupSteps: 4, stableSteps: 3, decaySteps: 4, endValue: 0.2 };

  it('warms up linearly, holds the peak, then decays linearly to endValue (by hand)', () => {
    const s = warmupStableDecay(base);
    // warmup 0.1 → 1 in 4 steps of 0.225; peak on steps 4, 5, 6; decay start 7, end 11.
    const expected = [0.1, 0.325, 0.55, 0.775, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.2];
    expected.forEach((v, t) => {
      expectClose(s(t), v);
    });
    expect(s(1e9)).toBe(0.2);
  });

  it("decays on a half cosine with 'cos' and as 1 − √p with '1-sqrt'", () => {
    const cos = warmupStableDecay({ ...base, decayShape: 'cos' });
    expect(cos(7)).toBe(1);
    expectClose(cos(8), 0.2 + 0.8 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    expectClose(cos(9), 0.6); // p = ½: cos(π/2) = 0
    expectClose(cos(11), 0.2);
    const sqrt = warmupStableDecay({ ...base, decayShape: '1-sqrt' });
    expectClose(sqrt(8), 0.2 + 0.8 * 0.5); // p = ¼: 1 − ½
    expectClose(sqrt(9), 0.2 + 0.8 * (1 - Math.SQRT1_2));
    expectClose(sqrt(11), 0.2);
  });

  it('a longer stable stage keeps every earlier value (resuming WSD from a checkpoint)', () => {
    const short = warmupStableDecay({ ...base, stableSteps: 10 });
    const long = warmupStableDecay({ ...base, stableSteps: 1000 });
    for (let t = 0; t < 14; t++) expect(long(t)).toBe(short(t));
    expect(long(14)).toBe(1);
  });

  it('with no warmup and no stable stage starts decaying at step 0; records its defaults', () => {
    const s = warmupStableDecay({
      initValue: 0,
      peakValue: 2,
      warmupSteps: 0,
      stableSteps: 0,
      decaySteps: 2,
    });
    expect([s(0), s(1), s(2)]).toEqual([2, 1, 0]);
    expect(s.scheduleConfig).toEqual({
      initValue: 0,
      peakValue: 2,
      warmupSteps: 0,
      stableSteps: 0,
      decaySteps: 2,
      endValue: 0,
      decayShape: 'linear',
    });
  });

  it('rejects invalid arguments, naming the option', () => {
    expect(() => warmupStableDecay({ ...base, decaySteps: 0 })).toThrow(
      /warmupStableDecay: invalid decaySteps: 0 \(must be an integer > 0\)/,
    );
    expect(() => warmupStableDecay({ ...base, warmupSteps: 1.5 })).toThrow(/invalid warmupSteps: 1.5/);
    expect(() => warmupStableDecay({ ...base, stableSteps: -1 })).toThrow(/invalid stableSteps: -1/);
    expect(() => warmupStableDecay({ ...base, peakValue: -1 })).toThrow(/invalid peakValue: -1/);
    expect(() => warmupStableDecay({ ...base, endValue: 2 })).toThrow(
      /invalid endValue: 2 \(must be ≤ peakValue \(1\): the last stage decays\)/,
    );
    expect(() => warmupStableDecay({ ...base, decayShape: 'cosine' as never })).toThrow(
      /invalid decayShape: "cosine" \(must be one of 'linear', 'cos', '1-sqrt'\)/,
    );
    expect(() => warmupStableDecay({ ...base, totalSteps: 10 } as never)).toThrow(
      /unknown option 'totalSteps'/,
    );
    const { stableSteps: _omitted, ...noStable } = base;
    expect(() => warmupStableDecay(noStable as never)).toThrow(/missing required option 'stableSteps'/);
  });
});
