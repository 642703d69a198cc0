import { type Repetitions, type Timing, timeSteps } from './measure.js';

/** The memory one variable's update touches: the parameter, its gradient and its slots. */
export interface VariableLayout {
  /** Elements of the parameter (and of its gradient). */
  size: number;
  /** Element counts of its slots; those of the parameter's size are streamed with it. */
  slots: number[];
}

/** Bytes read and written by one step over these variables: param + grad + slots read, param + slots written. */
export function bytesPerStep(layout: readonly VariableLayout[]): { read: number; written: number } {
  let read = 0;
  let written = 0;
  for (const { size, slots } of layout) {
    const slotElements = slots.reduce((a, b) => a + b, 0);
    read += 4 * (2 * size + slotElements);
    written += 4 * (size + slotElements);
  }
  return { read, written };
}

export function layoutKey(layout: readonly VariableLayout[]): string {
  return layout.map((v) => `${v.size}:${[...v.slots].sort((a, b) => a - b).join(',')}`).join(';');
}

// One loop per number of full-size slots, so that each stays monomorphic and the JIT keeps the
// arrays in registers: the fastest a plain JavaScript pass over these bytes gets.
function pass0(p: Float32Array, g: Float32Array): void {
  for (let i = 0; i < p.length; i += 1) p[i] = p[i]! - 1e-3 * g[i]!;
}

function pass1(p: Float32Array, g: Float32Array, a: Float32Array): void {
  for (let i = 0; i < p.length; i += 1) {
    const x = 0.9 * a[i]! + g[i]!;
    a[i] = x;
    p[i] = p[i]! - 1e-3 * x;
  }
}

function pass2(p: Float32Array, g: Float32Array, a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < p.length; i += 1) {
    const gi = g[i]!;
    const x = 0.9 * a[i]! + 0.1 * gi;
    const y = 0.999 * b[i]! + 0.001 * gi;
    a[i] = x;
    b[i] = y;
    p[i] = p[i]! - 1e-3 * (x + y);
  }
}

function pass3(p: Float32Array, g: Float32Array, a: Float32Array, b: Float32Array, c: Float32Array): void {
  for (let i = 0; i < p.length; i += 1) {
    const gi = g[i]!;
    const x = 0.9 * a[i]! + 0.1 * gi;
    const y = 0.999 * b[i]! + 0.001 * gi;
    const z = 0.5 * c[i]! + y;
    a[i] = x;
    b[i] = y;
    c[i] = z;
    p[i] = p[i]! - 1e-3 * (x + z);
  }
}

function passN(p: Float32Array, g: Float32Array, slots: readonly Float32Array[]): void {
  for (let i = 0; i < p.length; i += 1) {
    const gi = g[i]!;
    let sum = 0;
    for (const s of slots) {
      const x = 0.9 * s[i]! + 0.1 * gi;
      s[i] = x;
      sum += x;
    }
    p[i] = p[i]! - 1e-3 * sum;
  }
}

function passSmall(s: Float32Array): void {
  for (let i = 0; i < s.length; i += 1) s[i] = 0.9 * s[i]! + 0.1;
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i += 1) {
    x = (x * 1103515245 + 12345) % 2147483648;
    a[i] = x / 2147483648 - 0.5;
  }
  return a;
}

/** One step of the reference over the layout: a single streaming pass per variable. */
export function referenceStep(layout: readonly VariableLayout[]): () => void {
  const variables = layout.map(({ size, slots }, v) => ({
    p: filled(size, 3 * v + 1),
    g: filled(size, 3 * v + 2),
    full: slots.filter((n) => n === size).map((n, s) => filled(n, 97 * v + s + 5)),
    small: slots.filter((n) => n !== size).map((n, s) => filled(n, 89 * v + s + 7)),
  }));
  return () => {
    for (const { p, g, full, small } of variables) {
      if (full.length === 0) pass0(p, g);
      else if (full.length === 1) pass1(p, g, full[0]!);
      else if (full.length === 2) pass2(p, g, full[0]!, full[1]!);
      else if (full.length === 3) pass3(p, g, full[0]!, full[1]!, full[2]!);
      else passN(p, g, full);
      for (const s of small) passSmall(s);
    }
  };
}

export interface Reference extends Timing {
  bytesPerStep: number;
  gbPerSec: number;
  /** The same number of bytes moved by a native copy (`TypedArray.prototype.set`): the memory system's limit. */
  copy: { msPerStep: number; gbPerSec: number };
}

const cache = new Map<string, Reference>();

/** A native copy of `bytes / 2` bytes: reads and writes `bytes` in all. */
function copyStep(bytes: number): () => void {
  const n = Math.max(1, Math.round(bytes / 8));
  const source = filled(n, 31);
  const target = new Float32Array(n);
  return () => target.set(source);
}

/**
 * The bandwidth reference for a layout: a Float32Array pass that reads and writes exactly the
 * bytes of the optimizer's step, and a native copy of as many bytes, measured once per layout in
 * this run.
 */
export async function measureReference(
  layout: readonly VariableLayout[],
  reps: Repetitions,
): Promise<Reference> {
  const key = layoutKey(layout);
  const known = cache.get(key);
  if (known) return known;
  const timing = await timeSteps(referenceStep(layout), () => {}, reps);
  const { read, written } = bytesPerStep(layout);
  const bytes = read + written;
  const copy = await timeSteps(copyStep(bytes), () => {}, reps);
  const reference = {
    ...timing,
    bytesPerStep: bytes,
    gbPerSec: bytes / (timing.msPerStep * 1e6),
    copy: { msPerStep: copy.msPerStep, gbPerSec: bytes / (copy.msPerStep * 1e6) },
  };
  cache.set(key, reference);
  return reference;
}

export function clearReferenceCache(): void {
  cache.clear();
}
