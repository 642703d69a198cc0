/** Rules fused on the cpu and wasm backends: {@link FusedPlan}s run as one tfjs kernel per variable. */
import * as tf from '@tensorflow/tfjs-core';
import { elementwiseEngine } from '../elementwise.js';
import { canRekeyWasm, type FusedRun, fusedKernelName, runFusedBatch } from '../fused.js';
import type { FusedRuleBackend, FusedRuleRun } from './backends.js';
import { FusedPlan, planDims } from './fused-plan.js';
import type { RuleGraph } from './graph.js';

const plans = new WeakMap<RuleGraph, FusedPlan>();

function fusedRun({ className, graph, param, grad, slots, scalars }: FusedRuleRun): FusedRun {
  let plan = plans.get(graph);
  if (!plan) {
    plan = new FusedPlan(graph);
    plans.set(graph, plan);
  }
  const compiled = plan;
  const dims = planDims(param.shape);
  const reads: Record<string, typeof param> = {};
  for (const name of graph.reads) reads[name] = slots.get(name)!;
  const writes: Record<string, typeof param> = {};
  for (const [name] of graph.slots) writes[name] = slots.get(name)!;
  return {
    kernelName: fusedKernelName(className),
    param,
    grad,
    reads,
    writes,
    workspace: compiled.workspace(dims),
    execute: (arrays) => compiled.run({ dims, scalars, ...arrays }),
    // The wasm backend caches operators with packed weights (XNNPACK matrix products) by tensor
    // id: a param changed in place is given a new id, or (where that cannot be done) a new buffer.
    inPlace: tf.getBackend() !== 'wasm' || canRekeyWasm(tf.backend()) ? 'all' : 'slots',
  };
}

export const cpuWasmBackend: FusedRuleBackend = {
  available: () => elementwiseEngine() !== 'js',
  run: (run) => runFusedBatch([fusedRun(run)])[0]!,
  runMany: (runs) => runFusedBatch(runs.map(fusedRun)),
};
