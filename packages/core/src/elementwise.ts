/**
 * Elementwise float32 kernels for fused updates, compiled to WebAssembly (SIMD when available).
 *
 * A kernel is an expression over its input arrays and scalars, built once with
 * {@link elementwise}; every operation is a float32 IEEE operation, rounded as tfjs's ops round
 * theirs, so a kernel gives bit for bit what the same chain of `tf.add`, `tf.mul`… gives on the cpu
 * backend. Arrays that live in a registered WebAssembly memory (the tfjs wasm backend's heap) are
 * processed in place; other arrays are streamed through a small scratch memory in cache-sized chunks.
 */

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
  /** The element of input array `index`. */
  input(index: number): Expr;
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
  abs(a: Expr): Expr;
  neg(a: Expr): Expr;
  /** As `tf.sign`: 1, −1, or 0 for ±0 and NaN. */
  sign(a: Expr): Expr;
  greater(a: Expr, b: Expr): Mask;
  less(a: Expr, b: Expr): Mask;
  /** `a` where the mask holds, else `b`. */
  select(mask: Mask, a: Expr, b: Expr): Expr;
}

type Node =
  | { op: 'input' | 'scalar'; index: number }
  | { op: 'constant'; value: number }
  | { op: 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'gt' | 'lt'; a: number; b: number }
  | { op: 'sqrt' | 'abs' | 'neg' | 'sign'; a: number }
  | { op: 'select'; mask: number; a: number; b: number };

interface Program {
  nodes: Node[];
  outputs: number[];
  inputs: number;
  scalars: number;
}

/** A compiled elementwise kernel. */
export interface ElementwiseKernel {
  readonly inputs: number;
  readonly outputs: number;
  readonly scalars: number;
  /**
   * Computes `n` elements: reads `inputs[k][0..n)`, writes `outputs[k][0..n)`. An output may be
   * one of the inputs (each element is read before it is written), not another overlapping view.
   */
  run(
    n: number,
    inputs: readonly Float32Array[],
    scalars: readonly number[],
    outputs: readonly Float32Array[],
  ): void;
}

/** How many inputs and scalars a kernel takes, when some variants leave some unused. */
export interface ElementwiseSignature {
  inputs?: number;
  scalars?: number;
}

function build(define: (e: ElementwiseBuilder) => readonly Expr[], signature: ElementwiseSignature): Program {
  const nodes: Node[] = [];
  const memo = new Map<string, number>();
  let inputs = signature.inputs ?? 0;
  let scalars = signature.scalars ?? 0;
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
    if (!Number.isInteger(i) || i < 0 || i > 64)
      throw new RangeError(`elementwise: invalid ${what} index ${i}`);
    return i;
  };
  const binary = (op: 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max') => (a: Expr, b: Expr) =>
    value(add({ op, a: check(a, 'value'), b: check(b, 'value') }));
  const unary = (op: 'sqrt' | 'abs' | 'neg' | 'sign') => (a: Expr) =>
    value(add({ op, a: check(a, 'value') }));
  const builder: ElementwiseBuilder = {
    input: (i) => {
      inputs = Math.max(inputs, index(i, 'input') + 1);
      return value(add({ op: 'input', index: i }));
    },
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
    abs: unary('abs'),
    neg: unary('neg'),
    sign: unary('sign'),
    greater: (a, b) => mask(add({ op: 'gt', a: check(a, 'value'), b: check(b, 'value') })),
    less: (a, b) => mask(add({ op: 'lt', a: check(a, 'value'), b: check(b, 'value') })),
    select: (m, a, b) =>
      value(add({ op: 'select', mask: check(m, 'mask'), a: check(a, 'value'), b: check(b, 'value') })),
  };
  const outputs = define(builder).map((x) => check(x, 'value'));
  if (outputs.length === 0) throw new TypeError('elementwise: a kernel needs at least one output');
  return { nodes, outputs, inputs, scalars };
}

// ---------------------------------------------------------------------------------------------
// WebAssembly encoding

const I32 = 0x7f;
const F32 = 0x7d;
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
 * The function `kernel(n, in₀…, out₀…, s₀…)` (byte offsets into the imported memory): a 4-lane
 * loop over the first n − n mod 4 elements (when SIMD is used), then a scalar loop for the rest.
 */
function encode(program: Program, useSimd: boolean): Uint8Array<ArrayBuffer> {
  const { nodes, outputs, inputs, scalars } = program;
  const params = 1 + inputs + outputs.length + scalars;
  const inPtr = (k: number) => 1 + k;
  const outPtr = (k: number) => 1 + inputs + k;
  const scalarParam = (k: number) => 1 + inputs + outputs.length + k;
  // i32 locals: offset, end; then one f32 and (with SIMD) one v128 local per node.
  const offset = params;
  const end = params + 1;
  const f32Local = (id: number) => params + 2 + id;
  const v128Local = (id: number) => params + 2 + nodes.length + id;
  const code: number[] = [];

  const element = (vectorized: boolean): number[] => {
    const c: number[] = [];
    const local = vectorized ? v128Local : f32Local;
    nodes.forEach((node, id) => {
      switch (node.op) {
        case 'input':
          c.push(...get(inPtr(node.index)), ...get(offset), 0x6a);
          c.push(...(vectorized ? [...simd(0x00), 0x04, 0x00] : [0x2a, 0x02, 0x00]));
          break;
        case 'scalar':
        case 'constant':
          return; // set up before the loops
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
          if (!vectorized && (node.op === 'gt' || node.op === 'lt')) {
            // Scalar comparisons give an i32; keep masks as f32 locals holding 0 or 1.
            c.push(0xb2); // f32.convert_i32_s
          }
          break;
        case 'sqrt':
        case 'abs':
        case 'neg':
          c.push(...get(local(node.a)));
          c.push(...(vectorized ? simd(SIMD_UNARY[node.op]) : [SCALAR_UNARY[node.op]]));
          break;
        case 'sign':
          if (vectorized) {
            // (x > 0 ? 1 : 0) − (x < 0 ? 1 : 0), with the comparison masks and-ed with 1.0.
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
      c.push(...get(outPtr(k)), ...get(offset), 0x6a, ...get(local(id)));
      c.push(...(vectorized ? [...simd(0x0b), 0x04, 0x00] : [0x38, 0x02, 0x00]));
    });
    return c;
  };

  // Scalars and constants, once.
  nodes.forEach((node, id) => {
    if (node.op === 'scalar') code.push(...get(scalarParam(node.index)), ...set(f32Local(id)));
    else if (node.op === 'constant') code.push(0x43, ...f32Bytes(node.value), ...set(f32Local(id)));
    else return;
    if (useSimd) code.push(...get(f32Local(id)), ...simd(0x13), ...set(v128Local(id)));
  });
  code.push(0x41, 0x00, ...set(offset));
  if (useSimd) {
    // end = (n & ~3) · 4 bytes
    code.push(...get(0), 0x41, ...sleb(-4), 0x71, 0x41, 0x02, 0x74, ...set(end));
    code.push(0x02, 0x40, 0x03, 0x40); // block loop
    code.push(...get(offset), ...get(end), 0x4f, 0x0d, 0x01); // offset ≥ end → exit
    code.push(...element(true));
    code.push(...get(offset), 0x41, 0x10, 0x6a, ...set(offset), 0x0c, 0x00, 0x0b, 0x0b);
  }
  code.push(...get(0), 0x41, 0x02, 0x74, ...set(end)); // end = n · 4 bytes
  code.push(0x02, 0x40, 0x03, 0x40);
  code.push(...get(offset), ...get(end), 0x4f, 0x0d, 0x01);
  code.push(...element(false));
  code.push(...get(offset), 0x41, 0x04, 0x6a, ...set(offset), 0x0c, 0x00, 0x0b, 0x0b);

  const locals = [
    [...uleb(2), I32],
    [...uleb(nodes.length), F32],
  ];
  if (useSimd) locals.push([...uleb(nodes.length), V128]);
  const body = [...vector(locals), ...code, 0x0b];
  const paramTypes = [I32, ...new Array(inputs + outputs.length).fill(I32), ...new Array(scalars).fill(F32)];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector([[0x60, ...vector(paramTypes.map((t) => [t])), 0x00]])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vector([[0x00]])),
    ...section(7, vector([[...name('kernel'), 0x00, 0x00]])),
    ...section(10, vector([[...uleb(body.length), ...body]])),
  ]);
}

// ---------------------------------------------------------------------------------------------
// JavaScript fallback (no WebAssembly): the same operations with Math.fround after each.

type JsKernel = (
  n: number,
  inputs: readonly Float32Array[],
  scalars: readonly number[],
  outputs: readonly Float32Array[],
) => void;

function interpret(program: Program): JsKernel {
  const { nodes, outputs } = program;
  const f = Math.fround;
  return (n, inputs, scalars, outs) => {
    const r = new Float64Array(nodes.length);
    for (let i = 0; i < n; i++) {
      for (let id = 0; id < nodes.length; id++) {
        const node = nodes[id]!;
        let x: number;
        switch (node.op) {
          case 'input':
            x = inputs[node.index]![i]!;
            break;
          case 'scalar':
            x = f(scalars[node.index]!);
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
      for (let k = 0; k < outputs.length; k++) outs[k]![i] = r[outputs[k]!]!;
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Running

type WasmFunction = (...args: number[]) => void;

const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01,
  0x00, 0x0a, 0x0a, 0x01, 0x08, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x62, 0x0b,
]);

let engine: 'wasm-simd' | 'wasm' | 'js' | null = null;

function detectEngine(): 'wasm-simd' | 'wasm' | 'js' {
  if (typeof WebAssembly !== 'object') return 'js';
  try {
    return WebAssembly.validate(SIMD_PROBE) ? 'wasm-simd' : 'wasm';
  } catch {
    return 'js';
  }
}

/**
 * The engine elementwise kernels run on: WebAssembly with SIMD, plain WebAssembly, or a JavaScript
 * interpreter. Detected on first use; tests can force one (`null` re-detects).
 */
export function elementwiseEngine(force?: 'wasm-simd' | 'wasm' | 'js' | null): 'wasm-simd' | 'wasm' | 'js' {
  if (force !== undefined) engine = force;
  engine ??= detectEngine();
  return engine;
}

/** Memories whose arrays are processed in place (the tfjs wasm backend's heap). */
const memories = new Set<WebAssembly.Memory>();

/** Lets kernels work in place on arrays that are views of `memory`. */
export function registerWasmMemory(memory: WebAssembly.Memory): void {
  memories.add(memory);
}

const CHUNK = 4096;
let scratch: { memory: WebAssembly.Memory; slots: number } | null = null;

function scratchMemory(slots: number): WebAssembly.Memory {
  if (!scratch || scratch.slots < slots) {
    const pages = Math.ceil((slots * CHUNK * 4) / 65536);
    scratch = { memory: new WebAssembly.Memory({ initial: pages }), slots };
  }
  return scratch.memory;
}

class CompiledKernel implements ElementwiseKernel {
  readonly inputs: number;
  readonly outputs: number;
  readonly scalars: number;
  private readonly program: Program;
  private modules = new Map<string, WebAssembly.Module>();
  private instances = new WeakMap<WebAssembly.Memory, Map<string, WasmFunction>>();
  private js: JsKernel | null = null;

  constructor(program: Program) {
    this.program = program;
    this.inputs = program.inputs;
    this.outputs = program.outputs.length;
    this.scalars = program.scalars;
  }

  private wasmFunction(memory: WebAssembly.Memory, kind: 'wasm-simd' | 'wasm'): WasmFunction {
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
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      fn = instance.exports.kernel as WasmFunction;
      byMemory.set(kind, fn);
    }
    return fn;
  }

  run(
    n: number,
    inputs: readonly Float32Array[],
    scalars: readonly number[],
    outputs: readonly Float32Array[],
  ): void {
    if (inputs.length !== this.inputs || outputs.length !== this.outputs || scalars.length !== this.scalars) {
      throw new RangeError(
        `elementwise kernel takes ${this.inputs} inputs, ${this.scalars} scalars and ${this.outputs} outputs`,
      );
    }
    for (const array of [...inputs, ...outputs]) {
      if (!(array instanceof Float32Array) || array.length < n) {
        throw new RangeError(`elementwise kernel: every array needs at least ${n} float32 elements`);
      }
    }
    if (n === 0) return;
    const kind = elementwiseEngine();
    if (kind === 'js') {
      this.js ??= interpret(this.program);
      this.js(n, inputs, scalars, outputs);
      return;
    }
    const arrays = [...inputs, ...outputs];
    for (const memory of memories) {
      if (arrays.every((a) => a.buffer === memory.buffer)) {
        let fn: WasmFunction | null = null;
        try {
          fn = this.wasmFunction(memory, kind);
        } catch {
          // A memory this module cannot import (a shared one): stream through scratch instead.
        }
        if (fn) {
          fn(n, ...arrays.map((a) => a.byteOffset), ...scalars);
          return;
        }
      }
    }
    this.streamed(n, inputs, scalars, outputs, kind);
  }

  private streamed(
    n: number,
    inputs: readonly Float32Array[],
    scalars: readonly number[],
    outputs: readonly Float32Array[],
    kind: 'wasm-simd' | 'wasm',
  ): void {
    const count = inputs.length + outputs.length;
    const memory = scratchMemory(count);
    const fn = this.wasmFunction(memory, kind);
    const heap = new Float32Array(memory.buffer);
    const pointers = Array.from({ length: count }, (_, k) => k * CHUNK * 4);
    for (let start = 0; start < n; start += CHUNK) {
      const stop = Math.min(n, start + CHUNK);
      inputs.forEach((a, k) => {
        heap.set(a.subarray(start, stop), k * CHUNK);
      });
      fn(stop - start, ...pointers, ...scalars);
      outputs.forEach((a, k) => {
        const from = (inputs.length + k) * CHUNK;
        a.set(heap.subarray(from, from + stop - start), start);
      });
    }
  }
}

/**
 * Compiles an elementwise float32 kernel: `define` receives the operations and returns the
 * expressions of the outputs, in order. Every operation rounds to float32 exactly as tfjs's op of
 * the same name does on the cpu backend, so a kernel that mirrors a chain of tensor ops reproduces
 * it bit for bit. The kernel takes as many inputs and scalars as the highest index used, or as
 * `signature` says. Define kernels once and reuse them: compiling costs far more than a step.
 *
 * @example
 * ```ts
 * // m ← β·m + (1 − β)·g and p ← p − lr·m, in one pass.
 * const momentum = elementwise((e) => {
 *   const m = e.add(e.mul(e.input(1), e.scalar(0)), e.mul(e.input(2), e.scalar(1)));
 *   return [e.sub(e.input(0), e.mul(m, e.scalar(2))), m];
 * });
 * momentum.run(n, [param, m, grad], [beta, 1 - beta, lr], [out.param, out.slots.m]);
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
