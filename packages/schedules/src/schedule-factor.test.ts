import { describe, expect, it } from 'vitest';
import { lambdaSchedule } from './lambda-schedule.js';
import { registerScheduleFactor } from './schedule-factor.js';

describe('registerScheduleFactor', () => {
  it('accepts the same function again and refuses a different one under a taken name', () => {
    const half = () => 0.5;
    registerScheduleFactor('factor-test/half', half);
    registerScheduleFactor('factor-test/half', half);
    expect(() => registerScheduleFactor('factor-test/half', () => 0.5)).toThrow(
      "registerScheduleFactor: a different factor is already registered as 'factor-test/half'",
    );
    expect(lambdaSchedule({ initValue: 2, factor: 'factor-test/half' })(7)).toBe(1);
  });

  it('refuses a bad name or a non-function', () => {
    expect(() => registerScheduleFactor('', () => 1)).toThrow(/the name must be a non-empty string/);
    expect(() => registerScheduleFactor(3 as never, () => 1)).toThrow(/the name must be a non-empty string/);
    expect(() => registerScheduleFactor('factor-test/x', 0.5 as never)).toThrow(
      "registerScheduleFactor: the factor 'factor-test/x' must be a function, got number",
    );
  });

  it('keeps its registry on globalThis, shared by every copy of the package', () => {
    const shared = (globalThis as Record<symbol, unknown>)[Symbol.for('optimkit.scheduleFactors')] as Map<
      string,
      unknown
    >;
    expect(shared.get('factor-test/half')).toBeTypeOf('function');
  });
});
