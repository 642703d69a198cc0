/**
 * The backends that run a traced rule fused, by tfjs backend name. Each compiles a rule graph once
 * (caching by graph) and runs one variable's update as tfjs kernels of its backend, reached through
 * the backend object tfjs hands the kernel: no backend package is imported.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { cpuWasmBackend } from './cpu-wasm.js';
import type { RuleGraph } from './graph.js';
import { webglBackend } from './webgl.js';
import { webgpuBackend } from './webgpu.js';

/** One variable's fused update. Tensors are owned by the caller; the results by the engine. */
export interface FusedRuleRun {
  /** The optimizer's class name (kernels are named and profiled after it). */
  className: string;
  graph: RuleGraph;
  param: tf.Tensor;
  grad: tf.Tensor;
  /** Every slot of the variable, by name. */
  slots: ReadonlyMap<string, tf.Tensor>;
  /** Every scalar the graph reads, in float64 (kernels round them to float32). */
  scalars: Readonly<Record<string, number>>;
}

/** A backend's fused path for rules. */
export interface FusedRuleBackend {
  /** Whether it can run now (WebAssembly may be forbidden by a Content-Security-Policy, say). */
  available(): boolean;
  /**
   * Runs one variable's update; returns the new param (the variable itself when updated in place)
   * and the slots the rule writes (a slot updated in place may be left out).
   */
  run(run: FusedRuleRun): { param: tf.Tensor; slots: Record<string, tf.Tensor> };
  /**
   * Optional: several variables' updates in one launch (they share a graph and scalars), as
   * {@link FusedRuleBackend.run} returns them, in order.
   */
  runMany?(runs: readonly FusedRuleRun[]): { param: tf.Tensor; slots: Record<string, tf.Tensor> }[];
}

/** The fused backends, by tfjs backend name. */
export const FUSED_RULE_BACKENDS: Readonly<Record<string, FusedRuleBackend>> = {
  cpu: cpuWasmBackend,
  wasm: cpuWasmBackend,
  webgl: webglBackend,
  webgpu: webgpuBackend,
};
