import { describe, expect, it } from 'vitest';
import { constant } from './constant.js';

describe('constant', () => {
  it('returns its value at step 0, inside and far out', () => {
    const s = constant({ value: 0.003 });
    for (const t of [0, 1, 17, 1e9]) expect(s(t)).toBe(0.003);
  });

  it('accepts negative values (e.g. Adafactor decayRate)', () => {
    expect(constant({ value: -0.8 })(5)).toBe(-0.8);
  });

  it('rejects a missing, non-number or non-finite value and unknown options', () => {
    expect(() => constant({} as never)).toThrow(/missing required option 'value'/);
    expect(() => constant({ value: '1' as never })).toThrow(TypeError);
    expect(() => constant({ value: Number.NaN })).toThrow(/invalid value: NaN/);
    expect(() => constant({ value: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => constant({ value: 1, vaule: 2 } as never)).toThrow(/unknown option 'vaule'/);
    expect(() => constant(5 as never)).toThrow(/options must be an object/);
  });
});
