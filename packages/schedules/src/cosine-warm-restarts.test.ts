import { describe, expect, it } from 'vitest';
import { cosineWarmRestarts } from './cosine-warm-restarts.js';
import { expectClose } from './test-helpers.js';

// PyTorch CosineAnnealingWarmRestarts driven by its default step(): T_cur += 1, wrap and grow T_i.
function torchSGDR(base: number, T0: number, Tmult: number, etaMin: number, steps: number): number[] {
  const out: number[] = [];
  let Tcur = 0;
  let Ti = T0;
  for (let epoch = 0; epoch < steps; epoch++) {
    if (epoch > 0) {
      Tcur += 1;
      if (Tcur >= Ti) {
        Tcur = Tcur % Ti;
        Ti = Ti * Tmult;
      }
    }
    out.push(etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * Tcur) / Ti))) / 2);
  }
  return out;
}

describe('cosineWarmRestarts', () => {
  it('restarts at 3, 9, 21, 45 with period 3 and periodMultiplier 2', () => {
    const s = cosineWarmRestarts({ initValue: 1, period: 3, periodMultiplier: 2, minValue: 0.1 });
    const torch = torchSGDR(1, 3, 2, 0.1, 100);
    for (let t = 0; t < 100; t++) expectClose(s(t), torch[t]!);
    // Restarts: value back at initValue.
    for (const t of [0, 3, 9, 21, 45, 93]) expect(s(t)).toBe(1);
    // Just before each restart: T_cur = T_i − 1.
    expectClose(s(2), 0.1 + (0.9 * (1 + Math.cos((2 * Math.PI) / 3))) / 2); // 0.325
    expectClose(s(2), 0.325);
    expectClose(s(8), 0.1 + (0.9 * (1 + Math.cos((5 * Math.PI) / 6))) / 2);
    expectClose(s(20), 0.1 + (0.9 * (1 + Math.cos((11 * Math.PI) / 12))) / 2);
    // Mid-cycle of the second cycle (T_cur = 3 of T_i = 6): half way.
    expectClose(s(6), 0.55);
    // After a restart the cycle continues: step 10 is T_cur 1 of T_i 12.
    expectClose(s(10), 0.1 + (0.9 * (1 + Math.cos(Math.PI / 12))) / 2);
  });

  it("agrees with PyTorch's closed form step(epoch) away from float-sensitive boundaries", () => {
    const [T0, m] = [5, 3];
    const s = cosineWarmRestarts({ initValue: 0.2, period: T0, periodMultiplier: m });
    for (const epoch of [7, 12, 33, 64, 100]) {
      const n = Math.floor(Math.log((epoch / T0) * (m - 1) + 1) / Math.log(m));
      const Tcur = epoch - (T0 * (m ** n - 1)) / (m - 1);
      const Ti = T0 * m ** n;
      expectClose(s(epoch), (0.2 * (1 + Math.cos((Math.PI * Tcur) / Ti))) / 2);
    }
  });

  it('with periodMultiplier 1 has equal cycles, forever', () => {
    const s = cosineWarmRestarts({ initValue: 0.5, period: 4 });
    const torch = torchSGDR(0.5, 4, 1, 0, 50);
    for (let t = 0; t < 50; t++) expectClose(s(t), torch[t]!);
    expect(s(4)).toBe(0.5);
    expect(s(4_000_000)).toBe(0.5);
    expectClose(s(4_000_002), 0.25);
    expect(s.scheduleConfig).toEqual({ initValue: 0.5, period: 4, periodMultiplier: 1, minValue: 0 });
  });

  it('handles fractional steps like PyTorch step(epoch + i / iters)', () => {
    const s = cosineWarmRestarts({ initValue: 1, period: 2, periodMultiplier: 2 });
    expectClose(s(0.5), (1 + Math.cos(Math.PI / 4)) / 2);
    expectClose(s(2.5), (1 + Math.cos(Math.PI / 8)) / 2);
  });

  it('rejects invalid arguments', () => {
    expect(() => cosineWarmRestarts({ initValue: 1, period: 0 })).toThrow(
      /cosineWarmRestarts: invalid period: 0/,
    );
    expect(() => cosineWarmRestarts({ initValue: 1, period: 2.5 })).toThrow(RangeError);
    expect(() => cosineWarmRestarts({ initValue: 1, period: 2, periodMultiplier: 0 })).toThrow(
      /invalid periodMultiplier: 0/,
    );
    expect(() => cosineWarmRestarts({ initValue: 1, period: 2, periodMultiplier: 1.5 })).toThrow(
      /invalid periodMultiplier: 1.5 \(must be an integer > 0\)/,
    );
    expect(() => cosineWarmRestarts({ initValue: -1, period: 2 })).toThrow(/invalid initValue: -1/);
    expect(() => cosineWarmRestarts({ initValue: 1, period: 2, minValue: -0.1 })).toThrow(
      /invalid minValue: -0.1/,
    );
  });
});
