/**
 * What Node sends the bench page and what the page sends back (plain JSON through playwright's
 * `page.evaluate`).
 */
import type { Repetitions } from '../measure.js';
import type { ProblemShapes } from './problems.js';

export type BrowserBackend = 'webgl' | 'webgpu';
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ['webgl', 'webgpu'];

export interface PageRequest {
  backend: BrowserBackend;
  /** Catalog names (see `optimizers.ts`); empty for all. */
  optimizers: string[];
  problems: ProblemShapes[];
  reps: Repetitions;
  /** Untimed steps over which GPU launches are counted (and divided by). */
  countSteps: number;
}

/** One way of running one optimizer: timed, then its launches and kernels counted. */
export interface Measure {
  msPerStep: number;
  samples: number;
  stepsPerSample: number;
  /** Growth of `tf.memory().numTensors` over the timed steps, per step. */
  tensorsPerStep: number;
  /** Kernels `tf.profile` records for one step. */
  kernelsPerStep: number;
  /** Of those, optimkit's fused kernels (`OptimkitFused_…`). */
  fusedKernelsPerStep: number;
  /** WebGL draw calls or WebGPU `dispatchWorkgroups` calls per step. */
  launchesPerStep: number;
  /** Distinct kernel names of the profiled step, with counts. */
  kernelNames: Record<string, number>;
  /**
   * GPU errors during the measurement: `gl.getError()` codes on WebGL, uncaptured validation errors
   * on WebGPU (whose invalid commands are dropped: the figures of such a measurement are not of the
   * update). 0 expected.
   */
  gpuErrors: number;
  /** The first of them. */
  gpuError: string | null;
}

export interface PageRow {
  backend: BrowserBackend;
  problem: string;
  optimizer: string;
  label: string;
  parameters: number;
  variables: number;
  /** Fused kernels on (the default): what a user gets. */
  optimkit: Measure;
  /** The same optimizer after `setFusedKernels(false)`; `null` when the core has no such switch. */
  composite: Measure | null;
  tfTrain: (Measure & { name: string }) | null;
}

export interface WebglInfo {
  kind: 'webgl';
  version: number;
  vendor: string;
  renderer: string;
  maxTextureSize: number;
  float32: boolean;
  disjointTimer: boolean;
}

export interface WebgpuInfo {
  kind: 'webgpu';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
}

export interface PageResult {
  backend: BrowserBackend;
  /** `null` when the backend ran; else why not ("no adapter"). */
  unavailable: string | null;
  userAgent: string;
  info: WebglInfo | WebgpuInfo | null;
  /** Whether optimkit's core reported fused kernels active on this backend (`fusedKernelsActive()`). */
  fusedKernelsActive: boolean | null;
  /** `FUSED_BACKENDS` of the core the page was built with. */
  fusedBackends: string[] | null;
  /** The wrapped methods whose calls are counted as this backend's GPU launches. */
  launchCounters: string[];
  rows: PageRow[];
  /** Optimizers whose step threw on this backend (the others are still measured). */
  failures: { problem: string; optimizer: string; error: string }[];
  durationSec: number;
}

/** What the page puts on `window` for Node to call. */
export interface BenchPageApi {
  run(request: PageRequest): Promise<PageResult>;
}

declare global {
  interface Window {
    optimkitBench?: BenchPageApi;
  }
}
