/** What the 8-bit state page (`quantized-page.ts`) and its Node test exchange (plain JSON). */

export type MapKind = 'signed' | 'unsigned';

/** The kernel cases: every size with both maps, from one seed. */
export interface KernelRequest {
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
  /** Blocks whose absmax is NaN, 0, and spans of the nonzero ones. */
  nanBlocks: number;
  zeroBlocks: number;
  smallestAbsmax: number;
  largestAbsmax: number;
  /** Absmax elements whose bits differ between webgpu and cpu (two NaNs count as equal). */
  absmaxMismatches: string[];
  /** Values whose webgpu code differs from cpu's. */
  codeMismatches: number;
  /** Of those, where cpu's quotient is within 4 ulp of a midpoint and the codes differ by one. */
  nearMidpointFlips: number;
  /** The others (must be none), as sentences. */
  badCodes: string[];
  /** Values within 4 ulp of a midpoint (where a flip is allowed). */
  nearMidpointValues: number;
  /** Padding codes (beyond `size`) that are not the code of 0, on webgpu. */
  badPadding: number;
  /** Dequantised values (cpu's codes) whose bits differ between webgpu and cpu. */
  dequantizeMismatches: string[];
}

export interface HygieneResult {
  /** Per repeated call of quantise then dequantise on webgpu: numTensors while its outputs are held, and after they are disposed. */
  tensors: { baseline: number; held: number[]; afterDispose: number[] };
  /** The messages of the refused calls (bad inputs), and whether numTensors stayed the same. */
  errors: string[];
  errorsChangedNothing: boolean;
}

export interface KernelResult {
  cases: KernelCaseResult[];
  /** Median ms per call (a read of one element included). */
  times: {
    size: number;
    cpu: { quantizeMs: number; dequantizeMs: number };
    webgpu: { quantizeMs: number; dequantizeMs: number };
  };
}

export interface OptimizerRequest {
  optimizer: 'adamw' | 'lion';
  seed: number;
  steps: number;
  /** `setFusedKernels(…)` for the run (the 8-bit kernels run on webgpu either way). */
  fusedKernels: boolean;
}

export interface Discrepancy {
  /** The worst |webgpu − cpu| / allowed (≤ 1 passes). */
  worst: number;
  compared: number;
  /** The first elements beyond the allowance, as sentences. */
  failures: string[];
}

export interface OptimizerResult {
  label: string;
  /** Parameters against `1e-6 + 1e-4·|cpu|`, after every step of the two 20-step trajectories. */
  trajectoryParams: Discrepancy;
  /** Dequantised moments against one code step (at cpu's absmax) plus `1e-6 + 1e-4·|cpu|`. */
  trajectoryMoments: Discrepancy;
  /** Codes that differ between the trajectories, per step (quantised slots together). */
  trajectoryCodeFlips: number[];
  /** Each step taken on webgpu from cpu's state before it (loaded from cpu's `saveState()`). */
  stepwiseParams: Discrepancy;
  stepwiseMoments: Discrepancy;
  stepwiseCodeFlips: number;
  /** webgpu's final `saveState()` loaded on cpu: saved again there, the same bytes. */
  stateBytesEqual: boolean;
  stateBytes: number;
  /** Then one more step on cpu from it against the same step on webgpu. */
  nextStep: Discrepancy;
  /** Slot names per variable, on webgpu (quantised variables keep `…Codes` and `…Absmax`). */
  slotNames: string[][];
  tensors: Record<'cpu' | 'webgpu', { baseline: number; steps: number[]; afterDispose: number }>;
  /** Per step, per backend: how many times `OptimkitQuantize8bit` and `OptimkitDequantize8bit` ran. */
  kernels: Record<'cpu' | 'webgpu', Record<string, number>[]>;
  /** The active backend during the steps, per side. */
  backends: Record<'cpu' | 'webgpu', string[]>;
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
