// The WGSL kernels themselves run in chromium (apps/browser/e2e/quantized.e2e.ts, against the cpu
// kernels); here, what Node can check: the refusals, which come before any kernel runs.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamicMap } from './quantized-state.js';
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
