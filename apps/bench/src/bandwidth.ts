import { type Repetitions, type Timing, timeSteps } from './measure.js';
import { streamArena } from './wasm-stream.js';

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

function fill(array: Float32Array, seed: number): Float32Array {
  array.set(filled(array.length, seed));
  return array;
}

/** A JavaScript loop with the step's reads and writes: one pass per variable. */
export function loopStep(layout: readonly VariableLayout[]): () => void {
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

/**
 * The reference: one WebAssembly SIMD pass per variable over Float32Arrays, with exactly the step's
 * reads and writes (16 bytes per load and store, two multiply-adds per slot); the slots smaller
 * than their parameter (factored statistics) get a JavaScript pass each.
 */
export function streamStep(layout: readonly VariableLayout[]): () => void {
  const fullArrays = layout.map(({ size, slots }) => ({
    size,
    full: slots.filter((n) => n === size).length,
  }));
  const bytes = fullArrays.reduce((sum, v) => sum + 4 * v.size * (2 + v.full), 0);
  const arena = streamArena(
    bytes,
    fullArrays.reduce((sum, v) => sum + 2 + v.full, 0),
  );
  const variables = layout.map(({ size, slots }, v) => ({
    p: fill(arena.allocate(size), 3 * v + 1),
    g: fill(arena.allocate(size), 3 * v + 2),
    full: slots.filter((n) => n === size).map((n, s) => fill(arena.allocate(n), 97 * v + s + 5)),
    small: slots.filter((n) => n !== size).map((n, s) => filled(n, 89 * v + s + 7)),
  }));
  return () => {
    for (const { p, g, full, small } of variables) {
      arena.stream(p, g, full);
      for (const x of small) passSmall(x);
    }
  };
}

/** A native copy of `bytes / 2` bytes (`TypedArray.prototype.set`): reads and writes `bytes` in all. */
function copyStep(bytes: number): () => void {
  const n = Math.max(1, Math.round(bytes / 8));
  const source = filled(n, 31);
  const target = new Float32Array(n);
  return () => target.set(source);
}

export interface Rate {
  msPerStep: number;
  gbPerSec: number;
  samples: number;
}

export interface Bandwidth {
  /** Bytes a step touches (see {@link bytesPerStep}). */
  bytesPerStep: number;
  /** The reference ({@link streamStep}), measured anew for each call. */
  stream: Rate;
  /** A JavaScript loop with the same reads and writes ({@link loopStep}), once per layout. */
  loop: Rate;
  /** A native copy of as many bytes, once per layout. */
  copy: Rate;
}

const streams = new Map<string, () => void>();
const once = new Map<string, { loop: Rate; copy: Rate }>();

/**
 * The bandwidth references of one optimizer step. The WebAssembly stream is measured for every call,
 * right after the optimizer, so that both see the same machine; the JavaScript loop and the copy,
 * shown for comparison, once per memory layout in this run.
 */
export async function measureBandwidth(
  layout: readonly VariableLayout[],
  reps: Repetitions,
): Promise<Bandwidth> {
  const { read, written } = bytesPerStep(layout);
  const bytes = read + written;
  const rate = (timing: Timing): Rate => ({
    msPerStep: timing.msPerStep,
    gbPerSec: bytes / (timing.msPerStep * 1e6),
    samples: timing.samples,
  });
  const key = layoutKey(layout);
  let stream = streams.get(key);
  if (!stream) {
    stream = streamStep(layout);
    streams.set(key, stream);
  }
  let rest = once.get(key);
  if (!rest) {
    rest = {
      loop: rate(await timeSteps(loopStep(layout), () => {}, reps)),
      copy: rate(await timeSteps(copyStep(bytes), () => {}, reps)),
    };
    once.set(key, rest);
  }
  return { bytesPerStep: bytes, stream: rate(await timeSteps(stream, () => {}, reps)), ...rest };
}

/** Frees the reference arrays and forgets the timings. */
export function clearBandwidthCache(): void {
  streams.clear();
  once.clear();
}
