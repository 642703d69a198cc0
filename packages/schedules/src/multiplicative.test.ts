import { describe, expect, it } from 'vitest';
import { scheduleFromConfig } from './from-config.js';
import { MAX_FACTOR_STEPS, multiplicative } from './multiplicative.js';
import { registerScheduleFactor } from './schedule-factor.js';
import { expectClose } from './test-helpers.js';

let calls = 0;
registerScheduleFactor('multiplicative-test/counted', (t, o) => {
  calls += 1;
  return t < Number(o.until) ? 0.5 : 1;
});
registerScheduleFactor('multiplicative-test/rate', (_t, o) => Number(o.rate));
registerScheduleFactor('multiplicative-test/wavy', (t) => 1 + 0.01 * Math.sin(t));

describe('multiplicative', () => {
  it('multiplies the previous value by λ(t) from step 1 on (PyTorch MultiplicativeLR), by hand', () => {
    const s = multiplicative({
      initValue: 1,
      factor: 'multiplicative-test/counted',
      factorOptions: { until: 4 },
      factorSteps: 10,
    });
    // λ(1), λ(2), λ(3) = ½, then 1: 1, ½, ¼, ⅛, ⅛, …
    expect([0, 1, 2, 3, 4, 5, 10, 11, 1000].map(s)).toEqual([
      1, 0.5, 0.25, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125,
    ]);
    expect(s(2.7)).toBe(0.25); // ⌊t⌋
  });

  it('holds the factor at λ(factorSteps) past the horizon: a constant factor is an exponential', () => {
    const s = multiplicative({
      initValue: 0.1,
      factor: 'multiplicative-test/rate',
      factorOptions: { rate: 0.9 },
      factorSteps: 1,
    });
    for (const t of [0, 1, 2, 10, 100]) expectClose(s(t), 0.1 * 0.9 ** t);
    const held = multiplicative({ initValue: 1, factor: 'multiplicative-test/wavy', factorSteps: 5 });
    let product = 1;
    for (let k = 1; k <= 5; k++) product *= 1 + 0.01 * Math.sin(k);
    expectClose(held(5), product);
    expectClose(held(9), product * (1 + 0.01 * Math.sin(5)) ** 4);
  });

  it('costs one factor call per step going forward, at most factorSteps cold, and the same bits either way', () => {
    const make = () =>
      multiplicative({
        initValue: 1,
        factor: 'multiplicative-test/counted',
        factorOptions: { until: 50 },
        factorSteps: 200,
      });
    const s = make();
    calls = 0;
    const forward = Array.from({ length: 300 }, (_, t) => s(t));
    expect(calls).toBeLessThanOrEqual(300 + 100); // one per step up to 200, one per call past it
    calls = 0;
    const cold = make();
    expect(cold(299)).toBe(forward[299]);
    expect(calls).toBeLessThanOrEqual(200 + 2);
    calls = 0;
    expect(cold(37)).toBe(forward[37]); // going back restarts from step 0: still bounded
    expect(calls).toBeLessThanOrEqual(37);
    for (let t = 299; t >= 0; t -= 13) expect(make()(t)).toBe(forward[t]);
  });

  it('an accepted config is cheap at step 1e9 and at the largest horizon (no cache that grows with the step)', () => {
    const s = multiplicative({
      initValue: 0.1,
      factor: 'multiplicative-test/rate',
      factorOptions: { rate: 0.999999999 },
      factorSteps: 1,
    });
    calls = 0;
    expectClose(s(1e9), 0.1 * 0.999999999 ** 1e9, 1e-9);
    expect(Number.isFinite(s(2 ** 52))).toBe(true);
    const longest = multiplicative({
      initValue: 1,
      factor: 'multiplicative-test/counted',
      factorOptions: { until: 3 },
      factorSteps: MAX_FACTOR_STEPS,
    });
    calls = 0;
    expect(longest(1e9)).toBe(0.25); // λ(1) = λ(2) = ½, then 1
    expect(calls).toBeLessThanOrEqual(MAX_FACTOR_STEPS + 2);
    expect(longest(1e9 + 1)).toBe(0.25);
  });

  it('is rebuilt from its config with the same bits', () => {
    const s = multiplicative({ initValue: 0.3, factor: 'multiplicative-test/wavy', factorSteps: 40 });
    const rebuilt = scheduleFromConfig(
      JSON.parse(JSON.stringify({ scheduleName: s.scheduleName, scheduleConfig: s.scheduleConfig })),
    );
    for (let t = 60; t >= 0; t--) expect(rebuilt(t)).toBe(s(t));
    expect(s.scheduleConfig).toEqual({
      initValue: 0.3,
      factor: 'multiplicative-test/wavy',
      factorOptions: {},
      factorSteps: 40,
    });
  });

  it('rejects invalid arguments, naming the option', () => {
    const ok = {
      initValue: 1,
      factor: 'multiplicative-test/rate',
      factorOptions: { rate: 0.5 },
      factorSteps: 1,
    };
    expect(() => multiplicative({ ...ok, factorSteps: MAX_FACTOR_STEPS + 1 })).toThrow(
      /multiplicative: invalid factorSteps: 1000001 \(must be ≤ 1000000, the most factor calls one step may cost/,
    );
    expect(() => multiplicative({ ...ok, factorSteps: 0 })).toThrow(
      /invalid factorSteps: 0 \(must be an integer > 0\)/,
    );
    expect(() => multiplicative({ ...ok, factorSteps: 1.5 })).toThrow(/invalid factorSteps: 1.5/);
    const { factorSteps: _omitted, ...noHorizon } = ok;
    expect(() => multiplicative(noHorizon as never)).toThrow(/missing required option 'factorSteps'/);
    expect(() => multiplicative({ ...ok, factor: 'nowhere' })).toThrow(
      /multiplicative: no factor is registered as 'nowhere'; call registerScheduleFactor\('nowhere', fn\)/,
    );
    expect(() => multiplicative({ ...ok, factorOptions: {} })).toThrow(
      "multiplicative: the factor 'multiplicative-test/rate' returned NaN at step 1 (must be a finite number)",
    );
  });
});
