/**
 * The optimkit state format: self-describing, versioned bytes.
 *
 * ```
 * offset  size  content
 * 0       4     magic "OPTK" (0x4F 0x50 0x54 0x4B)
 * 4       4     format version, uint32 little-endian
 * 8       4     header length H in bytes, uint32 little-endian
 * 12      H     header, UTF-8 JSON (see StateHeader)
 * 12+H    P     zero padding to the next multiple of 8
 * D       L     payload: the tensors, little-endian, at the offsets the header gives (relative to D)
 * D+L     4     CRC-32 (IEEE 802.3) of every byte before it, uint32 little-endian
 * ```
 */

/** The four bytes every optimkit state starts with. */
export const STATE_MAGIC = 'OPTK';
/** The newest state format version this package writes and reads. */
export const STATE_FORMAT_VERSION = 1;

const PREFIX_BYTES = 12;
const CHECKSUM_BYTES = 4;

/** One tensor stored in the payload. */
export interface TensorEntry {
  /** Shape of the tensor. */
  shape: number[];
  /** Element type; float32 or int32. */
  dtype: 'float32' | 'int32';
  /** Byte offset inside the payload. */
  offset: number;
  /** Number of bytes (4 × elements). */
  byteLength: number;
}

/** The saved state of one variable. */
export interface VariableEntry {
  /** The variable's name in `tf.engine().registeredVariables`. */
  name: string;
  /** The variable's shape. */
  shape: number[];
  /** Index of the param group it belongs to; -1 for the top-level options. */
  group: number;
  /** Number of updates this variable has received. */
  step: number;
  /** Its slots, by slot name. */
  slots: Record<string, TensorEntry>;
  /**
   * Set on state restored by `setWeights` (tfjs-layers) and saved before a step bound it to a
   * variable: `name` is the name it was saved under, and the next step binds it by name or else by
   * position, as after `setWeights`.
   */
  unbound?: true;
}

/** The JSON header of a saved state. */
export interface StateHeader {
  className: string;
  packageName: string;
  packageVersion: string;
  config: Record<string, unknown>;
  /** Completed optimizer steps, a float64 number. */
  iterations: number;
  /** Variable names of each param group, in group order. */
  paramGroups: { variables: string[] }[];
  variables: VariableEntry[];
  /** Named extra tensors kept by the base class (gradient accumulation, …). */
  extraTensors: Record<string, TensorEntry>;
  /** JSON state of the base class's transforms and controllers. */
  extra: Record<string, unknown>;
}

/** A decoded state: header and the payload bytes it indexes. */
export interface DecodedState {
  version: number;
  header: StateHeader;
  payload: Uint8Array;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Copies typed-array elements into `target` as little-endian bytes. */
export function writeLittleEndian(values: Float32Array | Int32Array, target: Uint8Array): void {
  if (littleEndianHost) {
    target.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return;
  }
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  const float = values instanceof Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (float) view.setFloat32(i * 4, values[i]!, true);
    else view.setInt32(i * 4, values[i]!, true);
  }
}

/** Reads little-endian bytes as a fresh typed array of `dtype`. */
export function readLittleEndian(bytes: Uint8Array, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  // A copy into a buffer of its own: `slice` of a Node Buffer would be a view into its pool.
  const copy = new Uint8Array(bytes);
  if (littleEndianHost) {
    return dtype === 'float32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
  }
  const view = new DataView(copy.buffer);
  const out = dtype === 'float32' ? new Float32Array(copy.length / 4) : new Int32Array(copy.length / 4);
  for (let i = 0; i < out.length; i++) {
    out[i] = dtype === 'float32' ? view.getFloat32(i * 4, true) : view.getInt32(i * 4, true);
  }
  return out;
}

/** Accumulates tensors into a payload and assigns their offsets. */
export class PayloadWriter {
  private readonly chunks: { values: Float32Array | Int32Array; offset: number }[] = [];
  private length = 0;

  add(values: Float32Array | Int32Array, shape: number[]): TensorEntry {
    const entry: TensorEntry = {
      shape: [...shape],
      dtype: values instanceof Float32Array ? 'float32' : 'int32',
      offset: this.length,
      byteLength: values.byteLength,
    };
    this.chunks.push({ values, offset: this.length });
    this.length += values.byteLength;
    return entry;
  }

  /** Encodes the header and the payload into the final bytes. */
  encode(header: StateHeader): Uint8Array {
    return encodeState(header, this.length, (payload) => {
      for (const { values, offset } of this.chunks) {
        writeLittleEndian(values, payload.subarray(offset, offset + values.byteLength));
      }
    });
  }
}

/**
 * Lays out magic, version, header, padding, a payload of `payloadLength` bytes filled by `fill`,
 * and the checksum.
 */
export function encodeState(
  header: unknown,
  payloadLength: number,
  fill: (payload: Uint8Array) => void,
  version = STATE_FORMAT_VERSION,
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(PREFIX_BYTES + json.length);
  const total = dataStart + payloadLength + CHECKSUM_BYTES;
  const bytes = new Uint8Array(total);
  bytes.set(new TextEncoder().encode(STATE_MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, version, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  fill(bytes.subarray(dataStart, dataStart + payloadLength));
  view.setUint32(total - CHECKSUM_BYTES, crc32(bytes.subarray(0, total - CHECKSUM_BYTES)), true);
  return bytes;
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** The error every malformed, corrupt or incompatible state raises. */
export class StateFormatError extends Error {
  override name = 'StateFormatError';
}

/**
 * Decodes and checks bytes produced by {@link PayloadWriter.encode}: magic, version, lengths,
 * checksum, header structure and every tensor's bounds. Throws {@link StateFormatError}.
 */
export function decodeState(input: Uint8Array | ArrayBuffer): DecodedState {
  const bytes = stateBytes(input);
  if (bytes.length < PREFIX_BYTES + CHECKSUM_BYTES) {
    throw new StateFormatError(`Optimizer state is truncated: ${bytes.length} bytes`);
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== STATE_MAGIC) {
    throw new StateFormatError('Not an optimkit optimizer state: the magic tag "OPTK" is missing');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version > STATE_FORMAT_VERSION) {
    throw new StateFormatError(
      `Optimizer state format version ${version} is newer than this @optimkit/core reads ` +
        `(up to ${STATE_FORMAT_VERSION}); upgrade @optimkit/core`,
    );
  }
  if (version < 1) throw new StateFormatError(`Invalid optimizer state format version: ${version}`);
  const headerLength = view.getUint32(8, true);
  const dataStart = align8(PREFIX_BYTES + headerLength);
  if (dataStart + CHECKSUM_BYTES > bytes.length) {
    throw new StateFormatError(
      `Optimizer state is truncated: the header needs ${dataStart + CHECKSUM_BYTES} bytes, got ${bytes.length}`,
    );
  }
  const stored = view.getUint32(bytes.length - CHECKSUM_BYTES, true);
  const actual = crc32(bytes.subarray(0, bytes.length - CHECKSUM_BYTES));
  if (stored !== actual) {
    throw new StateFormatError(
      'Optimizer state is corrupt or truncated: checksum mismatch ' +
        `(stored ${hex(stored)}, computed ${hex(actual)})`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)),
    );
  } catch (error) {
    throw new StateFormatError(`Optimizer state header is not valid JSON: ${(error as Error).message}`);
  }
  const payload = bytes.subarray(dataStart, bytes.length - CHECKSUM_BYTES);
  return { version, header: checkHeader(header, payload.length), payload };
}

/**
 * The bytes of a state as a plain `Uint8Array` over exactly them: a Node `Buffer` or any other view
 * is read at its `byteOffset` and `byteLength`, not from the start of the memory it shares.
 */
export function stateBytes(input: unknown): Uint8Array {
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const tag = Object.prototype.toString.call(input);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') {
    return new Uint8Array(input as ArrayBuffer);
  }
  throw new StateFormatError(
    `Optimizer state must be a Uint8Array, a Buffer or an ArrayBuffer, not ${describeValue(input)}`,
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return Object.prototype.toString.call(value).slice(8, -1);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function fail(what: string): never {
  throw new StateFormatError(`Optimizer state header is malformed: ${what}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    fail(`${where} has an invalid shape`);
  }
  return shape as number[];
}

function checkTensorEntry(entry: unknown, where: string, payloadLength: number): TensorEntry {
  if (!isRecord(entry)) fail(`${where} is not an object`);
  const shape = checkShape(entry.shape, where);
  if (entry.dtype !== 'float32' && entry.dtype !== 'int32') fail(`${where} has dtype ${String(entry.dtype)}`);
  const { offset, byteLength } = entry;
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(offset) || !Number.isInteger(byteLength) || (offset as number) < 0) {
    fail(`${where} has an invalid offset or length`);
  }
  if (byteLength !== size * 4) fail(`${where} has ${byteLength} bytes for ${size} elements`);
  if ((offset as number) % 4 !== 0 || (offset as number) + (byteLength as number) > payloadLength) {
    fail(`${where} lies outside the payload (${payloadLength} bytes)`);
  }
  return { shape, dtype: entry.dtype, offset: offset as number, byteLength: byteLength as number };
}

function checkHeader(h: unknown, payloadLength: number): StateHeader {
  if (!isRecord(h)) fail('not an object');
  for (const key of ['className', 'packageName', 'packageVersion'] as const) {
    if (typeof h[key] !== 'string') fail(`${key} is missing`);
  }
  if (!isRecord(h.config)) fail('config is missing');
  if (typeof h.iterations !== 'number' || !Number.isSafeInteger(h.iterations) || h.iterations < 0) {
    fail('iterations is not a non-negative integer');
  }
  if (!Array.isArray(h.paramGroups)) fail('paramGroups is missing');
  if (!Array.isArray(h.variables)) fail('variables is missing');
  const names = new Set<string>();
  const variables = h.variables.map((v: unknown, i): VariableEntry => {
    if (!isRecord(v) || typeof v.name !== 'string') fail(`variables[${i}] has no name`);
    if (names.has(v.name)) fail(`variable '${v.name}' appears twice`);
    names.add(v.name);
    if (v.name === '') fail(`variables[${i}] has an empty name`);
    if (
      !Number.isSafeInteger(v.step) ||
      (v.step as number) < 0 ||
      (v.step as number) > (h.iterations as number)
    )
      fail(`variable '${v.name}' has an invalid step (${String(v.step)} of ${h.iterations} iterations)`);
    if (!Number.isInteger(v.group) || (v.group as number) < -1)
      fail(`variable '${v.name}' has an invalid group`);
    if (!isRecord(v.slots)) fail(`variable '${v.name}' has no slots`);
    if (v.shape === null || v.shape === undefined) fail(`variable '${v.name}' has no shape`);
    if (v.unbound !== undefined && v.unbound !== true)
      fail(`variable '${v.name}' has an invalid unbound flag`);
    // No prototype: a slot named `__proto__` must stay a slot (and be refused as unknown).
    const slots: Record<string, TensorEntry> = Object.create(null);
    for (const [slot, entry] of Object.entries(v.slots)) {
      slots[slot] = checkTensorEntry(entry, `slot '${slot}' of '${v.name}'`, payloadLength);
    }
    return {
      name: v.name,
      shape: checkShape(v.shape, `variable '${v.name}'`),
      group: v.group as number,
      step: v.step as number,
      slots,
      ...(v.unbound === true ? { unbound: true as const } : {}),
    };
  });
  const extraTensors: Record<string, TensorEntry> = Object.create(null);
  if (!isRecord(h.extraTensors)) fail('extraTensors is missing');
  for (const [name, entry] of Object.entries(h.extraTensors)) {
    extraTensors[name] = checkTensorEntry(entry, `extra tensor '${name}'`, payloadLength);
  }
  if (!isRecord(h.extra)) fail('extra is missing');
  return {
    className: h.className as string,
    packageName: h.packageName as string,
    packageVersion: h.packageVersion as string,
    config: h.config,
    iterations: h.iterations,
    paramGroups: h.paramGroups as { variables: string[] }[],
    variables,
    extraTensors,
    extra: h.extra,
  };
}

/** The values of one stored tensor. */
export function readTensorEntry(payload: Uint8Array, entry: TensorEntry): Float32Array | Int32Array {
  return readLittleEndian(payload.subarray(entry.offset, entry.offset + entry.byteLength), entry.dtype);
}
