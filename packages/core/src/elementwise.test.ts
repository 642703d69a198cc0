import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../testing/src/index.js';
import { elementwise, elementwiseEngine, registerWasmMemory } from './elementwise.js';

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

  it('rsqrt rounds 1/√x computed in float64 once, as tf.rsqrt on the cpu backend', () => {
    const rsqrt = elementwise((e) => [e.rsqrt(e.input(0))]);
    const x = Float32Array.from({ length: 4099 }, (_, i) =>
      f((i % 97) * 10 ** ((i % 9) - 4) + 1e-30 * (i % 3)),
    );
    const t = tf.tensor1d(x);
    const r = tf.rsqrt(t);
    const want = r.dataSync();
    for (const engine of ['wasm-simd', 'wasm', 'js'] as const) {
      elementwiseEngine(engine);
      const out = new Float32Array(x.length);
      rsqrt.run(x.length, [x], [], [out]);
      for (let i = 0; i < x.length; i++) {
        if (bits(out[i]!) !== bits(want[i]!))
          expect.fail(`${engine} rsqrt(${x[i]}) = ${out[i]}, tf.rsqrt ${want[i]}`);
      }
    }
    elementwiseEngine(null);
    tf.dispose([t, r]);
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

// A kernel over rows and columns: y = x·r + c with the row factor r and column term c, Σx², the
// row means of x (Σ x/cols per row) and the column sums of x/rows, as tf.mean computes them.
const structured = elementwise((e) => {
  const x = e.input(0);
  e.sum(e.mul(x, x));
  e.rowSum(e.div(x, e.scalar(0)));
  e.colSum(e.div(x, e.scalar(1)));
  return [e.add(e.mul(x, e.rowInput(1)), e.colInput(2))];
});

function structuredReference(
  x: Float32Array,
  r: Float32Array,
  c: Float32Array,
  b: number,
  rows: number,
  cols: number,
) {
  const y = new Float32Array(b * rows * cols);
  const rowSums = new Float32Array(b * rows);
  const colSums = new Float64Array(b * cols).fill(0.25);
  let total = 0;
  for (let k = 0; k < b; k++) {
    for (let i = 0; i < rows; i++) {
      let rowSum = 0;
      for (let j = 0; j < cols; j++) {
        const at = (k * rows + i) * cols + j;
        const v = x[at]!;
        y[at] = f(f(v * r[k * rows + i]!) + c[k * cols + j]!);
        total += f(v * v);
        rowSum += f(v / f(cols));
        colSums[k * cols + j]! += f(v / f(rows));
      }
      rowSums[k * rows + i] = rowSum;
    }
  }
  return { y, rowSums, colSums, total };
}

describe('elementwise kernels over rows and columns, with sums', () => {
  afterAll(() => {
    elementwiseEngine(null);
  });
  const shapes = [
    { batches: 1, rows: 1, cols: 10_001 },
    { batches: 2, rows: 3, cols: 5 },
    { batches: 1, rows: 3000, cols: 7 },
    { batches: 3, rows: 2, cols: 5000 },
    { batches: 1, rows: 4, cols: 0 },
    // One unrolled iteration (16), two 4-lane steps and 3 scalar ones in every row.
    { batches: 2, rows: 3, cols: 16 + 8 + 3 },
  ];
  for (const engine of ['wasm-simd', 'wasm', 'js'] as const) {
    it(`on ${engine}, sums in float64 in element order and reads rows and columns right`, () => {
      elementwiseEngine(engine);
      for (const { batches, rows, cols } of shapes) {
        const [x, r] = inputs(batches * rows * cols, rows + cols) as [Float32Array, Float32Array];
        const rowValues = Float32Array.from({ length: batches * rows }, (_, k) => f((r[k] ?? 0.5) + 2));
        const colValues = Float32Array.from({ length: batches * cols }, (_, k) => f(k / 7));
        const want = structuredReference(x, rowValues, colValues, batches, rows, cols);
        const y = new Float32Array(batches * rows * cols);
        const rowSums = [new Float32Array(batches * rows).fill(9)];
        const colSums = [new Float64Array(batches * cols).fill(0.25)];
        const [total] = structured.run(
          { batches, rows, cols },
          [x, rowValues, colValues],
          [cols, rows],
          [y],
          {
            rowSums,
            colSums,
          },
        );
        expect(total).toBe(want.total);
        expect(Array.from(y.map(bits))).toEqual(Array.from(want.y.map(bits)));
        expect(Array.from(rowSums[0]!)).toEqual(Array.from(want.rowSums));
        expect(Array.from(colSums[0]!)).toEqual(Array.from(want.colSums));
      }
      elementwiseEngine(null);
    });
  }

  it('works in place in a registered memory', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    registerWasmMemory(memory);
    const [batches, rows, cols] = [2, 31, 45];
    const n = batches * rows * cols;
    const [x0, r0] = inputs(n, 3) as [Float32Array, Float32Array];
    let at = 8;
    const take32 = (length: number) => {
      const view = new Float32Array(memory.buffer, at, length);
      at += length * 4 + 12;
      return view;
    };
    const x = take32(n);
    x.set(x0);
    const r = take32(batches * rows);
    r.set(r0.subarray(0, batches * rows));
    const c = take32(batches * cols);
    c.fill(0.5);
    const y = take32(n);
    const rowSums = take32(batches * rows);
    const colSums = new Float64Array(memory.buffer, 8 * Math.ceil(at / 8), batches * cols).fill(0.25);
    const [total] = structured.run({ batches, rows, cols }, [x, r, c], [cols, rows], [y], {
      rowSums: [rowSums],
      colSums: [colSums],
    });
    const want = structuredReference(x, r, c, batches, rows, cols);
    expect(total).toBe(want.total);
    expect(Array.from(y)).toEqual(Array.from(want.y));
    expect(Array.from(rowSums)).toEqual(Array.from(want.rowSums));
    expect(Array.from(colSums)).toEqual(Array.from(want.colSums));
  });

  it('its sums equal tf.sum and tf.mean along either axis on the cpu backend, bit for bit', () => {
    const [batches, rows, cols] = [2, 17, 23];
    const [x] = inputs(batches * rows * cols, 12) as [Float32Array];
    const rowSums = [new Float32Array(batches * rows)];
    const colSums = [new Float64Array(batches * cols)];
    const [total] = structured.run(
      { batches, rows, cols },
      [x, new Float32Array(batches * rows), new Float32Array(batches * cols)],
      [cols, rows],
      [new Float32Array(x.length)],
      { rowSums, colSums },
    );
    const t = tf.tensor3d(x, [batches, rows, cols]);
    const [sum, rowMeans, colMeans] = [tf.sum(tf.square(t)), tf.mean(t, 2), tf.mean(t, 1)];
    expect(f(total!)).toBe(sum.dataSync()[0]);
    expect(Array.from(rowSums[0]!)).toEqual(Array.from(rowMeans.dataSync()));
    expect(Array.from(colSums[0]!.map(f))).toEqual(Array.from(colMeans.dataSync()));
    tf.dispose([t, sum, rowMeans, colMeans]);
  });
});

function tx0(values: Float32Array): tf.Tensor {
  return tf.tensor1d(values);
}
