/** Rules fused on the cpu and wasm backends: {@link FusedPlan}s run as one tfjs kernel per variable. */
import { elementwiseEngine } from '../elementwise.js';
import { fusedKernelName, runFusedUpdate } from '../fused.js';
import type { FusedRuleBackend } from './backends.js';
import { FusedPlan, planDims } from './fused-plan.js';
import type { RuleGraph } from './graph.js';

const plans = new WeakMap<RuleGraph, FusedPlan>();

export const cpuWasmBackend: FusedRuleBackend = {
  available: () => elementwiseEngine() !== 'js',
  run({ className, graph, param, grad, slots, scalars }) {
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
    return runFusedUpdate({
      kernelName: fusedKernelName(className),
      param,
      grad,
      reads,
      writes,
      workspace: compiled.workspace(dims),
      execute: (arrays) => compiled.run({ dims, scalars, ...arrays }),
      inPlace: true,
    });
  },
};
