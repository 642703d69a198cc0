import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { elementwise, elementwiseEngine, registerWasmMemory } from './elementwise.js';
import { seededRandom } from './testing/index.js';

const f = Math.fround;

// One kernel that uses every operation: outputs a, b, c from inputs x, y, z and scalars s0, s1.
const everything = elementwise((e) => {
  const x = e.input(0);
  const y = e.input(1);
  const z = e.input(2);
  const s0 = e.scalar(0);
  const s1 = e.scalar(1);
  const a = e.add(e.mul(x, s0), e.div(e.sub(y, z), e.add(e.sqrt(e.abs(z)), s1)));
  const b = e.select(e.greater(x, y), e.max(x, e.neg(z)), e.min(y, e.constant(0.1)));
  const c = e.sub(e.mul(e.sign(e.sub(x, y)), e.constant(1 / 3)), e.select(e.less(z, s0), s1, z));
  return [a, b, c];
});

function reference(x: number, y: number, z: number, s0: number, s1: number): [number, number, number] {
  const [t0, t1] = [f(s0), f(s1)];
  const a = f(f(x * t0) + f(f(y - z) / f(f(Math.sqrt(Math.abs(z))) + t1)));
  const b = x > y ? Math.max(x, -z) : Math.min(y, f(0.1));
  const d = f(x - y);
  const sign = d > 0 ? 1 : d < 0 ? -1 : 0;
  const c = f(f(sign * f(1 / 3)) - (z < t0 ? t1 : z));
  return [a, b, c];
}

function inputs(n: number, seed: number): Float32Array[] {
  const random = seededRandom(seed);
  const specials = [0, -0, 1e-40, -3e38, 3e38, 1, -1, 2 ** -126];
  return [0, 1, 2].map((k) =>
    Float32Array.from({ length: n }, (_, i) =>
      i % 11 === k ? specials[(i + k) % specials.length]! : f((random() * 2 - 1) * 10 ** ((i % 5) - 2)),
    ),
  );
}

function bits(x: number): number {
  return new Uint32Array(Float32Array.of(x).buffer)[0]!;
}

function check(n: number, ins: Float32Array[], outs: Float32Array[], s0: number, s1: number): void {
  for (let i = 0; i < n; i++) {
    const want = reference(ins[0]![i]!, ins[1]![i]!, ins[2]![i]!, s0, s1);
    for (let k = 0; k < 3; k++) {
      const got = outs[k]![i]!;
      if (bits(got) !== bits(want[k]!) && !(Number.isNaN(got) && Number.isNaN(want[k]!))) {
        expect.fail(`output ${k} element ${i}: got ${got}, expected ${want[k]}`);
      }
    }
  }
}

const SIZES = [0, 1, 3, 4, 5, 17, 4095, 4096, 4097, 10_001];

describe('elementwise kernels', () => {
  afterAll(() => {
    elementwiseEngine(null);
  });

  it('detects WebAssembly SIMD in Node', () => {
    expect(elementwiseEngine(null)).toBe('wasm-simd');
  });

  for (const engine of ['wasm-simd', 'wasm', 'js'] as const) {
    it(`on ${engine}, every operation rounds as the float32 reference, for every length`, () => {
      elementwiseEngine(engine);
      for (const n of SIZES) {
        const ins = inputs(n, n + 1);
        const outs = [0, 1, 2].map(() => new Float32Array(n + 3).fill(7));
        everything.run(n, ins, [0.3, 1e-3], outs);
        check(n, ins, outs, 0.3, 1e-3);
        // Nothing past n is written.
        for (const out of outs) expect(Array.from(out.subarray(n))).toEqual([7, 7, 7]);
      }
      elementwiseEngine(null);
    });
  }

  it('works in place in a registered WebAssembly memory, at unaligned offsets, and lets an output be an input', () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    registerWasmMemory(memory);
    const n = 10_003;
    const source = inputs(n, 99);
    const views = [1, 2, 3, 4, 5].map((k) => new Float32Array(memory.buffer, 4 + k * (n + 5) * 4, n));
    source.forEach((values, k) => {
      views[k]!.set(values);
    });
    const guard = new Float32Array(memory.buffer, 4 + 6 * (n + 5) * 4 - 4, 1);
    guard[0] = 42;
    // Outputs: a into its own array, b over input y (read before written), c into its own.
    everything.run(n, [views[0]!, views[1]!, views[2]!], [-0.5, 2], [views[3]!, views[1]!, views[4]!]);
    check(n, source, [views[3]!, views[1]!, views[4]!], -0.5, 2);
    expect(guard[0]).toBe(42);
  });

  it('refuses arrays of the wrong number or length', () => {
    const a = new Float32Array(4);
    expect(() => everything.run(4, [a, a], [1, 2], [a, a, a])).toThrow(RangeError);
    expect(() => everything.run(4, [a, a, a], [1], [a, a, a])).toThrow(RangeError);
    expect(() => everything.run(5, [a, a, a], [1, 2], [a, a, a])).toThrow(RangeError);
    expect(() => elementwise(() => [])).toThrow(TypeError);
  });

  it('equals the same chain of tfjs ops on the cpu backend', () => {
    const n = 1000;
    const [x, y, z] = inputs(n, 5) as [Float32Array, Float32Array, Float32Array];
    const out = [0, 1, 2].map(() => new Float32Array(n));
    everything.run(n, [x, y, z], [0.3, 1e-3], out);
    const a = tf.tidy(() => {
      const [tx, ty, tz] = [tx0(x), tx0(y), tx0(z)];
      return tf.add(tf.mul(tx, 0.3), tf.div(tf.sub(ty, tz), tf.add(tf.sqrt(tf.abs(tz)), 1e-3)));
    });
    const values = a.dataSync();
    a.dispose();
    for (let i = 0; i < n; i++) expect(bits(out[0]![i]!)).toBe(bits(values[i]!));
  });
});

function tx0(values: Float32Array): tf.Tensor {
  return tf.tensor1d(values);
}
