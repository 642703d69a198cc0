/**
 * Rules fused on tfjs's WebGL backend: each {@link GpuProgram} of a rule's plan becomes one
 * fragment shader run by the backend's `runWebGLProgram`, with packed textures (four values per
 * texel) when `WEBGL_PACK` is on, as tfjs's own elementwise ops. Per-step scalars are a uniform
 * array, so a program's source is the same at every step and tfjs compiles it once per input
 * shapes. Stage programs (the operands of reductions) write unpacked textures, which the backend's
 * `Sum` kernel reads as they are.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FusedRuleBackend } from './backends.js';
import { type BackendLike, type GpuDriver, hasReductions, planOf, runGpuPlan } from './gpu-kernel.js';
import { type GpuOperand, type GpuProgram, gpuExpression, layoutShape } from './gpu-plan.js';

/** The parts of tfjs-backend-webgl's `MathBackendWebGL` used here. */
interface WebGLBackendLike extends BackendLike {
  texData: { get(dataId: tf.DataId): { isPacked?: boolean; texture?: unknown } | undefined };
  runWebGLProgram(
    program: object,
    inputs: tf.TensorInfo[],
    outputDtype: 'float32',
    customUniformValues?: number[][],
    preventEagerUnpackingOfOutput?: boolean,
  ): tf.TensorInfo;
  /** Internal in tfjs 4.22 (`PackProgram` over the tensor); used when present. */
  packTensor?(input: tf.TensorInfo): tf.TensorInfo;
}

/** A `GPGPUProgram` of tfjs-backend-webgl. Its class name is part of tfjs's shader cache key. */
class OptimkitFusedProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly userCode: string;
  readonly packedInputs: boolean;
  readonly packedOutput: boolean;
  readonly enableShapeUniforms: boolean;
  readonly customUniforms?: { name: string; arrayIndex: number; type: 'float' }[];

  constructor(
    program: GpuProgram,
    outputShape: number[],
    userCode: string,
    packedInputs: boolean,
    packedOutput: boolean,
  ) {
    this.variableNames = program.inputs.map((_, i) => `optk${i}`);
    this.outputShape = outputShape;
    this.userCode = userCode;
    this.packedInputs = packedInputs;
    this.packedOutput = packedOutput;
    this.enableShapeUniforms = tf.env().getBool('WEBGL_USE_SHAPES_UNIFORMS');
    if (program.uniforms.length > 0) {
      this.customUniforms = [{ name: 'optkU', arrayIndex: program.uniforms.length, type: 'float' }];
    }
  }
}

// Helpers for both float and vec4 (GLSL overloads): NaN and sign as the cpu backend has them. The
// vec4 ones select with mix(x, y, bvec4), which picks components (no blending: NaN and ∞ stay).
const HELPERS = `
float optkSign(float x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }
vec4 optkSign(vec4 x) { return mix(sign(x), vec4(0.0), isnan(x)); }
float optkSqrt(float x) { return x < 0.0 ? NAN : sqrt(x); }
vec4 optkSqrt(vec4 x) { return mix(sqrt(x), vec4(NAN), lessThan(x, vec4(0.0))); }
float optkRsqrt(float x) { return x > 0.0 ? inversesqrt(x) : 1.0 / optkSqrt(x); }
vec4 optkRsqrt(vec4 x) { return mix(vec4(1.0) / optkSqrt(x), inversesqrt(x), greaterThan(x, vec4(0.0))); }
float optkMin(float a, float b) { return isnan(a) || isnan(b) ? NAN : min(a, b); }
vec4 optkMin(vec4 a, vec4 b) { return mix(mix(min(a, b), a, isnan(a)), b, isnan(b)); }
float optkMax(float a, float b) { return isnan(a) || isnan(b) ? NAN : max(a, b); }
vec4 optkMax(vec4 a, vec4 b) { return mix(mix(max(a, b), a, isnan(a)), b, isnan(b)); }
float optkGreater(float a, float b) { return a > b ? 1.0 : 0.0; }
vec4 optkGreater(vec4 a, vec4 b) { return vec4(greaterThan(a, b)); }
float optkLess(float a, float b) { return a < b ? 1.0 : 0.0; }
vec4 optkLess(vec4 a, vec4 b) { return vec4(lessThan(a, b)); }
float optkSelect(float m, float a, float b) { return m != 0.0 ? a : b; }
vec4 optkSelect(vec4 m, vec4 a, vec4 b) { return mix(b, a, notEqual(m, vec4(0.0))); }
`;

/** The GLSL of a program's `main`: values of type vec4 (packed inputs) or float. */
function glsl(program: GpuProgram, packedInputs: boolean, packedOutput: boolean): string {
  const type = packedInputs ? 'vec4' : 'float';
  const operand = (o: GpuOperand) =>
    o.kind === 'input'
      ? `optkIn${o.index}`
      : o.kind === 'temp'
        ? `optkT${o.index}`
        : `${type}(optkU[${o.index}])`;
  const lines = program.inputs.map((_, i) => `  ${type} optkIn${i} = getOptk${i}AtOutCoords();`);
  program.body.forEach((instruction, i) => {
    const args = instruction.args.map(operand);
    const expression = gpuExpression(instruction.op, args);
    lines.push(`  ${type} optkT${i} = ${expression};`);
  });
  const result = operand(program.result);
  if (packedInputs && !packedOutput) {
    lines.push('  ivec3 optkRc = getOutputCoords();');
    lines.push(`  setOutput(getChannel(${result}, vec2(optkRc.y, optkRc.z)));`);
  } else {
    lines.push(`  setOutput(${result});`);
  }
  return `${HELPERS}\nvoid main() {\n${lines.join('\n')}\n}\n`;
}

function userCode(program: GpuProgram, packedInputs: boolean, packedOutput: boolean): string {
  const key = `webgl:${packedInputs}:${packedOutput}`;
  let code = program.code.get(key) as string | undefined;
  if (code === undefined) {
    code = glsl(program, packedInputs, packedOutput);
    program.code.set(key, code);
  }
  return code;
}

const packing = () => tf.env().getBool('WEBGL_PACK');

/** Textures one program samples: WebGL 2 guarantees 16 texture units to a fragment shader. */
const MAX_INPUTS = 16;

const driver: GpuDriver<WebGLBackendLike> = {
  backendName: 'webgl',
  prepare(backend, info) {
    // A texture already on the GPU but unpacked would be packed by every program that reads it:
    // pack it once. (Data still on the CPU is uploaded packed by the first packed program.)
    if (!packing() || typeof backend.packTensor !== 'function') return info;
    const data = backend.texData.get(info.dataId);
    if (!data || data.texture == null || data.isPacked) return info;
    return backend.packTensor(info);
  },
  run(backend, program, inputs, uniforms, dims, reduced) {
    const packedInputs = packing();
    const packedOutput = packedInputs && !reduced;
    const code = userCode(program, packedInputs, packedOutput);
    const glProgram = new OptimkitFusedProgram(
      program,
      layoutShape(program.layout, dims),
      code,
      packedInputs,
      packedOutput,
    );
    return backend.runWebGLProgram(
      glProgram,
      inputs,
      'float32',
      uniforms.length > 0 ? [uniforms] : undefined,
      true,
    );
  },
};

function webgl2(): boolean {
  try {
    return tf.env().getNumber('WEBGL_VERSION') === 2;
  } catch {
    return false;
  }
}

/** The webgl entry of `FUSED_RULE_BACKENDS` (WebGL 2 only: its shaders need `floatBitsToUint`). */
export const webglBackend: FusedRuleBackend = {
  available: () => webgl2() && hasReductions('webgl'),
  run(run) {
    const plan = planOf(run.graph, MAX_INPUTS);
    return runGpuPlan(driver, plan, run);
  },
};
