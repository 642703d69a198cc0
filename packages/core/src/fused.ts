import * as tf from '@tensorflow/tfjs-core';
import { registerWasmMemory } from './elementwise.js';
import { FUSED_RULE_BACKENDS } from './rule/backends.js';
import { type Room, roomOf, type SlotMemory } from './slot-memory.js';

/** The tfjs backends that run rules fused; the others run the composite tfjs ops. */
export const FUSED_BACKENDS: readonly string[] = Object.keys(FUSED_RULE_BACKENDS);

let enabled = true;

/**
 * Turns the fused kernels on (the default) or off for every optimkit optimizer in this process and
 * returns the previous setting. Off, every step runs the composite `update` of tfjs ops, as on
 * webgl and webgpu: the reference that the fused kernels equal within float32 rounding. It takes
 * effect on the next step; benchmarks use it to time both paths in one process.
 *
 * @example
 * ```ts
 * const previous = setFusedKernels(false); // composite tfjs ops
 * optimizer.applyGradients(grads);
 * setFusedKernels(previous);
 * ```
 */
export function setFusedKernels(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError('setFusedKernels takes a boolean');
  const previous = enabled;
  enabled = on;
  return previous;
}

/** Whether fused kernels are on (see {@link setFusedKernels}); they still need a cpu or wasm backend. */
export function fusedKernelsEnabled(): boolean {
  return enabled;
}

/** The tfjs kernel name a definition's fused update is registered and profiled under. */
export function fusedKernelName(className: string): string {
  return `OptimkitFused_${className}`;
}

/**
 * Whether a step on the active backend runs fused kernels: they are on, and the backend has them
 * and can run them now (on cpu and wasm the arithmetic is compiled to WebAssembly, which a
 * Content-Security-Policy may forbid).
 */
export function fusedKernelsActive(): boolean {
  return enabled && (FUSED_RULE_BACKENDS[tf.getBackend()]?.available() ?? false);
}

// The backends' internals, typed structurally: core has no runtime dependency on a backend package.
interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown }; has(dataId: object): boolean };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

interface WasmBackendLike {
  wasm?: {
    asm?: { memory?: unknown };
    HEAPU8?: Uint8Array;
    tfjs?: {
      disposeData?: (id: number) => void;
      registerTensor?: (id: number, size: number, offset: number) => void;
    };
  };
  dataIdMap: { get(dataId: tf.DataId): unknown };
  dataIdNextNumber?: number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): unknown;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** The arrays one fused run reads and writes (see {@link FusedRun.execute}). */
export interface FusedArrays {
  readonly param: Float32Array;
  readonly grad: Float32Array;
  /** The slots the kernel reads. Read only: tfjs shares buffers between tensors. */
  readonly slots: Readonly<Record<string, Float32Array>>;
  /**
   * Arrays for the new param and every written slot; write every element. An output may be its own
   * input array (updated in place, when no other tensor shares its buffer), so read each element
   * before writing it.
   */
  readonly out: { readonly param: Float32Array; readonly slots: Readonly<Record<string, Float32Array>> };
  /** Scratch of the run's `workspace` length, 8-byte aligned, in the same memory as the others. */
  readonly workspace: Float32Array;
}

/** One variable's part of a fused kernel call, with the tensors it reads and writes. */
interface EntryAttrs {
  param: tf.TensorInfo;
  grad: tf.TensorInfo;
  /** The slots read, in `reads` order. */
  slots: readonly tf.TensorInfo[];
  /** The param, then the written slots in `writes` order. */
  targets: readonly tf.TensorInfo[];
  execute: (arrays: FusedArrays) => void;
  reads: readonly string[];
  writes: readonly { name: string; shape: readonly number[] }[];
  workspace: number;
  /** Per output (param, then writes): written into its input's own buffer instead of a fresh one. */
  inPlace: readonly boolean[];
}

interface FusedAttrs {
  /** The variables of this call, updated one after the other. */
  entries: readonly EntryAttrs[];
  /** How many variables the call updates (read by tests that count fused updates). */
  count: number;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

// The tensors travel in the attributes, not as named kernel inputs: a call may update hundreds of
// variables, and an inputs map of thousands of keys costs more than the updates of small ones.
function unpack({ attrs }: KernelArgs) {
  return (attrs as unknown as FusedAttrs).entries.map((entry) => ({
    entry,
    param: entry.param,
    grad: entry.grad,
    slots: entry.slots,
    targets: entry.targets,
  }));
}

function float32(values: unknown): Float32Array {
  if (!(values instanceof Float32Array)) throw new TypeError('Fused update: a tensor is not float32 data');
  return values;
}

function arrays(
  a: EntryAttrs,
  param: Float32Array,
  grad: Float32Array,
  slots: Float32Array[],
  outParam: Float32Array,
  outSlots: Float32Array[],
  workspace: Float32Array,
): FusedArrays {
  const slotArrays: Record<string, Float32Array> = {};
  for (let i = 0; i < a.reads.length; i++) slotArrays[a.reads[i]!] = slots[i]!;
  const outArrays: Record<string, Float32Array> = {};
  for (let i = 0; i < a.writes.length; i++) outArrays[a.writes[i]!.name] = outSlots[i]!;
  return { param, grad, slots: slotArrays, out: { param: outParam, slots: outArrays }, workspace };
}

// cpu: inputs are read straight from the backend's typed arrays; outputs are their own arrays
// (in place) or fresh ones that become tensors once every update has succeeded.
function cpuKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as CpuBackendLike;
  const read = (info: tf.TensorInfo) => float32(backend.data.get(info.dataId).values);
  const made: [readonly number[], Float32Array][] = [];
  const entries = unpack(args);
  // One scratch for the whole call: the updates run one after the other.
  const workspace = new Float32Array(Math.max(0, ...entries.map(({ entry }) => entry.workspace)));
  for (const { entry, param, grad, slots, targets } of entries) {
    moveIntoSlotMemory(backend, entry);
    const outputs = targets.map((info, i) => {
      if (entry.inPlace[i]) return read(info);
      const values = new Float32Array(tf.util.sizeFromShape(info.shape));
      made.push([info.shape, values]);
      return values;
    });
    const [outParam, ...outSlots] = outputs;
    entry.execute(
      arrays(
        entry,
        read(param),
        read(grad),
        slots.map(read),
        outParam!,
        outSlots,
        workspace.subarray(0, entry.workspace),
      ),
    );
  }
  return made.map(([shape, values]) => backend.makeTensorInfo([...shape], 'float32', values));
}

/**
 * Moves the written slots and the variable of an update in place into their rooms in a slot memory
 * (see slot-memory.ts), same values, so that the kernels read and write them there: the variable
 * on its first in-place update, a slot given new data by a step that could not write in place.
 * Only into room no other tensor data holds: a tensor that shared the earlier data keeps it.
 */
function moveIntoSlotMemory(backend: CpuBackendLike, entry: EntryAttrs): void {
  const { targets, inPlace } = entry;
  let memory: SlotMemory | undefined;
  for (let i = 1; i < targets.length; i++) {
    const room = roomOf(targets[i]!);
    if (!room) continue;
    memory ??= room.memory;
    if (inPlace[i]) moveInto(backend, targets[i]!, room);
  }
  if (memory && inPlace[0]) moveInto(backend, targets[0]!, memory.param);
}

function moveInto(backend: CpuBackendLike, info: tf.TensorInfo, room: Room): void {
  const data = backend.data.get(info.dataId);
  const values = data.values;
  if (values === room.view || !(values instanceof Float32Array) || values.length !== room.view.length) return;
  if (room.owner !== null && room.owner !== info.dataId && backend.data.has(room.owner)) return;
  room.view.set(values);
  data.values = room.view;
  room.owner = info.dataId;
}

// wasm: the updates read and write the module's heap in place (elementwise kernels run there
// directly), and the workspace is heap memory too. Every input is made resident and every output
// allocated before any view is taken, since an allocation may grow (and detach) the heap.
function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const memory = backend.wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) registerWasmMemory(memory);
  const entries = unpack(args);
  let workspaceLength = 0;
  for (const { entry, param, grad, slots, targets } of entries) {
    backend.dataIdMap.get(param.dataId);
    backend.dataIdMap.get(grad.dataId);
    for (const info of slots) backend.dataIdMap.get(info.dataId);
    for (const info of targets) backend.dataIdMap.get(info.dataId);
    if (entry.workspace > workspaceLength) workspaceLength = entry.workspace;
  }
  // Per entry, its targets' fresh outputs (null where updated in place); `made` lists them in order.
  const made: tf.TensorInfo[] = [];
  const fresh = entries.map(({ entry, targets }) =>
    targets.map((info, i) => {
      if (entry.inPlace[i]) return null;
      const out = backend.makeOutput([...info.shape], 'float32');
      made.push(out);
      return out;
    }),
  );
  // One element more than asked, to start the workspace on an 8-byte boundary (for float64 views).
  const scratch = workspaceLength > 0 ? backend.makeOutput([workspaceLength + 1], 'float32') : null;
  try {
    const heap = backend.wasm?.HEAPU8?.buffer;
    // The backend's typedArrayFromHeap, without its lookups (the heap is the same for every view).
    const view = heap
      ? (info: tf.TensorInfo) => {
          if (info.dtype !== 'float32') throw new TypeError('Fused update: a tensor is not float32 data');
          const { memoryOffset } = backend.dataIdMap.get(info.dataId) as { memoryOffset: number };
          return new Float32Array(heap, memoryOffset, tf.util.sizeFromShape(info.shape));
        }
      : (info: tf.TensorInfo) => float32(backend.typedArrayFromHeap(info));
    let heapWorkspace: Float32Array = new Float32Array(0);
    if (scratch) {
      const heap = view(scratch);
      heapWorkspace = heap.subarray(heap.byteOffset % 8 === 0 ? 0 : 1).subarray(0, workspaceLength);
    }
    entries.forEach(({ entry, param, grad, slots, targets }, e) => {
      const [outParam, ...outSlots] = targets.map((info, i) => view(fresh[e]![i] ?? info));
      entry.execute(
        arrays(
          entry,
          view(param),
          view(grad),
          slots.map(view),
          outParam!,
          outSlots,
          heapWorkspace.subarray(0, entry.workspace),
        ),
      );
      targets.forEach((info, i) => {
        if (entry.inPlace[i]) rekey(backend, info);
      });
    });
  } catch (error) {
    for (const info of made) backend.disposeData(info.dataId, true);
    throw error;
  } finally {
    if (scratch) backend.disposeData(scratch.dataId, true);
  }
  return made;
}

/**
 * Whether {@link rekey} can run: the wasm backend's C++ side keys tensors by an id whose cached
 * operators (XNNPACK matrix products keep packed weights) are dropped when the id is disposed.
 */
export function canRekeyWasm(backend: unknown): boolean {
  const b = backend as WasmBackendLike;
  return (
    typeof b.wasm?.tfjs?.disposeData === 'function' &&
    typeof b.wasm.tfjs.registerTensor === 'function' &&
    typeof b.dataIdNextNumber === 'number'
  );
}

// A tensor changed in place gets a new id on the C++ side, so that nothing cached for the old
// values (packed weights of a matrix product) is used again; its memory stays where it is.
function rekey(backend: WasmBackendLike, info: tf.TensorInfo): void {
  const data = backend.dataIdMap.get(info.dataId) as { id: number; memoryOffset: number };
  const tfjs = backend.wasm!.tfjs!;
  tfjs.disposeData!(data.id);
  const id = backend.dataIdNextNumber!;
  backend.dataIdNextNumber = id + 1;
  tfjs.registerTensor!(id, tf.util.sizeFromShape(info.shape), data.memoryOffset);
  data.id = id;
}

const KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo[]> = {
  cpu: cpuKernel,
  wasm: wasmKernel,
};

const registered = new Set<string>();

function ensureKernel(kernelName: string, backendName: string): void {
  const key = `${backendName}/${kernelName}`;
  if (registered.has(key)) return;
  registered.add(key);
  if (tf.getKernel(kernelName, backendName) !== undefined) return;
  const kernelFunc = KERNELS[backendName];
  if (!kernelFunc) throw new Error(`optimkit has no fused kernel for the ${backendName} backend`);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

/** What {@link runFusedUpdate} needs: tensors owned by the caller and the arithmetic to run. */
export interface FusedRun {
  /** The tfjs kernel name it runs under (see {@link fusedKernelName}). */
  kernelName: string;
  param: tf.Tensor;
  grad: tf.Tensor;
  /** The slots the update reads. */
  reads: Readonly<Record<string, tf.Tensor>>;
  /** The slots it writes (their current tensors, of the shapes written). */
  writes: Readonly<Record<string, tf.Tensor>>;
  /** Float32 elements of scratch the update gets as `workspace`. */
  workspace: number;
  /** The arithmetic: reads the inputs, writes every element of every output. */
  execute: (arrays: FusedArrays) => void;
  /**
   * Update the written slots (`'slots'`), or the param too (`'all'`), in their own buffers where no
   * other tensor shares them (a variable's data is not shared once the tensors it was assigned
   * from are disposed). Default: neither.
   */
  inPlace?: 'all' | 'slots' | false;
}

/**
 * Runs the fused updates of several variables as a single tfjs kernel on the active backend
 * (registering it on first use), one variable after the other. Returns, per run, the new param
 * and written slots as tensors tracked by the engine, except those updated in place: the param is
 * then `run.param` itself and the slot is left out. All runs must share one kernel name.
 */
export function runFusedBatch(
  runs: readonly FusedRun[],
): { param: tf.Tensor; slots: Record<string, tf.Tensor> }[] {
  if (runs.length === 0) return [];
  const kernelName = runs[0]!.kernelName;
  ensureKernel(kernelName, tf.getBackend());
  const backend = tf.backend();
  const entries = runs.map((run): EntryAttrs => {
    if (run.kernelName !== kernelName) throw new Error('runFusedBatch: every run must share one kernel');
    const reads = Object.keys(run.reads);
    const writes = Object.keys(run.writes);
    const targets = [run.param, ...writes.map((name) => run.writes[name]!)];
    const slots = reads.map((name) => run.reads[name]!);
    // Written in place only when no other tensor, and no other input of this run, shares the buffer.
    const shared = (t: tf.Tensor) =>
      (run.grad !== t && run.grad.dataId === t.dataId) ||
      targets.some((o) => o !== t && o.dataId === t.dataId) ||
      slots.some((o) => o !== t && o.dataId === t.dataId);
    const inPlace = targets.map(
      (t, i) =>
        (run.inPlace === 'all' || (run.inPlace === 'slots' && i > 0)) &&
        backend.refCount(t.dataId) === 1 &&
        !shared(t),
    );
    return {
      param: run.param,
      grad: run.grad,
      slots,
      targets,
      execute: run.execute,
      reads,
      writes: writes.map((name) => ({ name, shape: run.writes[name]!.shape })),
      workspace: run.workspace,
      inPlace,
    };
  });
  const attrs: FusedAttrs = { entries, count: runs.length };
  const outputs = tf.engine().runKernel<tf.Tensor[]>(kernelName, {}, attrs as unknown as tf.NamedAttrMap);
  const fresh = (Array.isArray(outputs) ? outputs : [outputs]).values();
  return runs.map((run, e) => {
    const { inPlace, writes } = entries[e]!;
    const param = inPlace[0] ? run.param : fresh.next().value!;
    const slots: Record<string, tf.Tensor> = {};
    writes.forEach(({ name }, i) => {
      if (!inPlace[i + 1]) slots[name] = fresh.next().value!;
    });
    return { param, slots };
  });
}

/** {@link runFusedBatch} of one variable. */
export function runFusedUpdate(run: FusedRun): { param: tf.Tensor; slots: Record<string, tf.Tensor> } {
  return runFusedBatch([run])[0]!;
}
