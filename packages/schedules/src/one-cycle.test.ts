import { describe, expect, it } from 'vitest';
import { oneCycle, oneCycleLearningRate } from './one-cycle.js';
import { expectClose } from './test-helpers.js';

/*
 * Values of PyTorch's OneCycleLR.get_lr (torch 2.x) for total_steps = 10, max_lr = 1, derived by
 * hand from its phases and evaluated in float64. Defaults: div 25 → initial 0.04,
 * final_div 1e4 → min 4e-6, momentum 0.95 → 0.85 → 0.95.
 * Phase ends: pct_start · T − 1 = 0.3 · 10 − 1 = 2, and T − 1 = 9; phase 2 starts at step 2.
 *   step 0: pct 0/2 → initial 0.04;             momentum 0.95
 *   step 1: pct 1/2 → 1 + (0.04 − 1)/2 · (cos(π/2) + 1) = 0.52;  momentum 0.85 + 0.1/2 = 0.9
 *   step 2: pct 1   → max 1;                     momentum 0.85
 *   step 3: pct 1/7 → 4e-6 + (1 − 4e-6)/2 · (cos(π/7) + 1) = 0.95048463…
 *   …
 *   step 9: pct 1   → min 4e-6;                  momentum 0.95
 */
const COS_LR = [
  0.04, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893, 0.38874197806371075,
  0.18825834605023697, 0.049519367986526286, 4e-6,
];
const COS_MOMENTUM = [
  0.95, 0.9, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842, 0.9111260466978157,
  0.9311744900929366, 0.945048443395121, 0.95,
];
// anneal_strategy='linear': phase 2 goes from 1 to 4e-6 in 7 equal steps of 0.999996/7.
const LINEAR_LR = [
  0.04, 0.52, 1.0, 0.8571434285714286, 0.7142868571428571, 0.5714302857142857, 0.42857371428571434,
  0.2857171428571429, 0.14286057142857145, 4e-6,
];
const LINEAR_MOMENTUM = [
  0.95, 0.9, 0.85, 0.8642857142857142, 0.8785714285714286, 0.8928571428571428, 0.9071428571428571,
  0.9214285714285714, 0.9357142857142857, 0.95,
];
// three_phase=True: ends 2, 2·0.3·10 − 2 = 4, 9: up to 1, back to 0.04, then cosine to 4e-6 over 5 steps.
const THREE_PHASE_LR = [
  0.04, 0.52, 1.0, 0.52, 0.04, 0.0361807218535102, 0.0261817218535102, 0.013822278146489805,
  0.0038232781464898036, 4e-6,
];
const THREE_PHASE_MOMENTUM = [0.95, 0.9, 0.85, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
// total_steps 7, max_lr 0.1, pct_start 0.25: a fractional phase end 0.25 · 7 − 1 = 0.75, so step 1
// is already in phase 2 with pct (1 − 0.75) / (6 − 0.75) and the peak 0.1 is never hit exactly.
const FRACTIONAL_LR = [
  0.004, 0.09944154354509119, 0.08665264698111695, 0.06112620219362893, 0.03173322184988512,
  0.008688426531955128, 4e-7,
];
const FRACTIONAL_MOMENTUM = [
  0.95, 0.8505584586887436, 0.8633474064085087, 0.8888739533021842, 0.9182670512183198, 0.9413119387157997,
  0.95,
];

function expectSeries(schedule: (t: number) => number, expected: number[]): void {
  expected.forEach((value, t) => {
    expectClose(schedule(t), value, 1e-13);
  });
}

describe('oneCycle', () => {
  it('reproduces PyTorch OneCycleLR (cos) for totalSteps 10, learning rate and momentum', () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 10, maxValue: 1 });
    expectSeries(learningRate, COS_LR);
    expectSeries(momentum, COS_MOMENTUM);
    expectClose(learningRate(3), 4e-6 + ((1 - 4e-6) / 2) * (Math.cos(Math.PI / 7) + 1));
  });

  it("reproduces PyTorch OneCycleLR with anneal_strategy 'linear'", () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 10, maxValue: 1, anneal: 'linear' });
    expectSeries(learningRate, LINEAR_LR);
    expectSeries(momentum, LINEAR_MOMENTUM);
  });

  it('reproduces PyTorch OneCycleLR with three_phase', () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 10, maxValue: 1, threePhase: true });
    expectSeries(learningRate, THREE_PHASE_LR);
    expectSeries(momentum, THREE_PHASE_MOMENTUM);
  });

  it('reproduces PyTorch OneCycleLR with a fractional phase end', () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 7, maxValue: 0.1, pctStart: 0.25 });
    expectSeries(learningRate, FRACTIONAL_LR);
    expectSeries(momentum, FRACTIONAL_MOMENTUM);
  });

  it('scales with maxValue and honours divFactor, finalDivFactor and the momentum bounds', () => {
    const { learningRate, momentum } = oneCycle({
      totalSteps: 10,
      maxValue: 0.5,
      divFactor: 10,
      finalDivFactor: 100,
      baseMomentum: 0.8,
      maxMomentum: 0.9,
    });
    expectClose(learningRate(0), 0.05);
    expect(learningRate(2)).toBe(0.5);
    expectClose(learningRate(9), 0.0005);
    expectClose(momentum(0), 0.9);
    expectClose(momentum(2), 0.8);
    expectClose(momentum(9), 0.9);
  });

  it('stays at its final values past the end (where PyTorch raises)', () => {
    const { learningRate, momentum } = oneCycle({ totalSteps: 10, maxValue: 1 });
    for (const t of [9, 10, 11, 1e6]) {
      expectClose(learningRate(t), 4e-6, 1e-15);
      expect(momentum(t)).toBe(0.95);
    }
    // PyTorch's own value at step T would extrapolate, negatively for 'linear'; ours does not.
    expect(oneCycleLearningRate({ totalSteps: 10, maxValue: 1, anneal: 'linear' })(10)).toBeGreaterThan(0);
  });

  it('oneCycleLearningRate is the learning rate alone', () => {
    const alone = oneCycleLearningRate({ totalSteps: 10, maxValue: 1 });
    const { learningRate, momentum } = oneCycle({ totalSteps: 10, maxValue: 1 });
    for (let t = 0; t < 12; t++) expect(alone(t)).toBe(learningRate(t));
    expect(alone.scheduleName).toBe('oneCycle');
    expect(momentum.scheduleName).toBe('oneCycleMomentum');
    expect(alone.scheduleConfig).toEqual({
      totalSteps: 10,
      maxValue: 1,
      pctStart: 0.3,
      anneal: 'cos',
      divFactor: 25,
      finalDivFactor: 1e4,
      threePhase: false,
      baseMomentum: 0.85,
      maxMomentum: 0.95,
    });
  });

  it('handles a cycle shorter than its warmup (pctStart · totalSteps < 1) like PyTorch', () => {
    // total_steps 2: phase 1 ends at 0.6 − 1 = −0.4, so step 0 is in phase 2 at pct 0.4 / 1.4.
    const { learningRate } = oneCycle({ totalSteps: 2, maxValue: 1 });
    expectClose(learningRate(0), 4e-6 + ((1 - 4e-6) / 2) * (Math.cos((Math.PI * 0.4) / 1.4) + 1));
    expectClose(learningRate(1), 4e-6);
  });

  it('rejects invalid arguments', () => {
    const ok = { totalSteps: 10, maxValue: 1 };
    expect(() => oneCycle({ ...ok, totalSteps: 0 })).toThrow(/oneCycle: invalid totalSteps: 0/);
    expect(() => oneCycle({ ...ok, totalSteps: 9.5 })).toThrow(/invalid totalSteps: 9.5/);
    expect(() => oneCycle({ ...ok, maxValue: -1 })).toThrow(/invalid maxValue: -1/);
    expect(() => oneCycle({ ...ok, pctStart: 0 })).toThrow(/invalid pctStart: 0 \(must be in \(0, 1\)\)/);
    expect(() => oneCycle({ ...ok, pctStart: 1 })).toThrow(/invalid pctStart: 1/);
    expect(() => oneCycle({ ...ok, pctStart: 1.2 })).toThrow(RangeError);
    expect(() => oneCycle({ ...ok, pctStart: 0.1 })).toThrow(/pctStart · totalSteps must not be 1/);
    expect(() => oneCycle({ ...ok, threePhase: true, pctStart: 0.5 })).not.toThrow();
    expect(() => oneCycle({ ...ok, threePhase: true, pctStart: 0.6 })).toThrow(/with threePhase/);
    expect(() => oneCycle({ ...ok, anneal: 'exp' as never })).toThrow(
      /invalid anneal: "exp" \(must be one of 'cos', 'linear'\)/,
    );
    expect(() => oneCycle({ ...ok, divFactor: 0 })).toThrow(/invalid divFactor: 0/);
    expect(() => oneCycle({ ...ok, finalDivFactor: -1 })).toThrow(/invalid finalDivFactor: -1/);
    expect(() => oneCycle({ ...ok, baseMomentum: 1 })).toThrow(/invalid baseMomentum: 1/);
    expect(() => oneCycle({ ...ok, maxMomentum: -0.1 })).toThrow(/invalid maxMomentum: -0.1/);
    expect(() => oneCycle({ ...ok, threePhase: 'yes' as never })).toThrow(/threePhase must be a boolean/);
    expect(() => oneCycle({ ...ok, max_lr: 1 } as never)).toThrow(/unknown option 'max_lr'/);
    expect(() => oneCycleLearningRate({ maxValue: 1 } as never)).toThrow(
      /missing required option 'totalSteps'/,
    );
  });
});
