/** What the page and the Node tests exchange (plain JSON). */

export type GpuBackend = 'webgl' | 'webgpu';

/** The backend the page switched to, or why it could not. */
export interface BackendInfo {
  backend: GpuBackend;
  /** Why the backend cannot run here (`no adapter`, …), or null when it runs. */
  unavailable: string | null;
  /** `tf.backend().floatPrecision()` (on WebGL 16 even with float32 textures: tensorflow/tfjs#6980). */
  floatPrecision: number;
  /** Whether values are stored as float32 (WebGL: `WEBGL_RENDER_FLOAT32_ENABLED`). */
  float32Textures: boolean;
  /** Whether optimkit runs its fused kernels on it (`fusedKernelsActive()`). */
  fusedKernelsActive: boolean;
  /** WebGL version and renderer, or the WebGPU adapter. */
  device: string;
  /** The methods counted as launches. */
  launchCounters: string[];
}

export interface CaseRequest {
  optimizer: string;
  /** Index into the optimizer's option sets. */
  index: number;
  backend: GpuBackend;
  steps: number;
}

export interface CaseResult {
  label: string;
  /** Elements compared over all steps. */
  compared: number;
  /** The worst |gpu − cpu| / tolerance (≤ 1 passes). */
  worst: number;
  /** The first mismatches, as sentences. */
  failures: string[];
  /** Per step: `OptimkitFused_*` kernels run on the GPU backend, and how many variables got a gradient. */
  fusedKernels: number[];
  updatedVariables: number[];
  /** Per step: GPU launches (draws or dispatches) of the GPU step, and all kernels it ran. */
  launches: number[];
  kernels: number[];
  /** `tf.memory().numTensors` before, after each step and after `dispose()`, per backend. */
  tensors: Record<'cpu' | GpuBackend, { baseline: number; steps: number[]; afterDispose: number }>;
}

export interface BenchRequest {
  backend: GpuBackend;
  /** Shapes of the variables. */
  shapes: number[][];
  /** Timed milliseconds per path (at least three samples). */
  budgetMs: number;
}

export interface BenchMeasure {
  path: string;
  /** Shaders tfjs compiled during the timed steps (0: every step hit its shader cache). */
  shadersCompiledWhileTimed: number;
  msPerStep: number;
  launchesPerStep: number;
  kernelsPerStep: number;
  fusedKernelsPerStep: number;
}

export interface F16Result {
  floatPrecision: number;
  fusedKernelsActive: boolean;
  fusedKernels: number;
  losses: number[];
  finite: boolean;
  warnings: string[];
}
