import * as tf from '@tensorflow/tfjs-core';
import { registerWasmMemory } from './elementwise.js';
import { FUSED_RULE_BACKENDS } from './rule/backends.js';

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
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: tf.DataId): unknown };
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

interface FusedAttrs {
  execute: (arrays: FusedArrays) => void;
  reads: readonly string[];
  writes: readonly { name: string; shape: readonly number[] }[];
  workspace: number;
  /** Per output (param, then writes): written into its input's own buffer instead of a fresh one. */
  inPlace: readonly boolean[];
}

const slotKey = (name: string) => `slot:${name}`;

type KernelArgs = Parameters<tf.KernelFunc>[0];

function unpack({ inputs, attrs }: KernelArgs) {
  const a = attrs as unknown as FusedAttrs;
  const param = inputs.param!;
  const grad = inputs.grad!;
  const slots = a.reads.map((name) => inputs[slotKey(name)]!);
  const targets = [param, ...a.writes.map((w) => inputs[slotKey(w.name)]!)];
  return { a, param, grad, slots, targets };
}

function float32(values: unknown, what: string): Float32Array {
  if (!(values instanceof Float32Array)) throw new TypeError(`Fused update: ${what} is not float32 data`);
  return values;
}

function arrays(
  a: FusedAttrs,
  param: Float32Array,
  grad: Float32Array,
  slots: Float32Array[],
  outParam: Float32Array,
  outSlots: Float32Array[],
  workspace: Float32Array,
): FusedArrays {
  return {
    param,
    grad,
    slots: Object.fromEntries(a.reads.map((name, i) => [name, slots[i]!])),
    out: { param: outParam, slots: Object.fromEntries(a.writes.map((w, i) => [w.name, outSlots[i]!])) },
    workspace,
  };
}

// cpu: inputs are read straight from the backend's typed arrays and outputs are fresh arrays that
// become tensors only once the update has succeeded.
function cpuKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as CpuBackendLike;
  const { a, param, grad, slots, targets } = unpack(args);
  const read = (info: tf.TensorInfo, what: string) => float32(backend.data.get(info.dataId).values, what);
  const outputs = targets.map((info, i) =>
    a.inPlace[i] ? read(info, 'an output') : new Float32Array(tf.util.sizeFromShape(info.shape)),
  );
  const [outParam, ...outSlots] = outputs;
  a.execute(
    arrays(
      a,
      read(param, 'the variable'),
      read(grad, 'the gradient'),
      slots.map((s, i) => read(s, `slot '${a.reads[i]}'`)),
      outParam!,
      outSlots,
      new Float32Array(a.workspace),
    ),
  );
  return targets
    .map((info, i) => (a.inPlace[i] ? null : backend.makeTensorInfo([...info.shape], 'float32', outputs[i]!)))
    .filter((info): info is tf.TensorInfo => info !== null);
}

// wasm: the update reads and writes the module's heap in place (elementwise kernels run there
// directly), and its workspace is heap memory too. Every input is made resident and every output
// allocated before any view is taken, since an allocation may grow (and detach) the heap.
function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const memory = backend.wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) registerWasmMemory(memory);
  const { a, param, grad, slots, targets } = unpack(args);
  for (const info of [param, grad, ...slots, ...targets]) backend.dataIdMap.get(info.dataId);
  const fresh = targets
    .filter((_, i) => !a.inPlace[i])
    .map((info) => backend.makeOutput([...info.shape], 'float32'));
  // One element more than asked, to start the workspace on an 8-byte boundary (for float64 views).
  const scratch = a.workspace > 0 ? backend.makeOutput([a.workspace + 1], 'float32') : null;
  try {
    const view = (info: tf.TensorInfo, what: string) => float32(backend.typedArrayFromHeap(info), what);
    let next = 0;
    const [outParam, ...outSlots] = targets.map((info, i) =>
      view(a.inPlace[i] ? info : fresh[next++]!, 'an output'),
    );
    let workspace: Float32Array = new Float32Array(0);
    if (scratch) {
      const heap = view(scratch, 'the workspace');
      workspace = heap.subarray(heap.byteOffset % 8 === 0 ? 0 : 1).subarray(0, a.workspace);
    }
    a.execute(
      arrays(
        a,
        view(param, 'the variable'),
        view(grad, 'the gradient'),
        slots.map((s, i) => view(s, `slot '${a.reads[i]}'`)),
        outParam!,
        outSlots,
        workspace,
      ),
    );
  } catch (error) {
    for (const info of fresh) backend.disposeData(info.dataId, true);
    throw error;
  } finally {
    if (scratch) backend.disposeData(scratch.dataId, true);
  }
  return fresh;
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
   * Update the param and the written slots in their own buffers where no other tensor shares
   * them (a variable's data is not shared once the tensors it was assigned from are disposed).
   */
  inPlace?: boolean;
}

/**
 * Runs one variable's fused update as a single tfjs kernel on the active backend (registering it
 * on first use). Returns the new param and written slots as tensors tracked by the engine, except
 * those updated in place: the param is then `run.param` itself and the slot is left out.
 */
export function runFusedUpdate(run: FusedRun): { param: tf.Tensor; slots: Record<string, tf.Tensor> } {
  ensureKernel(run.kernelName, tf.getBackend());
  const reads = Object.keys(run.reads);
  const writes = Object.keys(run.writes);
  const inputs: tf.NamedTensorMap = { param: run.param, grad: run.grad };
  for (const name of reads) inputs[slotKey(name)] = run.reads[name]!;
  for (const name of writes) inputs[slotKey(name)] = run.writes[name]!;
  const targets = [run.param, ...writes.map((name) => run.writes[name]!)];
  const backend = tf.backend();
  // Written in place only when no other tensor, and no other input of this run, shares the buffer.
  const others = [run.grad, ...targets, ...Object.values(run.reads)];
  const inPlace = targets.map(
    (t) =>
      run.inPlace === true &&
      backend.refCount(t.dataId) === 1 &&
      others.every((o) => o === t || o.dataId !== t.dataId),
  );
  const attrs: FusedAttrs = {
    execute: run.execute,
    reads,
    writes: writes.map((name) => ({ name, shape: run.writes[name]!.shape })),
    workspace: run.workspace,
    inPlace,
  };
  const outputs = tf
    .engine()
    .runKernel<tf.Tensor[]>(run.kernelName, inputs, attrs as unknown as tf.NamedAttrMap);
  const fresh = (Array.isArray(outputs) ? outputs : [outputs]).values();
  const param = inPlace[0] ? run.param : fresh.next().value!;
  const slots: Record<string, tf.Tensor> = {};
  writes.forEach((name, i) => {
    if (!inPlace[i + 1]) slots[name] = fresh.next().value!;
  });
  return { param, slots };
}
