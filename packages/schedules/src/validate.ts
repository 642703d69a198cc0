/** Option checks shared by the factories. Errors name the factory, the option and the value. */

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Checks that `options` is an object without unknown keys (which would hide typos). */
export function readOptions(
  fn: string,
  options: unknown,
  allowed: readonly string[],
): Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${fn}: unknown option '${key}'; valid options: ${allowed.join(', ')}`);
    }
  }
  return options as Record<string, unknown>;
}

/** A finite number, or `fallback` when the option is missing (required when there is none). */
export function finite(fn: string, name: string, value: unknown, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`${fn}: missing required option '${name}'`);
    return fallback;
  }
  if (typeof value !== 'number') {
    throw new TypeError(`${fn}: ${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value)) throw new RangeError(`${fn}: invalid ${name}: ${value} (must be finite)`);
  return value;
}

/** Throws `RangeError: fn: invalid name: value (expectation)` unless `ok`. */
export function check(fn: string, name: string, value: unknown, ok: boolean, expectation: string): void {
  if (!ok) throw new RangeError(`${fn}: invalid ${name}: ${describe(value)} (${expectation})`);
}

export function nonNegative(fn: string, name: string, value: unknown, fallback?: number): number {
  const v = finite(fn, name, value, fallback);
  check(fn, name, v, v >= 0, 'must be ≥ 0');
  return v;
}

export function positive(fn: string, name: string, value: unknown, fallback?: number): number {
  const v = finite(fn, name, value, fallback);
  check(fn, name, v, v > 0, 'must be > 0');
  return v;
}

export function nonNegativeInteger(fn: string, name: string, value: unknown, fallback?: number): number {
  const v = finite(fn, name, value, fallback);
  check(fn, name, v, Number.isInteger(v) && v >= 0, 'must be an integer ≥ 0');
  return v;
}

export function positiveInteger(fn: string, name: string, value: unknown, fallback?: number): number {
  const v = finite(fn, name, value, fallback);
  check(fn, name, v, Number.isInteger(v) && v > 0, 'must be an integer > 0');
  return v;
}

export function boolean(fn: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(
  fn: string,
  name: string,
  value: unknown,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) {
    throw new RangeError(
      `${fn}: invalid ${name}: ${describe(value)} (must be one of ${choices.map((c) => `'${c}'`).join(', ')})`,
    );
  }
  return value as T;
}

/** A sorted list of integer steps ≥ 0 (`strict`: strictly increasing), copied. */
export function stepList(fn: string, name: string, value: unknown, strict: boolean): number[] {
  if (!Array.isArray(value)) {
    if (value === undefined) throw new TypeError(`${fn}: missing required option '${name}'`);
    throw new TypeError(`${fn}: ${name} must be an array of steps, got ${describe(value)}`);
  }
  const out: number[] = [];
  value.forEach((item: unknown, i) => {
    const v = nonNegativeInteger(fn, `${name}[${i}]`, item);
    const previous = out[i - 1];
    if (previous !== undefined && (strict ? v <= previous : v < previous)) {
      throw new RangeError(
        `${fn}: invalid ${name}: [${value.join(', ')}] (must be ${strict ? 'strictly increasing' : 'sorted in increasing order'}; ${name}[${i}] = ${v} follows ${previous})`,
      );
    }
    out.push(v);
  });
  return out;
}
