/**
 * Elementwise float32 kernels for fused updates, compiled to WebAssembly (SIMD when available).
 *
 * A kernel is an expression over input arrays and scalars, built once with {@link elementwise};
 * every operation is a float32 IEEE operation, rounded as tfjs's ops round theirs, so a kernel
 * gives bit for bit what the same chain of `tf.add`, `tf.mul`… gives on the cpu backend. Sums are
 * accumulated in float64 in element order, as the cpu backend's `tf.sum` and `tf.mean` do. A kernel
 * runs over `batches × rows × cols` elements (row-major), so that factored optimizers can also
 * reduce along and broadcast over the last two dimensions. Arrays that live in a registered
 * WebAssembly memory (the tfjs wasm backend's heap) are processed in place; those of a kernel with
 * some arrays in a slot memory (slot-memory.ts) are read in place there, the others copied through
 * its scratch; the rest are streamed through a small scratch memory in cache-sized chunks.
 */
import { SLOT_MEMORY_ARRAYS, SLOT_MEMORY_CHUNK, type SlotMemory, slotMemoryOf } from './slot-memory.js';

/** A value of an elementwise expression (an opaque handle). */
export interface Expr {
  readonly kind: 'value';
  readonly id: number;
}

/** A per-element condition, for {@link ElementwiseBuilder.select}. */
export interface Mask {
  readonly kind: 'mask';
  readonly id: number;
}

/** What {@link elementwise} gives the function that builds a kernel: float32 operations. */
export interface ElementwiseBuilder {
  /** The element of input array `index` (one value per element). */
  input(index: number): Expr;
  /** The value of input array `index` for the element's row: one value per `(batch, row)`. */
  rowInput(index: number): Expr;
  /** The value of input array `index` for the element's column: one value per `(batch, col)`. */
  colInput(index: number): Expr;
  /** Scalar argument `index` (rounded to float32), the same for every element. */
  scalar(index: number): Expr;
  /** A constant, rounded to float32. */
  constant(value: number): Expr;
  add(a: Expr, b: Expr): Expr;
  sub(a: Expr, b: Expr): Expr;
  mul(a: Expr, b: Expr): Expr;
  div(a: Expr, b: Expr): Expr;
  /** As `tf.minimum` / `Math.min` (NaN if either is NaN). */
  min(a: Expr, b: Expr): Expr;
  /** As `tf.maximum` / `Math.max` (NaN if either is NaN). */
  max(a: Expr, b: Expr): Expr;
  sqrt(a: Expr): Expr;
  /** As `tf.rsqrt` on the cpu backend: 1/√x in float64, rounded once. */
  rsqrt(a: Expr): Expr;
  abs(a: Expr): Expr;
  neg(a: Expr): Expr;
  /** As `tf.sign`: 1, −1, or 0 for ±0 and NaN. */
  sign(a: Expr): Expr;
  greater(a: Expr, b: Expr): Mask;
  less(a: Expr, b: Expr): Mask;
  /** `a` where the mask holds, else `b`. */
  select(mask: Mask, a: Expr, b: Expr): Expr;
  /** Adds `x` over every element, in float64 in element order: `run` returns the sums. */
  sum(x: Expr): void;
  /** Sums `x` along each row in float64, then rounds once: written to a `rowSums` array. */
  rowSum(x: Expr): void;
  /** Adds `x` down each column, in float64 in row order, to a `colSums` array. */
  colSum(x: Expr): void;
}

type Binary = 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'gt' | 'lt';
type Unary = 'sqrt' | 'rsqrt' | 'abs' | 'neg' | 'sign';
type Layout = 'full' | 'row' | 'col';

type Node =
  | { op: 'input'; index: number; layout: Layout }
  | { op: 'scalar'; index: number }
  | { op: 'constant'; value: number }
  | { op: Binary; a: number; b: number }
  | { op: Unary; a: number }
  | { op: 'select'; mask: number; a: number; b: number };

interface Program {
  nodes: Node[];
  /** Layout of each input array. */
  inputs: Layout[];
  scalars: number;
  outputs: number[];
  sums: number[];
  rowSums: number[];
  colSums: number[];
}

/** The index space of a run: `batches × rows × cols` elements, row-major. */
export interface ElementwiseDims {
  batches: number;
  rows: number;
  cols: number;
}

/** Where {@link ElementwiseKernel.run} writes row sums and adds column sums. */
export interface ElementwiseReductions {
  /** One array per `rowSum`, `batches × rows` values: each row's float64 sum rounded once. */
  rowSums?: readonly Float32Array[];
  /** One array per `colSum`, `batches × cols` values, added to (start them at zero). */
  colSums?: readonly Float64Array[];
}

/** A compiled elementwise kernel. */
export interface ElementwiseKernel {
  /** How many input arrays, scalars, output arrays, sums, row sums and column sums it takes. */
  readonly signature: Readonly<{
    inputs: number;
    scalars: number;
    outputs: number;
    sums: number;
    rowSums: number;
    colSums: number;
  }>;
  /**
   * Runs over `dims` elements (a number is `1 × 1 × n`): reads the inputs, writes the outputs and
   * the reductions, and returns the float64 `sum`s. An output may be one of the full inputs (each
   * element is read before it is written), not another overlapping view.
   */
  run(
    dims: number | ElementwiseDims,
    inputs: readonly Float32Array[],
    scalars: readonly number[],
    outputs: readonly Float32Array[],
    reductions?: ElementwiseReductions,
  ): number[];
}

/** How many inputs and scalars a kernel takes, when some variants leave some unused. */
export interface ElementwiseSignature {
  inputs?: number;
  scalars?: number;
}

function build(define: (e: ElementwiseBuilder) => readonly Expr[], signature: ElementwiseSignature): Program {
  const nodes: Node[] = [];
  const memo = new Map<string, number>();
  const inputs: (Layout | undefined)[] = [];
  let scalars = signature.scalars ?? 0;
  const sums: number[] = [];
  const rowSums: number[] = [];
  const colSums: number[] = [];
  const add = (node: Node): number => {
    const key = JSON.stringify(node);
    const found = memo.get(key);
    if (found !== undefined) return found;
    nodes.push(node);
    memo.set(key, nodes.length - 1);
    return nodes.length - 1;
  };
  const value = (id: number): Expr => ({ kind: 'value', id });
  const mask = (id: number): Mask => ({ kind: 'mask', id });
  const check = (x: Expr | Mask, kind: 'value' | 'mask'): number => {
    if (x?.kind !== kind || !(x.id >= 0 && x.id < nodes.length)) {
      throw new TypeError(`elementwise: expected a ${kind} of this kernel`);
    }
    return x.id;
  };
  const index = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i >= 64)
      throw new RangeError(`elementwise: invalid ${what} index ${i}`);
    return i;
  };
  const input = (layout: Layout) => (i: number) => {
    index(i, 'input');
    if (inputs[i] !== undefined && inputs[i] !== layout) {
      throw new TypeError(`elementwise: input ${i} is used both as ${inputs[i]} and as ${layout}`);
    }
    inputs[i] = layout;
    return value(add({ op: 'input', index: i, layout }));
  };
  const binary = (op: Binary) => (a: Expr, b: Expr) =>
    value(add({ op, a: check(a, 'value'), b: check(b, 'value') }));
  const compare = (op: Binary) => (a: Expr, b: Expr) =>
    mask(add({ op, a: check(a, 'value'), b: check(b, 'value') }));
  const unary = (op: Unary) => (a: Expr) => value(add({ op, a: check(a, 'value') }));
  const builder: ElementwiseBuilder = {
    input: input('full'),
    rowInput: input('row'),
    colInput: input('col'),
    scalar: (i) => {
      scalars = Math.max(scalars, index(i, 'scalar') + 1);
      return value(add({ op: 'scalar', index: i }));
    },
    constant: (x) => value(add({ op: 'constant', value: Math.fround(x) })),
    add: binary('add'),
    sub: binary('sub'),
    mul: binary('mul'),
    div: binary('div'),
    min: binary('min'),
    max: binary('max'),
    sqrt: unary('sqrt'),
    rsqrt: unary('rsqrt'),
    abs: unary('abs'),
    neg: unary('neg'),
    sign: unary('sign'),
    greater: compare('gt'),
    less: compare('lt'),
    select: (m, a, b) =>
      value(add({ op: 'select', mask: check(m, 'mask'), a: check(a, 'value'), b: check(b, 'value') })),
    sum: (x) => {
      sums.push(check(x, 'value'));
    },
    rowSum: (x) => {
      rowSums.push(check(x, 'value'));
    },
    colSum: (x) => {
      colSums.push(check(x, 'value'));
    },
  };
  const outputs = define(builder).map((x) => check(x, 'value'));
  if (outputs.length + sums.length + rowSums.length + colSums.length === 0) {
    throw new TypeError('elementwise: a kernel needs an output or a reduction');
  }
  const count = Math.max(inputs.length, signature.inputs ?? 0);
  return {
    nodes,
    inputs: Array.from({ length: count }, (_, i) => inputs[i] ?? 'full'),
    scalars,
    outputs,
    sums,
    rowSums,
    colSums,
  };
}

/** Whether the kernel needs rows kept whole (it reads or reduces along rows or columns). */
function structured(program: Program): boolean {
  return program.inputs.some((l) => l !== 'full') || program.rowSums.length > 0 || program.colSums.length > 0;
}

// ---------------------------------------------------------------------------------------------
// WebAssembly encoding

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const f32Bytes = (x: number): number[] => Array.from(new Uint8Array(Float32Array.of(x).buffer));

const get = (local: number) => [0x20, ...uleb(local)];
const set = (local: number) => [0x21, ...uleb(local)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const F64_ADD = 0xa0;
const F64_PROMOTE = 0xbb;
const F32_DEMOTE = 0xb6;
// Memory operations with their natural alignment and no offset.
const F32_LOAD = [0x2a, 0x02, 0x00];
const F32_STORE = [0x38, 0x02, 0x00];
const F64_LOAD = [0x2b, 0x03, 0x00];
const F64_STORE = [0x39, 0x03, 0x00];
const V128_LOAD = (offset = 0) => [...simd(0x00), 0x04, ...uleb(offset)];
const V128_STORE = (offset = 0) => [...simd(0x0b), 0x04, ...uleb(offset)];
const F32X4_SPLAT = simd(0x13);
const F32X4_EXTRACT = (lane: number) => [...simd(0x1f), lane];
const F64X2_PROMOTE_LOW = simd(0x5f);
const F64X2_ADD = simd(0xf0);
// Lanes 2 and 3 of an f32x4 moved to lanes 0 and 1.
const SHUFFLE_HIGH = [...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
// Lanes 0 and 1 of the first vector, then lanes 0 and 1 of the second.
const JOIN_LOW_HALVES = [...simd(0x0d), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const f64Bytes = (x: number): number[] => Array.from(new Uint8Array(Float64Array.of(x).buffer));
const F64X2_ONE = [...simd(0x0c), ...f64Bytes(1), ...f64Bytes(1)];

const SCALAR_OPS = {
  add: 0x92,
  sub: 0x93,
  mul: 0x94,
  div: 0x95,
  min: 0x96,
  max: 0x97,
  gt: 0x5e,
  lt: 0x5d,
} as const;
const SIMD_OPS = {
  add: 0xe4,
  sub: 0xe5,
  mul: 0xe6,
  div: 0xe7,
  min: 0xe8,
  max: 0xe9,
  gt: 0x44,
  lt: 0x43,
} as const;
const SCALAR_UNARY = { sqrt: 0x91, abs: 0x8b, neg: 0x8c } as const;
const SIMD_UNARY = { sqrt: 0xe3, abs: 0xe0, neg: 0xe1 } as const;

/**
 * 4-lane parts per iteration of the SIMD loop. An update's divisions and square roots have long
 * latencies: independent parts keep several in flight. Measured on adamw at 4e6 parameters on
 * wasm: 7.7 ms a step with 1 part, 6.9 with 2, 5.9 with 4 and 8 (nadam and adan gain more).
 */
const UNROLL = 4;

/**
 * The function `kernel(rows, cols, inputs…, outputs…, rowSums…, colSums…, sums…, scalars…)`
 * (pointers are byte offsets into the imported memory; `sums` are the running float64 sums, which
 * it returns updated). Per row (with SIMD): a loop of {@link UNROLL} 4-lane parts, a 4-lane
 * step for what is left of a multiple of 4, then a scalar loop for the rest.
 */
function encode(program: Program, useSimd: boolean): Uint8Array<ArrayBuffer> {
  const { nodes, inputs, outputs, sums, rowSums, colSums, scalars } = program;
  // Parameters: rows, cols, then the pointers of each group, the running sums and the scalars.
  const p0 = { inputs: 2, outputs: 0, rowSums: 0, colSums: 0, sums: 0, scalars: 0 };
  p0.outputs = p0.inputs + inputs.length;
  p0.rowSums = p0.outputs + outputs.length;
  p0.colSums = p0.rowSums + rowSums.length;
  p0.sums = p0.colSums + colSums.length;
  p0.scalars = p0.sums + sums.length;
  const inPtr = (k: number) => p0.inputs + k;
  const params = p0.scalars + scalars;
  const row = params;
  const rowStart = params + 1;
  const column = params + 2;
  const end = params + 3;
  const address = params + 4;
  const rowAcc = (k: number) => params + 5 + k;
  const f32Local = (id: number) => params + 5 + rowSums.length + id;
  const setup = (node: Node) =>
    node.op === 'scalar' || node.op === 'constant' || (node.op === 'input' && node.layout === 'row');
  // Each part of an unrolled iteration has its own locals, except the loop-invariant ones.
  const v128Local = (id: number, part = 0) =>
    params + 5 + rowSums.length + nodes.length + (setup(nodes[id]!) ? 0 : part * nodes.length) + id;

  /**
   * One step of the loop: 1 element, or 4 lanes at byte offset 16·`part` from `column` (a part of
   * an unrolled iteration; the parts' sums are added in part order, which is element order).
   */
  const element = (vectorized: boolean, part = 0): number[] => {
    const c: number[] = [];
    const local = vectorized ? (id: number) => v128Local(id, part) : f32Local;
    const offset = 16 * part;
    const load = vectorized ? V128_LOAD(offset) : F32_LOAD;
    nodes.forEach((node, id) => {
      if (setup(node)) return;
      switch (node.op) {
        case 'input':
          c.push(...get(inPtr(node.index)), ...get(column), I32_ADD);
          if (node.layout === 'full') c.push(...get(rowStart), I32_ADD);
          c.push(...load);
          break;
        case 'add':
        case 'sub':
        case 'mul':
        case 'div':
        case 'min':
        case 'max':
        case 'gt':
        case 'lt':
          c.push(...get(local(node.a)), ...get(local(node.b)));
          c.push(...(vectorized ? simd(SIMD_OPS[node.op]) : [SCALAR_OPS[node.op]]));
          // Scalar comparisons give an i32: keep masks as f32 locals holding 0 or 1.
          if (!vectorized && (node.op === 'gt' || node.op === 'lt')) c.push(0xb2);
          break;
        case 'sqrt':
        case 'abs':
        case 'neg':
          c.push(...get(local(node.a)));
          c.push(...(vectorized ? simd(SIMD_UNARY[node.op]) : [SCALAR_UNARY[node.op]]));
          break;
        case 'rsqrt':
          if (vectorized) {
            // Each half in float64: 1 / √x, then both halves rounded to float32 and joined.
            const half = (high: boolean) => [
              ...F64X2_ONE,
              ...get(local(node.a)),
              ...(high ? [...get(local(node.a)), ...SHUFFLE_HIGH] : []),
              ...F64X2_PROMOTE_LOW,
              ...simd(0xef), // f64x2.sqrt
              ...simd(0xf3), // f64x2.div
              ...simd(0x5e), // f32x4.demote_f64x2_zero
            ];
            c.push(...half(false), ...half(true), ...JOIN_LOW_HALVES);
          } else {
            c.push(0x44, ...f64Bytes(1), ...get(local(node.a)), F64_PROMOTE, 0x9f, 0xa3, F32_DEMOTE);
          }
          break;
        case 'sign':
          if (vectorized) {
            // (x > 0 ? 1 : 0) − (x < 0 ? 1 : 0): the comparison masks and-ed with 1.0.
            const one = [...simd(0x0c), ...[0, 1, 2, 3].flatMap(() => f32Bytes(1))];
            const zero = [...simd(0x0c), ...new Array(16).fill(0)];
            c.push(...get(local(node.a)), ...zero, ...simd(SIMD_OPS.gt), ...one, ...simd(0x4e));
            c.push(...get(local(node.a)), ...zero, ...simd(SIMD_OPS.lt), ...one, ...simd(0x4e));
            c.push(...simd(SIMD_OPS.sub));
          } else {
            c.push(0x43, ...f32Bytes(1), 0x43, ...f32Bytes(-1), 0x43, ...f32Bytes(0));
            c.push(...get(local(node.a)), 0x43, ...f32Bytes(0), SCALAR_OPS.lt, 0x1b);
            c.push(...get(local(node.a)), 0x43, ...f32Bytes(0), SCALAR_OPS.gt, 0x1b);
          }
          break;
        case 'select':
          c.push(...get(local(node.a)), ...get(local(node.b)));
          if (vectorized) c.push(...get(local(node.mask)), ...simd(0x52));
          else c.push(...get(local(node.mask)), 0x43, ...f32Bytes(0), 0x5c, 0x1b); // mask ≠ 0
          break;
      }
      c.push(...set(local(id)));
    });
    outputs.forEach((id, k) => {
      c.push(...get(p0.outputs + k), ...get(column), I32_ADD, ...get(rowStart), I32_ADD, ...get(local(id)));
      c.push(...(vectorized ? V128_STORE(offset) : F32_STORE));
    });
    // Sums in float64, lane after lane: the order of a sequential loop.
    const accumulate = (target: number, id: number) => {
      if (!vectorized) {
        c.push(...get(target), ...get(f32Local(id)), F64_PROMOTE, F64_ADD, ...set(target));
        return;
      }
      for (let lane = 0; lane < 4; lane++) {
        c.push(
          ...get(target),
          ...get(local(id)),
          ...F32X4_EXTRACT(lane),
          F64_PROMOTE,
          F64_ADD,
          ...set(target),
        );
      }
    };
    sums.forEach((id, k) => {
      accumulate(p0.sums + k, id);
    });
    rowSums.forEach((id, k) => {
      accumulate(rowAcc(k), id);
    });
    colSums.forEach((id, k) => {
      // address = colSums[k] + 2·column (float64 entries of the float32 column offset)
      c.push(...get(p0.colSums + k), ...get(column), ...i32(1), I32_SHL, I32_ADD, ...set(address));
      if (vectorized) {
        const at = 2 * offset;
        c.push(...get(address), ...get(address), ...V128_LOAD(at), ...get(local(id)), ...F64X2_PROMOTE_LOW);
        c.push(...F64X2_ADD, ...V128_STORE(at));
        c.push(...get(address), ...get(address), ...V128_LOAD(at + 16), ...get(local(id)), ...get(local(id)));
        c.push(...SHUFFLE_HIGH, ...F64X2_PROMOTE_LOW, ...F64X2_ADD, ...V128_STORE(at + 16));
      } else {
        c.push(...get(address), ...get(address), ...F64_LOAD, ...get(f32Local(id)), F64_PROMOTE, F64_ADD);
        c.push(...F64_STORE);
      }
    });
    return c;
  };

  /** While `column` < `end`: `body`, then `column` += `bytes`. */
  const loop = (body: number[], bytes: number): number[] => [
    0x02,
    0x40,
    0x03,
    0x40, // block loop
    ...get(column),
    ...get(end),
    0x4f,
    0x0d,
    0x01, // column ≥ end → exit
    ...body,
    ...get(column),
    ...i32(bytes),
    I32_ADD,
    ...set(column),
    0x0c,
    0x00,
    0x0b,
    0x0b,
  ];

  const code: number[] = [];
  // Scalars and constants, once.
  nodes.forEach((node, id) => {
    if (node.op === 'scalar') code.push(...get(p0.scalars + node.index), ...set(f32Local(id)));
    else if (node.op === 'constant') code.push(0x43, ...f32Bytes(node.value), ...set(f32Local(id)));
    else return;
    if (useSimd) code.push(...get(f32Local(id)), ...F32X4_SPLAT, ...set(v128Local(id)));
  });
  code.push(...i32(0), ...set(row), ...i32(0), ...set(rowStart));
  code.push(0x02, 0x40, 0x03, 0x40); // block loop over rows
  code.push(...get(row), ...get(0), 0x4f, 0x0d, 0x01);
  rowSums.forEach((_, k) => {
    code.push(0x44, ...new Array(8).fill(0), ...set(rowAcc(k)));
  });
  nodes.forEach((node, id) => {
    if (node.op !== 'input' || node.layout !== 'row') return;
    code.push(
      ...get(inPtr(node.index)),
      ...get(row),
      ...i32(2),
      I32_SHL,
      I32_ADD,
      ...F32_LOAD,
      ...set(f32Local(id)),
    );
    if (useSimd) code.push(...get(f32Local(id)), ...F32X4_SPLAT, ...set(v128Local(id)));
  });
  code.push(...i32(0), ...set(column));
  if (useSimd) {
    const parts = Array.from({ length: UNROLL }, (_, part) => element(true, part)).flat();
    code.push(...get(1), ...i32(-4 * UNROLL), 0x71, ...i32(2), I32_SHL, ...set(end)); // (cols & ~(4U − 1)) · 4
    code.push(...loop(parts, 16 * UNROLL));
    code.push(...get(1), ...i32(-4), 0x71, ...i32(2), I32_SHL, ...set(end)); // (cols & ~3) · 4
    code.push(...loop(element(true), 16));
  }
  code.push(...get(1), ...i32(2), I32_SHL, ...set(end)); // cols · 4
  code.push(...loop(element(false), 4));
  rowSums.forEach((_, k) => {
    code.push(...get(p0.rowSums + k), ...get(row), ...i32(2), I32_SHL, I32_ADD);
    code.push(...get(rowAcc(k)), F32_DEMOTE, ...F32_STORE);
  });
  code.push(...get(row), ...i32(1), I32_ADD, ...set(row));
  code.push(...get(rowStart), ...get(1), ...i32(2), I32_SHL, I32_ADD, ...set(rowStart));
  code.push(0x0c, 0x00, 0x0b, 0x0b);
  sums.forEach((_, k) => {
    code.push(...get(p0.sums + k));
  });

  const locals = [
    [...uleb(5), I32],
    [...uleb(rowSums.length), F64],
    [...uleb(nodes.length), F32],
  ];
  if (useSimd) locals.push([...uleb(UNROLL * nodes.length), V128]);
  const body = [...vector(locals), ...code, 0x0b];
  const paramTypes = [
    ...new Array<number>(p0.sums).fill(I32),
    ...new Array<number>(sums.length).fill(F64),
    ...new Array<number>(scalars).fill(F32),
  ];
  const resultTypes = new Array<number>(sums.length).fill(F64);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(
      1,
      vector([[0x60, ...vector(paramTypes.map((t) => [t])), ...vector(resultTypes.map((t) => [t]))]]),
    ),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vector([[0x00]])),
    ...section(7, vector([[...name('kernel'), 0x00, 0x00]])),
    ...section(10, vector([[...uleb(body.length), ...body]])),
  ]);
}

// ---------------------------------------------------------------------------------------------
// JavaScript fallback (no WebAssembly): the same operations with Math.fround after each.

interface Arrays {
  inputs: readonly Float32Array[];
  scalars: readonly number[];
  outputs: readonly Float32Array[];
  rowSums: readonly Float32Array[];
  colSums: readonly Float64Array[];
}

function interpret(program: Program, dims: ElementwiseDims, arrays: Arrays): number[] {
  const { nodes, outputs, sums, rowSums, colSums } = program;
  const f = Math.fround;
  const r = new Float64Array(nodes.length);
  const totals = sums.map(() => 0);
  const { batches, rows, cols } = dims;
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < rows; i++) {
      const rowAcc = rowSums.map(() => 0);
      for (let j = 0; j < cols; j++) {
        const k = (b * rows + i) * cols + j;
        for (let id = 0; id < nodes.length; id++) {
          const node = nodes[id]!;
          let x: number;
          switch (node.op) {
            case 'input': {
              const at = node.layout === 'full' ? k : node.layout === 'row' ? b * rows + i : b * cols + j;
              x = arrays.inputs[node.index]![at]!;
              break;
            }
            case 'scalar':
              x = f(arrays.scalars[node.index]!);
              break;
            case 'constant':
              x = node.value;
              break;
            case 'add':
              x = f(r[node.a]! + r[node.b]!);
              break;
            case 'sub':
              x = f(r[node.a]! - r[node.b]!);
              break;
            case 'mul':
              x = f(r[node.a]! * r[node.b]!);
              break;
            case 'div':
              x = f(r[node.a]! / r[node.b]!);
              break;
            case 'min':
              x = Math.min(r[node.a]!, r[node.b]!);
              break;
            case 'max':
              x = Math.max(r[node.a]!, r[node.b]!);
              break;
            case 'gt':
              x = r[node.a]! > r[node.b]! ? 1 : 0;
              break;
            case 'lt':
              x = r[node.a]! < r[node.b]! ? 1 : 0;
              break;
            case 'sqrt':
              x = f(Math.sqrt(r[node.a]!));
              break;
            case 'rsqrt':
              x = f(1 / Math.sqrt(r[node.a]!));
              break;
            case 'abs':
              x = Math.abs(r[node.a]!);
              break;
            case 'neg':
              x = -r[node.a]!;
              break;
            case 'sign': {
              const a = r[node.a]!;
              x = a > 0 ? 1 : a < 0 ? -1 : 0;
              break;
            }
            case 'select':
              x = r[node.mask]! !== 0 ? r[node.a]! : r[node.b]!;
              break;
          }
          r[id] = x;
        }
        outputs.forEach((id, o) => {
          arrays.outputs[o]![k] = r[id]!;
        });
        sums.forEach((id, s) => {
          totals[s]! += r[id]!;
        });
        rowSums.forEach((id, s) => {
          rowAcc[s]! += r[id]!;
        });
        colSums.forEach((id, s) => {
          arrays.colSums[s]![b * cols + j]! += r[id]!;
        });
      }
      rowSums.forEach((_, s) => {
        arrays.rowSums[s]![b * rows + i] = rowAcc[s]!;
      });
    }
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// Running

type WasmFunction = (...args: number[]) => number | number[] | undefined;

const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01,
  0x00, 0x0a, 0x0a, 0x01, 0x08, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x62, 0x0b,
]);

type Engine = 'wasm-simd' | 'wasm' | 'js';
let engine: Engine | null = null;

function detectEngine(): Engine {
  if (typeof WebAssembly !== 'object') return 'js';
  try {
    // Compiling, not only validating: a Content-Security-Policy may forbid it.
    new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    return WebAssembly.validate(SIMD_PROBE) ? 'wasm-simd' : 'wasm';
  } catch {
    return 'js';
  }
}

/**
 * The engine elementwise kernels run on: WebAssembly with SIMD, plain WebAssembly, or a JavaScript
 * interpreter (far slower: without WebAssembly the base class does not fuse). Detected on first
 * use; tests can force one (`null` detects again).
 */
export function elementwiseEngine(force?: Engine | null): Engine {
  if (force !== undefined) engine = force;
  engine ??= detectEngine();
  return engine;
}

type RunKind = 'in place' | 'slot memory' | 'streamed' | 'interpreted';
let lastRun: RunKind | null = null;

/**
 * How the most recent kernel run went (for tests): in place, against a slot memory (the arrays in
 * it in place, the others copied through its scratch), streamed through scratch, or interpreted.
 */
export function lastElementwiseRun(): RunKind | null {
  return lastRun;
}

/** Memories whose arrays are processed in place (the tfjs wasm backend's heap). */
const memories = new Set<WebAssembly.Memory>();

/** Lets kernels work in place on arrays that are views of `memory`. */
export function registerWasmMemory(memory: WebAssembly.Memory): void {
  memories.add(memory);
}

/** Elements per full array in a streamed chunk. */
const CHUNK = 4096;
let scratch: WebAssembly.Memory | null = null;

function scratchMemory(bytes: number): WebAssembly.Memory {
  const pages = Math.ceil(bytes / 65536);
  if (!scratch) scratch = new WebAssembly.Memory({ initial: Math.max(pages, 1) });
  else if (scratch.buffer.byteLength < bytes) scratch.grow(pages - scratch.buffer.byteLength / 65536);
  return scratch;
}

const toArray = (result: number | number[] | undefined): number[] =>
  result === undefined ? [] : typeof result === 'number' ? [result] : Array.from(result);

function slotMemoryIn(arrays: Arrays): SlotMemory | undefined {
  for (const a of arrays.inputs) {
    const found = slotMemoryOf(a.buffer);
    if (found) return found;
  }
  return undefined;
}

function allIn(buffer: ArrayBufferLike, arrays: Arrays): boolean {
  for (const list of [arrays.inputs, arrays.outputs, arrays.rowSums, arrays.colSums]) {
    for (const a of list) if (a.buffer !== buffer) return false;
  }
  return true;
}

function checkDimension(d: number): void {
  if (!Number.isInteger(d) || d < 0) throw new RangeError(`elementwise kernel: invalid dimension ${d}`);
}

function need(
  array: Float32Array | Float64Array,
  length: number,
  type: typeof Float32Array | typeof Float64Array,
): void {
  if (!(array instanceof type) || array.length < length) {
    throw new RangeError(`elementwise kernel: an array has fewer than the ${length} elements it needs`);
  }
}

class CompiledKernel implements ElementwiseKernel {
  readonly signature: ElementwiseKernel['signature'];
  private readonly program: Program;
  private readonly structured: boolean;
  private modules = new Map<Engine, WebAssembly.Module>();
  private instances = new WeakMap<WebAssembly.Memory, Map<Engine, WasmFunction>>();
  /** The wasm call's argument list, refilled on each run (runs never overlap). */
  private args: number[] | undefined;
  /** The memory and function of the latest in-place run (the wasm backend's heap, usually). */
  private lastInPlace: { memory: WebAssembly.Memory; kind: Engine; fn: WasmFunction } | undefined;
  /** {@link streamedFlat}'s function and view of the scratch memory, while its buffer lasts. */
  private flat:
    | { memory: WebAssembly.Memory; buffer: ArrayBuffer; kind: Engine; fn: WasmFunction; f32: Float32Array }
    | undefined;

  constructor(program: Program) {
    this.program = program;
    this.structured = structured(program);
    this.signature = {
      inputs: program.inputs.length,
      scalars: program.scalars,
      outputs: program.outputs.length,
      sums: program.sums.length,
      rowSums: program.rowSums.length,
      colSums: program.colSums.length,
    };
  }

  private wasmFunction(memory: WebAssembly.Memory, kind: Engine): WasmFunction {
    let byMemory = this.instances.get(memory);
    if (!byMemory) {
      byMemory = new Map();
      this.instances.set(memory, byMemory);
    }
    let fn = byMemory.get(kind);
    if (!fn) {
      let module = this.modules.get(kind);
      if (!module) {
        module = new WebAssembly.Module(encode(this.program, kind === 'wasm-simd'));
        this.modules.set(kind, module);
      }
      fn = new WebAssembly.Instance(module, { env: { memory } }).exports.kernel as WasmFunction;
      byMemory.set(kind, fn);
    }
    return fn;
  }

  run(
    dims: number | ElementwiseDims,
    inputs: readonly Float32Array[],
    scalars: readonly number[],
    outputs: readonly Float32Array[],
    reductions: ElementwiseReductions = {},
  ): number[] {
    const { batches, rows, cols } = typeof dims === 'number' ? { batches: 1, rows: 1, cols: dims } : dims;
    const arrays: Arrays = {
      inputs,
      scalars,
      outputs,
      rowSums: reductions.rowSums ?? [],
      colSums: reductions.colSums ?? [],
    };
    this.check(batches, rows, cols, arrays);
    const n = batches * rows * cols;
    if (n === 0) {
      for (const a of arrays.rowSums) a.fill(0, 0, batches * rows);
      return this.program.sums.map(() => 0);
    }
    const kind = elementwiseEngine();
    if (kind === 'js') {
      lastRun = 'interpreted';
      return interpret(this.program, { batches, rows, cols }, arrays);
    }
    // Without rows or columns to respect, the elements are one long row.
    const shape = this.structured ? { batches, rows, cols } : { batches: 1, rows: 1, cols: n };
    const last = this.lastInPlace;
    if (last && last.kind === kind && allIn(last.memory.buffer, arrays)) {
      lastRun = 'in place';
      return this.inPlace(last.fn, shape, arrays);
    }
    for (const memory of memories) {
      if (!allIn(memory.buffer, arrays)) continue;
      let fn: WasmFunction | null = null;
      try {
        fn = this.wasmFunction(memory, kind);
      } catch {
        // A memory this module cannot import (a shared one): stream through scratch instead.
      }
      if (fn) {
        lastRun = 'in place';
        this.lastInPlace = { memory, kind, fn };
        return this.inPlace(fn, shape, arrays);
      }
    }
    if (!this.structured) {
      const slotMemory = slotMemoryIn(arrays);
      const totals = slotMemory ? this.againstSlotMemory(kind, n, arrays, slotMemory) : null;
      if (totals) {
        lastRun = 'slot memory';
        return totals;
      }
    }
    lastRun = 'streamed';
    return this.streamed(kind, shape, arrays);
  }

  /**
   * A flat kernel whose arrays are partly in a slot memory: those are read and written where they
   * are, the others are copied through the memory's scratch a chunk at a time. Null when the
   * kernel has more copied arrays than the scratch holds.
   */
  private againstSlotMemory(kind: Engine, n: number, arrays: Arrays, slot: SlotMemory): number[] | null {
    const { buffer } = slot.memory;
    const list = [...arrays.inputs, ...arrays.outputs];
    const copied = list.filter((a) => a.buffer !== buffer).length;
    if (copied > SLOT_MEMORY_ARRAYS) return null;
    let fn: WasmFunction;
    try {
      fn = this.wasmFunction(slot.memory, kind);
    } catch {
      return null;
    }
    const f32 = new Float32Array(buffer);
    const inputs = arrays.inputs.length;
    // Per array: its scratch region's element offset, or -1 for an array in the memory.
    let next = 0;
    const regions = list.map((a) =>
      a.buffer === buffer ? -1 : slot.scratch / 4 + SLOT_MEMORY_CHUNK * next++,
    );
    const args: number[] = [1, 0, ...list.map(() => 0)];
    const sums = args.length;
    for (let k = 0; k < this.program.sums.length; k++) args.push(0);
    args.push(...arrays.scalars);
    let totals: number[] = args.slice(sums, sums + this.program.sums.length);
    for (let start = 0; start < n; start += SLOT_MEMORY_CHUNK) {
      const length = Math.min(SLOT_MEMORY_CHUNK, n - start);
      for (let k = 0; k < list.length; k++) {
        const a = list[k]!;
        const region = regions[k]!;
        if (region < 0) args[2 + k] = a.byteOffset + 4 * start;
        else {
          args[2 + k] = 4 * region;
          if (k < inputs) f32.set(a.subarray(start, start + length), region);
        }
      }
      args[1] = length;
      for (let k = 0; k < totals.length; k++) args[sums + k] = totals[k]!;
      totals = toArray(fn(...args));
      for (let k = inputs; k < list.length; k++) {
        const region = regions[k]!;
        if (region >= 0) list[k]!.set(f32.subarray(region, region + length), start);
      }
    }
    return totals;
  }

  private check(batches: number, rows: number, cols: number, arrays: Arrays): void {
    const { signature } = this;
    if (
      arrays.inputs.length !== signature.inputs ||
      arrays.scalars.length !== signature.scalars ||
      arrays.outputs.length !== signature.outputs ||
      arrays.rowSums.length !== signature.rowSums ||
      arrays.colSums.length !== signature.colSums
    ) {
      throw new RangeError(
        `elementwise kernel takes ${signature.inputs} inputs, ${signature.scalars} scalars, ` +
          `${signature.outputs} outputs, ${signature.rowSums} row sums and ${signature.colSums} column sums`,
      );
    }
    checkDimension(batches);
    checkDimension(rows);
    checkDimension(cols);
    const full = batches * rows * cols;
    const layouts = this.program.inputs;
    for (let k = 0; k < arrays.inputs.length; k++) {
      const layout = layouts[k]!;
      need(
        arrays.inputs[k]!,
        layout === 'full' ? full : layout === 'row' ? batches * rows : batches * cols,
        Float32Array,
      );
    }
    for (const a of arrays.outputs) need(a, full, Float32Array);
    for (const a of arrays.rowSums) need(a, batches * rows, Float32Array);
    for (const a of arrays.colSums) need(a, batches * cols, Float64Array);
  }

  private inPlace(fn: WasmFunction, dims: ElementwiseDims, arrays: Arrays): number[] {
    const { batches, rows, cols } = dims;
    const layouts = this.program.inputs;
    // The call's arguments: rows, cols, the arrays' byte offsets, the running sums, the scalars.
    if (!this.args) this.args = [];
    const args = this.args;
    args.length = 0;
    args.push(rows, cols);
    const pointers = args.length;
    for (const a of arrays.inputs) args.push(a.byteOffset);
    for (const a of arrays.outputs) args.push(a.byteOffset);
    for (const a of arrays.rowSums) args.push(a.byteOffset);
    for (const a of arrays.colSums) args.push(a.byteOffset);
    const sums = args.length;
    for (let k = 0; k < this.program.sums.length; k++) args.push(0);
    for (const x of arrays.scalars) args.push(x);
    let totals = toArray(fn(...args));
    for (let b = 1; b < batches; b++) {
      let p = pointers;
      const advance = (a: Float32Array | Float64Array, layout: Layout) => {
        args[p++] =
          a.byteOffset +
          a.BYTES_PER_ELEMENT * b * (layout === 'full' ? rows * cols : layout === 'row' ? rows : cols);
      };
      arrays.inputs.forEach((a, k) => {
        advance(a, layouts[k]!);
      });
      for (const a of arrays.outputs) advance(a, 'full');
      for (const a of arrays.rowSums) advance(a, 'row');
      for (const a of arrays.colSums) advance(a, 'col');
      for (let k = 0; k < totals.length; k++) args[sums + k] = totals[k]!;
      totals = toArray(fn(...args));
    }
    return totals;
  }

  /**
   * {@link streamed} for a kernel without rows or columns (every array full, no row or column
   * sums): a fixed scratch layout of one chunk per array, so that small arrays cost little more
   * than the call.
   */
  private streamedFlat(kind: Engine, n: number, arrays: Arrays): number[] {
    const count = arrays.inputs.length + arrays.outputs.length;
    const memory = scratchMemory(count * CHUNK * 4);
    let flat = this.flat;
    if (!flat || flat.memory !== memory || flat.buffer !== memory.buffer || flat.kind !== kind) {
      flat = {
        memory,
        buffer: memory.buffer,
        kind,
        fn: this.wasmFunction(memory, kind),
        f32: new Float32Array(memory.buffer),
      };
      this.flat = flat;
    }
    const { fn, f32 } = flat;
    const inputs = arrays.inputs.length;
    if (!this.args) this.args = [];
    const args = this.args;
    args.length = 0;
    args.push(1, 0);
    for (let k = 0; k < count; k++) args.push(k * CHUNK * 4);
    const sums = args.length;
    for (let k = 0; k < this.program.sums.length; k++) args.push(0);
    for (const x of arrays.scalars) args.push(x);
    let totals: number[] =
      this.program.sums.length === 0 ? [] : args.slice(sums, sums + this.program.sums.length);
    for (let start = 0; start < n; start += CHUNK) {
      const length = Math.min(CHUNK, n - start);
      for (let k = 0; k < inputs; k++) {
        const a = arrays.inputs[k]!;
        f32.set(length === a.length ? a : a.subarray(start, start + length), k * CHUNK);
      }
      args[1] = length;
      for (let k = 0; k < totals.length; k++) args[sums + k] = totals[k]!;
      totals = toArray(fn(...args));
      for (let k = 0; k < arrays.outputs.length; k++) {
        const at = (inputs + k) * CHUNK;
        arrays.outputs[k]!.set(f32.subarray(at, at + length), start);
      }
    }
    return totals;
  }

  /**
   * Copies the arrays through a scratch memory, a chunk of whole rows at a time (or, with no row
   * structure, a chunk of elements), so that the copies stay in cache.
   */
  private streamed(kind: Engine, dims: ElementwiseDims, arrays: Arrays): number[] {
    if (!this.structured) return this.streamedFlat(kind, dims.cols, arrays);
    const { batches, rows, cols } = dims;
    const layouts = this.program.inputs;
    const chunkRows = Math.max(1, Math.floor(CHUNK / cols));
    const chunkCols = this.structured ? cols : Math.min(cols, CHUNK);
    const full = (this.structured ? chunkRows : 1) * chunkCols;
    const length = (layout: Layout) => (layout === 'full' ? full : layout === 'row' ? chunkRows : cols);
    // Layout of the scratch memory: column sums (float64) first, then the float32 arrays.
    let offset = 0;
    const colOffsets = arrays.colSums.map(() => {
      const at = offset;
      offset += cols * 8;
      return at;
    });
    const region = (count: number) => {
      const at = offset;
      offset += Math.ceil((count * 4) / 16) * 16;
      return at;
    };
    const inOffsets = arrays.inputs.map((_, k) => region(length(layouts[k]!)));
    const outOffsets = arrays.outputs.map(() => region(full));
    const rowOffsets = arrays.rowSums.map(() => region(chunkRows));
    const memory = scratchMemory(offset);
    const fn = this.wasmFunction(memory, kind);
    const f32 = new Float32Array(memory.buffer);
    const f64 = new Float64Array(memory.buffer);
    let totals = this.program.sums.map(() => 0);
    const call = (chunkRowCount: number, chunkColCount: number) => {
      totals = toArray(
        fn(
          chunkRowCount,
          chunkColCount,
          ...inOffsets,
          ...outOffsets,
          ...rowOffsets,
          ...colOffsets,
          ...totals,
          ...arrays.scalars,
        ),
      );
    };
    for (let b = 0; b < batches; b++) {
      for (let i0 = 0; i0 < rows; i0 += chunkRows) {
        const count = Math.min(chunkRows, rows - i0);
        const fullStart = (b * rows + i0) * cols;
        arrays.inputs.forEach((a, k) => {
          const layout = layouts[k]!;
          const from = layout === 'full' ? fullStart : layout === 'row' ? b * rows + i0 : b * cols;
          const size = layout === 'full' ? count * cols : layout === 'row' ? count : cols;
          f32.set(a.subarray(from, from + size), inOffsets[k]! / 4);
        });
        arrays.colSums.forEach((a, k) => {
          f64.set(a.subarray(b * cols, (b + 1) * cols), colOffsets[k]! / 8);
        });
        call(count, cols);
        arrays.outputs.forEach((a, k) => {
          a.set(f32.subarray(outOffsets[k]! / 4, outOffsets[k]! / 4 + count * cols), fullStart);
        });
        arrays.rowSums.forEach((a, k) => {
          a.set(f32.subarray(rowOffsets[k]! / 4, rowOffsets[k]! / 4 + count), b * rows + i0);
        });
        arrays.colSums.forEach((a, k) => {
          a.set(f64.subarray(colOffsets[k]! / 8, colOffsets[k]! / 8 + cols), b * cols);
        });
      }
    }
    return totals;
  }
}

/**
 * Compiles an elementwise float32 kernel: `define` receives the operations, registers any sums,
 * and returns the expressions of the outputs, in order. Every operation rounds to float32 exactly
 * as tfjs's op of the same name does on the cpu backend, and sums accumulate in float64 in element
 * order as its `tf.sum` does, so a kernel that mirrors a chain of tensor ops reproduces it bit for
 * bit. The kernel takes as many inputs and scalars as the highest index used, or as `signature`
 * says. Define kernels once and reuse them: compiling costs far more than a step.
 *
 * @example
 * ```ts
 * // m ← β·m + (1 − β)·g and p ← p − lr·m in one pass, with Σg² on the side.
 * const momentum = elementwise((e) => {
 *   const m = e.add(e.mul(e.input(1), e.scalar(0)), e.mul(e.input(2), e.scalar(1)));
 *   e.sum(e.mul(e.input(2), e.input(2)));
 *   return [e.sub(e.input(0), e.mul(m, e.scalar(2))), m];
 * });
 * const [gradSquares] = momentum.run(n, [param, m, grad], [beta, 1 - beta, lr], [out.param, out.slots.m]);
 * ```
 */
export function elementwise(
  define: (e: ElementwiseBuilder) => readonly Expr[],
  signature: ElementwiseSignature = {},
): ElementwiseKernel {
  return new CompiledKernel(build(define, signature));
}

/**
 * A family of {@link elementwise} kernels that differ by boolean flags (weight decay on or off,
 * first step, a Nesterov term…), each compiled on first use and then reused.
 *
 * @example
 * ```ts
 * const step = elementwiseVariants((e, { decay }: { decay: boolean }) => {
 *   const g = decay ? e.add(e.input(1), e.mul(e.input(0), e.scalar(1))) : e.input(1);
 *   return [e.sub(e.input(0), e.mul(g, e.scalar(0)))];
 * }, { inputs: 2, scalars: 2 });
 * step({ decay: h.weightDecay !== 0 }).run(n, [param, grad], [lr, wd], [out.param]);
 * ```
 */
export function elementwiseVariants<F extends Record<string, boolean>>(
  define: (e: ElementwiseBuilder, flags: F) => readonly Expr[],
  signature: ElementwiseSignature = {},
): (flags: F) => ElementwiseKernel {
  const kernels = new Map<string, ElementwiseKernel>();
  return (flags) => {
    const key = Object.keys(flags)
      .sort()
      .map((k) => `${k}:${flags[k] ? 1 : 0}`)
      .join(',');
    let kernel = kernels.get(key);
    if (!kernel) {
      kernel = elementwise((e) => define(e, flags), signature);
      kernels.set(key, kernel);
    }
    return kernel;
  };
}
