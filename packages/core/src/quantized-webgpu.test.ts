// The WGSL kernels themselves run in chromium (apps/browser/e2e/quantized.e2e.ts, against the cpu
// kernels); here, what Node can check: the refusals, which come before any kernel runs, and what
// the kernels hand a WebGPU backend (a cpu backend under that name that records the programs).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFusedKernels } from './fused.js';
import { dequantize, dynamicMap, quantize } from './quantized-state.js';
import { dequantizeWebGPU, quantizeWebGPU } from './quantized-webgpu.js';

const signed = dynamicMap('signed');

describe('quantizeWebGPU / dequantizeWebGPU refusals', () => {
  it('refuse any backend but webgpu, naming it, and make no tensor', async () => {
    await tf.setBackend('cpu');
    const values = tf.zeros([300]);
    const codes = tf.zeros([128], 'int32');
    const absmax = tf.zeros([2]);
    const before = tf.memory().numTensors;
    expect(() => quantizeWebGPU(values, 2, signed)).toThrow(
      /^quantizeWebGPU runs on the webgpu backend, not on 'cpu'$/,
    );
    expect(() => dequantizeWebGPU(codes, absmax, 300, signed)).toThrow(
      /^dequantizeWebGPU runs on the webgpu backend, not on 'cpu'$/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([values, codes, absmax]);
  });

  describe("on a backend named 'webgpu' (the cpu backend under that name: no kernel of it runs)", () => {
    beforeAll(async () => {
      const cpu = tf.findBackend('cpu')!;
      tf.registerBackend('webgpu', () => cpu as tf.KernelBackend, 0);
      await tf.setBackend('webgpu');
    });
    afterAll(async () => {
      await tf.setBackend('cpu');
      tf.removeBackend('webgpu');
    });

    it('refuse inputs of the wrong dtype or size, naming the argument, and make no tensor', () => {
      const values = tf.zeros([300]);
      const intValues = tf.zeros([300], 'int32');
      const codes = tf.zeros([128], 'int32');
      const floatCodes = tf.zeros([128]);
      const absmax = tf.zeros([2]);
      const intAbsmax = tf.zeros([2], 'int32');
      const before = tf.memory().numTensors;
      expect(() => quantizeWebGPU(intValues, 2, signed)).toThrow(
        /^quantizeWebGPU: values must be float32, got int32$/,
      );
      expect(() => quantizeWebGPU(values, 1, signed)).toThrow(
        /^quantizeWebGPU: 300 values make 2 blocks of 256, not 1$/,
      );
      expect(() => dequantizeWebGPU(floatCodes, absmax, 300, signed)).toThrow(
        /^dequantizeWebGPU: codes must be int32 of 128 elements for 2 blocks, got float32 \[128\]$/,
      );
      expect(() => dequantizeWebGPU(codes, intAbsmax, 300, signed)).toThrow(
        /^dequantizeWebGPU: absmax must be float32, got int32$/,
      );
      // A size must need every block: 256 values fit one block, 513 need three.
      for (const size of [256, 513, 300.5]) {
        expect(() => dequantizeWebGPU(codes, absmax, size, signed)).toThrow(
          new RegExp(`^dequantizeWebGPU: size ${size} does not fit 2 blocks of 256 values$`),
        );
      }
      expect(() => quantizeWebGPU(values, 2, { ...signed, block: 100 })).toThrow(/multiple of 64, got 100/);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([values, intValues, codes, floatCodes, absmax, intAbsmax]);
    });
  });
});

interface RecordedProgram {
  variableNames: string[];
  outputShape: number[];
  dispatch: number[];
  uniforms: string;
  getUserCode(): string;
}

interface Run {
  program: RecordedProgram;
  inputs: number[][];
  dtype: string;
  uniforms: { type: string; data: number[] }[];
}

describe("quantize / dequantize on a backend named 'webgpu' (programs recorded, not run)", () => {
  const runs: Run[] = [];
  const kernels = tf.getKernelsForBackend('cpu');
  beforeAll(async () => {
    const cpu = tf.findBackend('cpu')!;
    const backend = new (cpu.constructor as new () => tf.KernelBackend)() as tf.KernelBackend & {
      makeTensorInfo(shape: number[], dtype: string): tf.TensorInfo;
      runWebGPUProgram?: unknown;
    };
    backend.runWebGPUProgram = (
      program: RecordedProgram,
      inputs: tf.TensorInfo[],
      dtype: string,
      uniforms: Run['uniforms'],
    ) => {
      runs.push({ program, inputs: inputs.map((i) => i.shape), dtype, uniforms });
      return backend.makeTensorInfo(program.outputShape, dtype);
    };
    tf.registerBackend('webgpu', () => backend, 0);
    for (const kernel of kernels) tf.registerKernel({ ...kernel, backendName: 'webgpu' });
    await tf.setBackend('webgpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
    tf.removeBackend('webgpu');
    for (const kernel of kernels) tf.unregisterKernel(kernel.kernelName, 'webgpu');
  });

  /** The floats of a run's table uniforms (after the value count). */
  const table = (run: Run) => run.uniforms.slice(1).flatMap((u) => u.data);

  it('quantise: an absmax pass (a workgroup per block), then a codes pass with the midpoints as uniforms', () => {
    runs.length = 0;
    const x = tf.zeros([50, 100]);
    const before = tf.memory().numTensors;
    const { codes, absmax } = quantize(x, 'signed');
    expect([codes.shape, codes.dtype, absmax.shape, absmax.dtype]).toEqual([
      [1280],
      'int32',
      [20],
      'float32',
    ]);
    expect(tf.memory().numTensors).toBe(before + 2);
    const [first, second] = runs as [Run, Run];
    expect(runs).toHaveLength(2);
    expect(first.program.outputShape).toEqual([20]);
    expect(first.dtype).toBe('float32');
    expect(first.program.dispatch).toEqual([20, 1, 1]);
    expect(first.inputs).toEqual([[50, 100]]);
    expect(first.uniforms).toEqual([{ type: 'int32', data: [5000] }]);
    expect(first.program.getUserCode()).toContain('workgroupBarrier');
    expect(second.program.outputShape).toEqual([1280]);
    expect(second.dtype).toBe('int32');
    expect(second.program.dispatch).toEqual([20, 1, 1]);
    expect(second.inputs).toEqual([[50, 100], [20]]);
    expect(second.uniforms[0]).toEqual({ type: 'int32', data: [5000] });
    expect(second.program.uniforms).toBe('optkN : i32, optkMidpoints : array<vec4<f32>, 64>,');
    // The 255 midpoints, exactly, then a 0 to fill the last vec4; the sign correction to code 126.
    expect(table(second)).toEqual([...signed.midpoints, 0]);
    expect(second.program.getUserCode()).toContain('return 126u;');
    tf.dispose([x, codes, absmax]);
  });

  it('dequantise with the map as uniforms, with fused kernels off too (the only exact path there)', () => {
    const previous = setFusedKernels(false);
    try {
      for (const kind of ['signed', 'unsigned'] as const) {
        runs.length = 0;
        const codes = tf.zeros([1280], 'int32');
        const absmax = tf.zeros([20]);
        const values = dequantize(codes, absmax, kind, [5000]);
        expect([values.shape, values.dtype]).toEqual([[5000], 'float32']);
        expect(runs).toHaveLength(1);
        const [run] = runs as [Run];
        expect(run.program.outputShape).toEqual([5000]);
        expect(run.program.dispatch).toEqual([Math.ceil(5000 / 64), 1, 1]);
        expect(run.inputs).toEqual([[1280], [20]]);
        expect(run.program.uniforms).toBe('optkN : i32, optkMap : array<vec4<f32>, 64>,');
        expect(table(run)).toEqual([...dynamicMap(kind).values]);
        tf.dispose([codes, absmax, values]);
      }
      runs.length = 0;
      const x = tf.zeros([4096]);
      const { codes, absmax } = quantize(x, 'unsigned');
      expect(runs.map((r) => r.program.outputShape)).toEqual([[16], [1024]]);
      // The unsigned map has no sign correction.
      expect(runs[1]!.program.getUserCode()).not.toMatch(/return \d+u; }/);
      tf.dispose([x, codes, absmax]);
    } finally {
      setFusedKernels(previous);
    }
  });
});
