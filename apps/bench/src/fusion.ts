import * as core from '@optimkit/core';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * The core's switch for its fused per-backend kernels (`setFusedKernels`), looked up at run time so
 * that the bench also measures a core without them (then every figure is the composite path).
 */
export interface FusionControl {
  /** The call used to turn them off, for the report. */
  describe: string;
  /** Turns fused kernels on or off; returns the previous setting. */
  set(enabled: boolean): boolean;
  /** The backends that have fused kernels. */
  backends: readonly string[];
}

export function fusionControl(): FusionControl | null {
  const api = core as unknown as Record<string, unknown>;
  const setFusedKernels = api.setFusedKernels;
  if (typeof setFusedKernels !== 'function') return null;
  const backends = Array.isArray(api.FUSED_BACKENDS) ? (api.FUSED_BACKENDS as string[]) : ['cpu', 'wasm'];
  return {
    describe: 'setFusedKernels(false)',
    set: (enabled) => Boolean(setFusedKernels(enabled)),
    backends,
  };
}

/** Whether this optimizer's steps run a fused kernel on `backend` while fused kernels are on. */
export function runsFused(optimizer: tf.Optimizer, backend: string, control: FusionControl | null): boolean {
  if (!control?.backends.includes(backend)) return false;
  // A traced `rule` (the rule API) or, before it, a hand-written `fused` update.
  const definition = (optimizer as { definition?: { fused?: unknown; rule?: unknown } }).definition;
  return typeof definition?.rule === 'function' || typeof definition?.fused === 'function';
}

/** Runs `body` with fused kernels off, restoring the previous setting afterwards even when it throws. */
export async function withoutFusion<T>(control: FusionControl, body: () => Promise<T>): Promise<T> {
  const previous = control.set(false);
  try {
    return await body();
  } finally {
    control.set(previous);
  }
}
