/**
 * Rules fused on tfjs's WebGPU backend: each {@link GpuProgram} of a rule's plan becomes one WGSL
 * compute shader run by the backend's `runWebGPUProgram`, one thread per element, or per four
 * consecutive elements (`vec4<f32>`) when the last dimension allows it, as tfjs's binary ops.
 * Per-step scalars are uniforms, so a program's source is the same at every step and tfjs builds its
 * pipeline once per input ranks and broadcasts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { FusedRuleBackend } from './backends.js';
import { type BackendLike, type GpuDriver, hasReductions, planOf, runGpuPlan } from './gpu-kernel.js';
import { type GpuOperand, type GpuProgram, gpuExpression, layoutShape } from './gpu-plan.js';

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` used here. */
interface WebGPUBackendLike extends BackendLike {
  runWebGPUProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: 'float32',
    programDefinedUniform?: { type: 'float32'; data: number[] }[],
  ): tf.TensorInfo;
}

const WORKGROUP = 64;

/** Tensors one program reads: WebGPU guarantees 8 storage buffers per stage, one is the output. */
const MAX_INPUTS = 7;

/** A `WebGPUProgram` of tfjs-backend-webgpu; made anew for every run (tfjs writes into it). */
class OptimkitFusedProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  shaderKey: string;
  readonly dispatchLayout = { x: [0, 1, 2] };
  dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  readonly size = true;
  readonly outputComponent: number;
  readonly variableComponents: number[];
  readonly uniforms?: string;
  private readonly code: string;

  constructor(
    program: GpuProgram,
    outputShape: number[],
    code: { source: string; key: string },
    component: number,
    components: number[],
  ) {
    this.variableNames = program.inputs.map((_, i) => `optk${i}`);
    this.outputShape = outputShape;
    this.shaderKey = code.key;
    const size = outputShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / component / WORKGROUP), 1, 1];
    this.outputComponent = component;
    this.variableComponents = components;
    if (program.uniforms.length > 0)
      this.uniforms = program.uniforms.map((_, i) => `optkU${i} : f32,`).join(' ');
    this.code = code.source;
  }

  getUserCode(): string {
    return this.code;
  }
}

/** Helpers over `T` (WGSL has no overloads): NaN and sign as the cpu backend has them. */
function helpers(T: string): string {
  const isnan = T === 'f32' ? 'isnan' : 'isnanVec4';
  return `
fn optkSign(x : ${T}) -> ${T} { return select(select(${T}(0.0), ${T}(-1.0), x < ${T}(0.0)), ${T}(1.0), x > ${T}(0.0)); }
fn optkSqrt(x : ${T}) -> ${T} { return select(sqrt(x), ${T}(uniforms.NAN), x < ${T}(0.0)); }
fn optkRsqrt(x : ${T}) -> ${T} { return select(${T}(1.0) / optkSqrt(x), inverseSqrt(x), x > ${T}(0.0)); }
fn optkMin(a : ${T}, b : ${T}) -> ${T} { return select(min(a, b), ${T}(uniforms.NAN), ${isnan}(a) | ${isnan}(b)); }
fn optkMax(a : ${T}, b : ${T}) -> ${T} { return select(max(a, b), ${T}(uniforms.NAN), ${isnan}(a) | ${isnan}(b)); }
fn optkGreater(a : ${T}, b : ${T}) -> ${T} { return select(${T}(0.0), ${T}(1.0), a > b); }
fn optkLess(a : ${T}, b : ${T}) -> ${T} { return select(${T}(0.0), ${T}(1.0), a < b); }
fn optkSelect(m : ${T}, a : ${T}, b : ${T}) -> ${T} { return select(b, a, m != ${T}(0.0)); }
`;
}

let nextShader = 0;

/** The WGSL of a program with `component` elements per thread, and a shader key unique to it. */
function wgsl(program: GpuProgram, component: number): { source: string; key: string } {
  const cacheKey = `webgpu:${component}`;
  const found = program.code.get(cacheKey) as { source: string; key: string } | undefined;
  if (found) return found;
  const T = component === 4 ? 'vec4<f32>' : 'f32';
  const operand = (o: GpuOperand) =>
    o.kind === 'input'
      ? `optkIn${o.index}`
      : o.kind === 'temp'
        ? `optkT${o.index}`
        : `${T}(uniforms.optkU${o.index})`;
  const lines: string[] = [];
  if (program.inputs.some((input) => input.layout !== program.layout)) {
    lines.push(`    let optkCoords = getCoordsFromIndex(index * ${component});`);
  }
  program.inputs.forEach((input, i) => {
    const read =
      input.layout === program.layout
        ? `getOptk${i}ByOutputIndex(index)`
        : `getOptk${i}ByOutputCoords(optkCoords)`;
    lines.push(`    let optkIn${i} = ${T}(${read});`);
  });
  program.body.forEach((instruction, i) => {
    const args = instruction.args.map(operand);
    const expression = gpuExpression(instruction.op, args);
    lines.push(`    let optkT${i} = ${expression};`);
  });
  lines.push(`    setOutputAtIndex(index, ${operand(program.result)});`);
  const source = `${helpers(T)}
fn main(index : i32) {
  if (index < uniforms.size) {
${lines.join('\n')}
  }
}
`;
  nextShader += 1;
  const code = { source, key: `optimkitFused${nextShader}_${program.name}_${component}` };
  program.code.set(cacheKey, code);
  return code;
}

const driver: GpuDriver<WebGPUBackendLike> = {
  backendName: 'webgpu',
  prepare: (_backend, info) => info,
  run(backend, program, inputs, uniforms, dims) {
    const outputShape = layoutShape(program.layout, dims);
    const last = outputShape[2];
    // Four elements per thread when rows hold whole vec4s; inputs with the output's columns are read
    // as vec4s too, the others (one value per row, batch or step) as one float spread over four.
    const component = last % 4 === 0 ? 4 : 1;
    const components = program.inputs.map((input) =>
      component === 4 && layoutShape(input.layout, dims)[2] === last ? 4 : 1,
    );
    const gpuProgram = new OptimkitFusedProgram(
      program,
      outputShape,
      wgsl(program, component),
      component,
      components,
    );
    const uniformData = uniforms.map((x) => ({ type: 'float32' as const, data: [x] }));
    return backend.runWebGPUProgram(gpuProgram, inputs, 'float32', uniformData);
  },
};

/** The webgpu entry of `FUSED_RULE_BACKENDS`. */
export const webgpuBackend: FusedRuleBackend = {
  available: () => hasReductions('webgpu'),
  run(run) {
    const plan = planOf(run.graph, MAX_INPUTS);
    return runGpuPlan(driver, plan, run);
  },
};
