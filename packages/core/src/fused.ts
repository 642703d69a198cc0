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
  /** Fresh arrays for the new param and every written slot; write every element. */
  readonly out: { readonly param: Float32Array; readonly slots: Readonly<Record<string, Float32Array>> };
  /** Scratch of the run's `workspace` length, 8-byte aligned, in the same memory as the others. */
  readonly workspace: Float32Array;
}

interface FusedAttrs {
  execute: (arrays: FusedArrays) => void;
  reads: readonly string[];
  writes: readonly { name: string; shape: readonly number[] }[];
  workspace: number;
}

const slotKey = (name: string) => `slot:${name}`;

type KernelArgs = Parameters<tf.KernelFunc>[0];

function unpack({ inputs, attrs }: KernelArgs) {
  const a = attrs as unknown as FusedAttrs;
  const param = inputs.param!;
  const grad = inputs.grad!;
  const slots = a.reads.map((name) => inputs[slotKey(name)]!);
  return { a, param, grad, slots };
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
  const { a, param, grad, slots } = unpack(args);
  const read = (info: tf.TensorInfo, what: string) => float32(backend.data.get(info.dataId).values, what);
  const outParam = new Float32Array(tf.util.sizeFromShape(param.shape));
  const outSlots = a.writes.map((w) => new Float32Array(tf.util.sizeFromShape([...w.shape])));
  a.execute(
    arrays(
      a,
      read(param, 'the variable'),
      read(grad, 'the gradient'),
      slots.map((s, i) => read(s, `slot '${a.reads[i]}'`)),
      outParam,
      outSlots,
      new Float32Array(a.workspace),
    ),
  );
  return [
    backend.makeTensorInfo([...param.shape], 'float32', outParam),
    ...a.writes.map((w, i) => backend.makeTensorInfo([...w.shape], 'float32', outSlots[i]!)),
  ];
}

// wasm: the update reads and writes the module's heap in place (elementwise kernels run there
// directly), and its workspace is heap memory too. Every input is made resident and every output
// allocated before any view is taken, since an allocation may grow (and detach) the heap.
function wasmKernel(args: KernelArgs): tf.TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const memory = backend.wasm?.asm?.memory;
  if (memory instanceof WebAssembly.Memory) registerWasmMemory(memory);
  const { a, param, grad, slots } = unpack(args);
  const inputs = [param, grad, ...slots];
  for (const info of inputs) backend.dataIdMap.get(info.dataId);
  const outputs = [param.shape, ...a.writes.map((w) => w.shape)].map((shape) =>
    backend.makeOutput([...shape], 'float32'),
  );
  // One element more than asked, to start the workspace on an 8-byte boundary (for float64 views).
  const scratch = a.workspace > 0 ? backend.makeOutput([a.workspace + 1], 'float32') : null;
  try {
    const view = (info: tf.TensorInfo, what: string) => float32(backend.typedArrayFromHeap(info), what);
    const [outParam, ...outSlots] = outputs.map((info) => view(info, 'an output'));
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
    for (const info of outputs) backend.disposeData(info.dataId, true);
    throw error;
  } finally {
    if (scratch) backend.disposeData(scratch.dataId, true);
  }
  return outputs;
}

const KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo[]> = {
  cpu: cpuKernel,
  wasm: wasmKernel,
};

function ensureKernel(kernelName: string, backendName: string): void {
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
  /** The slots it writes, with their shapes. */
  writes: readonly { name: string; shape: readonly number[] }[];
  /** Float32 elements of scratch the update gets as `workspace`. */
  workspace: number;
  /** The arithmetic: reads the inputs, writes every element of every output. */
  execute: (arrays: FusedArrays) => void;
}

/**
 * Runs one variable's fused update as a single tfjs kernel on the active backend (registering it
 * on first use) and returns the new variable value and written slots as tensors tracked by the engine.
 */
export function runFusedUpdate(run: FusedRun): { param: tf.Tensor; slots: Record<string, tf.Tensor> } {
  ensureKernel(run.kernelName, tf.getBackend());
  const reads = Object.keys(run.reads);
  const inputs: tf.NamedTensorMap = { param: run.param, grad: run.grad };
  for (const name of reads) inputs[slotKey(name)] = run.reads[name]!;
  const attrs: FusedAttrs = { execute: run.execute, reads, writes: run.writes, workspace: run.workspace };
  const [param, ...slots] = tf
    .engine()
    .runKernel<tf.Tensor[]>(run.kernelName, inputs, attrs as unknown as tf.NamedAttrMap);
  return { param: param!, slots: Object.fromEntries(run.writes.map((w, i) => [w.name, slots[i]!])) };
}
