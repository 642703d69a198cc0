/** What the 8-bit state page (`quantized-page.ts`) and its Node test exchange (plain JSON). */
import type { GpuBackend } from './protocol.js';

export type MapKind = 'signed' | 'unsigned';

/** The kernel cases: every size with both maps, from one seed, on cpu and on `backend`. */
export interface KernelRequest {
  backend: GpuBackend;
  seed: number;
  sizes: number[];
  /** One more case (signed map) of this many values, if not 0. */
  large: number;
  /** The number of values whose (de)quantisation is timed on both backends. */
  timedSize: number;
}

export interface KernelCaseResult {
  size: number;
  map: MapKind;
  blocks: number;
  /** The GPU backend's codes: int32 elements, and codes per element (3 on webgl, 4 on webgpu). */
  words: number;
  codesPerWord: number;
  /** Blocks whose absmax is NaN, 0, and spans of the nonzero ones. */
  nanBlocks: number;
  zeroBlocks: number;
  smallestAbsmax: number;
  largestAbsmax: number;
  /** Absmax elements whose bits differ between the GPU backend and cpu (two NaNs count as equal). */
  absmaxMismatches: string[];
  /** Values whose code on the GPU backend differs from cpu's. */
  codeMismatches: number;
  /** Of those, where cpu's quotient is within 4 ulp of a midpoint and the codes differ by one. */
  nearMidpointFlips: number;
  /** The others (must be none), as sentences. */
  badCodes: string[];
  /** Values within 4 ulp of a midpoint (where a flip is allowed). */
  nearMidpointValues: number;
  /** Padding codes (beyond `size`, to the end of the last word) that are not the code of 0, on the GPU backend. */
  badPadding: number;
  /** Words of three codes outside [0, 2^24) (what WebGL's float32 texels hold exactly); none with four. */
  badWords: number;
  /** Dequantised values (cpu's codes) whose bits differ between the GPU backend and cpu. */
  dequantizeMismatches: string[];
}

export interface KernelTimes {
  quantizeMs: number;
  dequantizeMs: number;
}

export interface KernelResult {
  backend: GpuBackend;
  cases: KernelCaseResult[];
  /** Median ms per call (a read of one element included). */
  times: { size: number; cpu: KernelTimes; gpu: KernelTimes };
}

export interface MemoryRequest {
  backend: GpuBackend;
  size: number;
  repeats: number;
}

/** Per repeated call of quantise then dequantise: numTensors while its outputs are held, and after they are disposed. */
export interface MemoryResult {
  baseline: number;
  held: number[];
  afterDispose: number[];
}

/** The messages of refused calls of the WebGPU kernels (bad inputs), and whether numTensors stayed the same. */
export interface RefusalResult {
  errors: string[];
  changedNothing: boolean;
}

export interface OptimizerRequest {
  backend: GpuBackend;
  optimizer: 'adamw' | 'lion';
  seed: number;
  steps: number;
  /** `setFusedKernels(…)` for the run (the 8-bit kernels run on the GPU backend either way). */
  fusedKernels: boolean;
}

export interface Discrepancy {
  /** The worst |got − want| / allowed (≤ 1 passes). */
  worst: number;
  compared: number;
  /** The first elements beyond the allowance, as sentences. */
  failures: string[];
}

export interface TensorCounts {
  baseline: number;
  steps: number[];
  afterDispose: number;
}

export interface OptimizerResult {
  label: string;
  /** Parameters against `1e-6 + 1e-4·|cpu|`, after every step of the two 20-step trajectories. */
  trajectoryParams: Discrepancy;
  /** Dequantised moments against one code step (at cpu's absmax) plus `1e-6 + 1e-4·|cpu|`. */
  trajectoryMoments: Discrepancy;
  /** Codes that differ between the trajectories, per step (quantised slots together). */
  trajectoryCodeFlips: number[];
  /** Each step taken on the GPU backend from cpu's state before it (loaded from cpu's `saveState()`). */
  stepwiseParams: Discrepancy;
  stepwiseMoments: Discrepancy;
  stepwiseCodeFlips: number;
  /** The GPU backend's final `saveState()` loaded on cpu: saved again there, the same bytes. */
  stateBytesEqual: boolean;
  stateBytes: number;
  /** The codes lengths of that saved state as loaded on cpu, before any step there (quantised slots in order). */
  savedCodes: number[];
  /** Then one more step on cpu from it against the same step on the GPU backend. */
  nextStep: Discrepancy;
  /** Slot names per variable, on the GPU backend (quantised variables keep `…Codes` and `…Absmax`). */
  slotNames: string[][];
  tensors: Record<'cpu' | 'gpu', TensorCounts>;
  /** Per step, per backend: how many times `OptimkitQuantize8bit` and `OptimkitDequantize8bit` ran. */
  kernels: Record<'cpu' | 'gpu', Record<string, number>[]>;
  /** The active backend during the steps, per side. */
  backends: Record<'cpu' | 'gpu', string[]>;
}

/** 8-bit state between webgl (codes three per int32) and webgpu (four per int32). */
export interface PackingResult {
  /** The codes length of the [5000] variable's first moment on each (20 blocks: 1707 and 1280). */
  webglCodes: number;
  webgpuCodes: number;
  /** webgl's state, one step on webgpu against the same on cpu: parameters and moments. */
  fromWebGL: Discrepancy;
  /** webgpu's state, one step on webgl against the same on cpu: parameters. */
  fromWebGPU: Discrepancy;
}

/** `adamw` int8 with `tf.setBackend` switched between its steps: `before` on webgl, `after` on cpu, `back` on webgl. */
export interface SwitchRequest {
  seed: number;
  before: number;
  after: number;
  back: number;
}

export interface SwitchResult {
  /** The active backend at each step. */
  backends: string[];
  /** After each step: the codes length of each quantised slot (the variables in order, slots by name). */
  codeLengths: number[][];
  /** numTensors before the run, after each step and after `dispose()`. */
  tensors: TensorCounts;
  /** After `before + after` steps, against `before` steps on webgl, `saveState`, `loadState` on cpu, `after` steps. */
  againstResumed: Discrepancy;
  /** After `before + after` steps, against as many on cpu only. */
  againstCpu: Discrepancy;
  /** After all the steps (the last ones back on webgl), against as many on cpu only. */
  finalAgainstCpu: Discrepancy;
}

/** `adamw({ stateDtype: 'int8' })` on webgl without float32 textures (`?f16`): its first step. */
export interface Float16RefusalResult {
  float32Textures: boolean;
  /** The error of the step on a [64, 64] and a [5] variable, or `(no error)`. */
  error: string;
  /** Whether the optimizer holds slots of either variable afterwards. */
  slotsKept: boolean;
  iterations: number;
  /** Whether both variables kept every bit of their values. */
  variablesUnchanged: boolean;
  /** numTensors before and after the refused step (the gradients held both times). */
  tensorsBefore: number;
  tensorsAfter: number;
}
