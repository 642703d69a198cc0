/**
 * What the webgl and webgpu fused backends share: one tfjs kernel per variable and step
 * (`OptimkitFused_<class>`, registered for the active backend at first use) that runs a
 * {@link GpuPlan}'s reduction stages and output programs on the backend object tfjs hands it. The
 * backend is typed structurally: core imports no backend package.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelName } from '../fused.js';
import type { FusedRuleRun } from './backends.js';
import { type GpuDims, GpuPlan, type GpuProgram, type GpuSource, gpuDims, layoutShape } from './gpu-plan.js';
import type { Layout, RuleGraph } from './graph.js';

/** What every tfjs backend object has (`KernelBackend`). */
export interface BackendLike {
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** How one GPU backend runs a plan's programs. */
export interface GpuDriver<B extends BackendLike> {
  /** The tfjs backend name. */
  readonly backendName: string;
  /**
   * Gets a tensor ready to be read by the programs (WebGL packs an unpacked texture once rather
   * than once per program that reads it). Returns it, or a new tensor that the caller disposes.
   */
  prepare(backend: B, info: tf.TensorInfo): tf.TensorInfo;
  /** Runs `program` over `inputs` (presented at their layouts); `reduced`: its output feeds `Sum`. */
  run(
    backend: B,
    program: GpuProgram,
    inputs: tf.TensorInfo[],
    uniforms: number[],
    dims: GpuDims,
    reduced: boolean,
  ): tf.TensorInfo;
}

interface GpuAttrs {
  execute: (backend: BackendLike, inputs: tf.NamedTensorInfoMap) => tf.TensorInfo[];
}

const slotKey = (name: string) => `slot:${name}`;
const sourceKey = (s: GpuSource) =>
  s.kind === 'slot' ? `slot:${s.name}` : s.kind === 'node' ? `node:${s.node}` : s.kind;

function kernelFunc(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo[] {
  const attrs = args.attrs as unknown as GpuAttrs;
  return attrs.execute(args.backend as unknown as BackendLike, args.inputs as tf.NamedTensorInfoMap);
}

function ensureKernel(kernelName: string, backendName: string): void {
  if (tf.getKernel(kernelName, backendName) !== undefined) return;
  tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/** The plans, by graph and input limit: compiled once per rule graph and backend. */
const plans = new Map<number, WeakMap<RuleGraph, GpuPlan>>();

/** The plan of a graph for programs of at most `maxInputs` inputs, made the first time it is seen. */
export function planOf(graph: RuleGraph, maxInputs: number): GpuPlan {
  let byGraph = plans.get(maxInputs);
  if (!byGraph) {
    byGraph = new WeakMap();
    plans.set(maxInputs, byGraph);
  }
  let plan = byGraph.get(graph);
  if (!plan) {
    plan = new GpuPlan(graph, maxInputs);
    byGraph.set(graph, plan);
  }
  return plan;
}

/** Whether a backend's registered kernels include the `Sum` and `Max` a plan's stages use. */
export function hasReductions(backendName: string): boolean {
  return tf.getKernel('Sum', backendName) !== undefined && tf.getKernel('Max', backendName) !== undefined;
}

/**
 * Runs one variable's update through the driver, as one `OptimkitFused_<class>` kernel; returns the
 * new param and written slots as engine-tracked tensors.
 */
export function runGpuPlan<B extends BackendLike>(
  driver: GpuDriver<B>,
  plan: GpuPlan,
  run: FusedRuleRun,
): { param: tf.Tensor; slots: Record<string, tf.Tensor> } {
  const kernelName = fusedKernelName(run.className);
  ensureKernel(kernelName, driver.backendName);
  const { graph } = plan;
  const shape = run.param.shape;
  const dims = gpuDims(shape);
  const host = plan.hostValues(run.scalars);
  const sum = tf.getKernel('Sum', driver.backendName)!.kernelFunc;
  const max = tf.getKernel('Max', driver.backendName)!.kernelFunc;
  const targetShapes = plan.outputs.map(({ target }) =>
    target.kind === 'param' ? shape : run.slots.get(target.name)!.shape,
  );
  const inputs: tf.NamedTensorMap = { param: run.param, grad: run.grad };
  for (const name of graph.reads) inputs[slotKey(name)] = run.slots.get(name)!;

  const execute = (backendLike: BackendLike, infos: tf.NamedTensorInfoMap): tf.TensorInfo[] => {
    const backend = backendLike as B;
    const present = (info: tf.TensorInfo, layout: Layout): tf.TensorInfo => ({
      dataId: info.dataId,
      shape: layoutShape(layout, dims),
      dtype: 'float32',
    });
    const stageResults = new Map<number, tf.TensorInfo>();
    const prepared = new Map<string, tf.TensorInfo>();
    const made: tf.TensorInfo[] = [];
    const raw = (source: GpuSource, layout: Layout): tf.TensorInfo => {
      if (source.kind === 'node') return stageResults.get(source.node)!;
      const name = source.kind === 'slot' ? slotKey(source.name) : source.kind;
      const info = infos[name];
      if (!info) throw new Error(`optimkit: the fused kernel has no input '${name}'`);
      if (info.dtype !== 'float32')
        throw new TypeError(`optimkit: fused updates need float32 tensors, not ${info.dtype}`);
      return present(info, layout);
    };
    const read = (source: GpuSource, layout: Layout): tf.TensorInfo => {
      const key = sourceKey(source);
      let info = prepared.get(key);
      if (!info) {
        const given = raw(source, layout);
        info = driver.prepare(backend, given);
        if (info.dataId !== given.dataId) made.push(info);
        prepared.set(key, info);
      }
      return info;
    };
    const exec = (program: GpuProgram, reduced: boolean) =>
      driver.run(
        backend,
        program,
        program.inputs.map((input) => read(input.source, input.layout)),
        GpuPlan.uniformValues(program, host, dims),
        dims,
        reduced,
      );
    const outputs: tf.TensorInfo[] = [];
    try {
      for (const stage of plan.stages) {
        if (stage.axes === undefined) {
          // An elementwise node kept as a tensor: its program's output is the value.
          stageResults.set(stage.node, exec((stage.operand as { program: GpuProgram }).program, false));
          continue;
        }
        const operandLayout = graph.nodes[(graph.nodes[stage.node] as { a: number }).a]!.layout;
        let operand: tf.TensorInfo;
        let temporary = false;
        if ('program' in stage.operand) {
          operand = exec(stage.operand.program, true);
          temporary = true;
        } else {
          operand = raw(stage.operand.source, operandLayout);
        }
        try {
          const reduced = (
            stage.reduce === 'max'
              ? max({
                  inputs: { x: operand },
                  backend: backend as unknown as tf.KernelBackend,
                  attrs: { reductionIndices: stage.axes, keepDims: true },
                })
              : sum({
                  inputs: { x: operand },
                  backend: backend as unknown as tf.KernelBackend,
                  attrs: { axis: stage.axes, keepDims: true },
                })
          ) as tf.TensorInfo;
          stageResults.set(stage.node, reduced);
        } finally {
          if (temporary) backend.disposeData(operand.dataId);
        }
      }
      for (const { program } of plan.outputs) outputs.push(exec(program, false));
    } catch (error) {
      for (const info of outputs) backend.disposeData(info.dataId);
      throw error;
    } finally {
      for (const info of made) backend.disposeData(info.dataId);
      for (const info of stageResults.values()) backend.disposeData(info.dataId);
    }
    return outputs.map((info, i) => ({
      dataId: info.dataId,
      shape: [...targetShapes[i]!],
      dtype: 'float32',
    }));
  };

  const attrs: GpuAttrs = { execute };
  const [param, ...slots] = tf
    .engine()
    .runKernel<tf.Tensor[]>(kernelName, inputs, attrs as unknown as tf.NamedAttrMap);
  const written: Record<string, tf.Tensor> = {};
  plan.outputs.slice(1).forEach(({ target }, i) => {
    if (target.kind === 'slot') written[target.name] = slots[i]!;
  });
  return { param: param!, slots: written };
}
