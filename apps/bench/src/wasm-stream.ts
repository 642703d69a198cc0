// A streaming pass over Float32Arrays in WebAssembly SIMD, written here byte by byte so that the
// bandwidth reference depends on nothing it is compared with: for a parameter with `k` slots of its
// size it reads p, g and the slots and writes p and the slots, 16 bytes at a time, with the least
// arithmetic that keeps every load and store:
//   x_j = 0.9·s_j + 0.1·g;  s_j ← x_j;  p ← p − 0.001·(Σ x_j  or g when k = 0)

const Op = {
  Block: 0x02,
  Loop: 0x03,
  End: 0x0b,
  Br: 0x0c,
  BrIf: 0x0d,
  LocalGet: 0x20,
  LocalSet: 0x21,
  LocalTee: 0x22,
  I32Const: 0x41,
  I32GeU: 0x4f,
  I32Add: 0x6a,
  Simd: 0xfd,
} as const;

const I32 = 0x7f;
const V128 = 0x7b;
const VOID_BLOCK = 0x40;

function uleb(value: number): number[] {
  const bytes: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0);
  return bytes;
}

function sleb(value: number): number[] {
  const bytes: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

const simd = (opcode: number) => [Op.Simd, ...uleb(opcode)];
const v128Load = [...simd(0), 4, 0]; // align 2^4, offset 0
const v128Store = [...simd(11), 4, 0];
const f32x4Add = simd(228);
const f32x4Sub = simd(229);
const f32x4Mul = simd(230);

function f32x4Const(value: number): number[] {
  const bytes = new Uint8Array(new Float32Array([value, value, value, value]).buffer);
  return [...simd(12), ...bytes];
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const name = (text: string) => vec([...new TextEncoder().encode(text)].map((b) => [b]));

/** The body of `stream<k>(p, g, s1 … sk, byteLength)`: array byte offsets into the imported memory. */
function streamBody(k: number): number[] {
  const p = 0;
  const g = 1;
  const slot = (j: number) => 2 + j;
  const end = k + 2;
  const i = k + 3;
  const address = k + 4;
  const [decay, gain, rate, grad, sum, x] = [k + 5, k + 6, k + 7, k + 8, k + 9, k + 10];
  const get = (local: number) => [Op.LocalGet, ...uleb(local)];
  const set = (local: number) => [Op.LocalSet, ...uleb(local)];
  const tee = (local: number) => [Op.LocalTee, ...uleb(local)];
  const code: number[] = [
    ...f32x4Const(0.9),
    ...set(decay),
    ...f32x4Const(0.1),
    ...set(gain),
    ...f32x4Const(1e-3),
    ...set(rate),
    Op.Block,
    VOID_BLOCK,
    Op.Loop,
    VOID_BLOCK,
    ...get(i),
    ...get(end),
    Op.I32GeU,
    Op.BrIf,
    1,
    ...get(g),
    ...get(i),
    Op.I32Add,
    ...v128Load,
    ...set(grad),
    ...f32x4Const(0),
    ...set(sum),
  ];
  for (let j = 0; j < k; j += 1) {
    code.push(
      ...get(slot(j)),
      ...get(i),
      Op.I32Add,
      ...tee(address),
      ...get(address),
      ...v128Load,
      ...get(decay),
      ...f32x4Mul,
      ...get(grad),
      ...get(gain),
      ...f32x4Mul,
      ...f32x4Add,
      ...tee(x),
      ...v128Store,
      ...get(sum),
      ...get(x),
      ...f32x4Add,
      ...set(sum),
    );
  }
  code.push(
    ...get(p),
    ...get(i),
    Op.I32Add,
    ...tee(address),
    ...get(address),
    ...v128Load,
    ...get(k === 0 ? grad : sum),
    ...get(rate),
    ...f32x4Mul,
    ...f32x4Sub,
    ...v128Store,
    ...get(i),
    Op.I32Const,
    ...sleb(16),
    Op.I32Add,
    ...set(i),
    Op.Br,
    0,
    Op.End,
    Op.End,
    Op.End,
  );
  const locals = vec([
    [...uleb(2), I32],
    [...uleb(6), V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** Most full-size slots streamed with their parameter (AMSGrad, the most in optimkit, has three). */
export const MAX_STREAMED_SLOTS = 4;

let module: WebAssembly.Module | null = null;

function streamModule(): WebAssembly.Module {
  if (module) return module;
  const kinds = Array.from({ length: MAX_STREAMED_SLOTS + 1 }, (_, k) => k);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(kinds.map((k) => [0x60, ...vec(Array.from({ length: k + 3 }, () => [I32])), 0]))),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vec(kinds.map((k) => uleb(k)))),
    ...section(7, vec(kinds.map((k) => [...name(`stream${k}`), 0x00, ...uleb(k)]))),
    ...section(10, vec(kinds.map((k) => streamBody(k)))),
  ];
  module = new WebAssembly.Module(new Uint8Array(bytes));
  return module;
}

type StreamFunction = (...offsets: number[]) => void;

/** Float32Arrays in one WebAssembly memory, and the passes that stream them. */
export interface StreamArena {
  /** A 16-byte-aligned Float32Array of `length` elements in the arena (its byte length padded to 16). */
  allocate(length: number): Float32Array;
  /** Streams `param`, `grad` and `slots` (all of one length, all from this arena) once. */
  stream(param: Float32Array, grad: Float32Array, slots: readonly Float32Array[]): void;
}

/** An arena of `bytes` bytes (plus 16-byte padding per array, `arrays` at most). */
export function streamArena(bytes: number, arrays: number): StreamArena {
  const size = bytes + 16 * (arrays + 1);
  const memory = new WebAssembly.Memory({ initial: Math.ceil(size / 65536) });
  const exports = new WebAssembly.Instance(streamModule(), { env: { memory } }).exports;
  const functions = Array.from(
    { length: MAX_STREAMED_SLOTS + 1 },
    (_, k) => exports[`stream${k}`] as StreamFunction,
  );
  let next = 0;
  return {
    allocate(length) {
      const byteLength = Math.ceil((4 * length) / 16) * 16;
      if (next + byteLength > memory.buffer.byteLength) throw new Error('stream arena is full');
      const array = new Float32Array(memory.buffer, next, length);
      next += byteLength;
      return array;
    },
    stream(param, grad, slots) {
      const stream = functions[slots.length];
      if (!stream) throw new Error(`the stream reference handles at most ${MAX_STREAMED_SLOTS} slots`);
      const end = Math.ceil((4 * param.length) / 16) * 16;
      stream(param.byteOffset, grad.byteOffset, ...slots.map((s) => s.byteOffset), end);
    },
  };
}
