/**
 * 8-bit optimizer state on WebGPU (`WEBGPU_ARGS`) in Debian's chromium, against the cpu backend in
 * the same page: core's WGSL (de)quantisation kernels on seeded values (absmax and dequantised
 * values bit for bit; codes equal but where WGSL's 2.5-ulp division may move a quotient within
 * 4 ulp of a midpoint), and `adamw`/`lion` with `stateDtype: 'int8'` trained on both backends.
 * Without a WebGPU adapter the tests say so and are skipped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic, WEBGPU_ARGS } from '@optimkit/browser-harness';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendInfo } from '../src/protocol.js';
import type {
  Discrepancy,
  HygieneResult,
  KernelResult,
  OptimizerResult,
  PackingResult,
} from '../src/quantized-protocol.js';

const DIST = join(fileURLToPath(new URL('..', import.meta.url)), 'dist');
const SIZES = [1, 3, 255, 256, 257, 4096, 10_001, 100_000];
const STEPS = 20;
/** Over 2^24 values: 65 537 blocks and 2^22 + 1 words, past WebGPU's 65 535 workgroups per dimension. */
const LARGE = 2 ** 24 + 1;

let server: Awaited<ReturnType<typeof serveStatic>>;
let page: Page;
let close: (() => Promise<void>) | undefined;
let info: BackendInfo;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} has no built page: run \`pnpm --filter @optimkit/browser build\` first`);
  }
  server = await serveStatic(DIST);
  const browser = await launchChromium({ args: WEBGPU_ARGS });
  close = browser.close;
  page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.on('pageerror', (error) => console.error('page error:', error));
  await page.goto(server.url, { waitUntil: 'commit' });
  await page.waitForSelector('#status[data-ready="true"]', { timeout: 180_000 });
  info = await page.evaluate(() => window.optimkitBrowser.init('webgpu'));
  console.log(
    info.unavailable ? `webgpu: ${info.unavailable}: the 8-bit tests are not run` : `webgpu: ${info.device}`,
  );
});

afterAll(async () => {
  await close?.();
  await server?.close();
});

describe('8-bit (de)quantisation kernels: webgpu ≡ cpu', () => {
  it(`quantises ${SIZES.length} sizes on both maps as the cpu kernel`, async (context) => {
    if (info.unavailable) context.skip(`webgpu: ${info.unavailable}`);
    const result: KernelResult = await page.evaluate((request) => window.optimkitQuantized.kernels(request), {
      seed: 2718,
      sizes: SIZES,
      large: LARGE,
      timedSize: 1_000_000,
    });
    let flips = 0;
    let near = 0;
    for (const c of result.cases) {
      const label = `n = ${c.size}, ${c.map}`;
      console.log(
        `${label}: ${c.blocks} blocks (${c.zeroBlocks} zero, ${c.nanBlocks} NaN, absmax ${c.smallestAbsmax.toExponential(2)}…${c.largestAbsmax.toExponential(2)}); ` +
          `${c.codeMismatches} codes differ, ${c.nearMidpointFlips} of them by one next to a midpoint (of ${c.nearMidpointValues} values within 4 ulp of one)`,
      );
      // Absmax and dequantised bits equal; codes too but for one-code flips next to a midpoint.
      expect(
        {
          absmax: c.absmaxMismatches,
          codes: c.badCodes,
          otherFlips: c.codeMismatches - c.nearMidpointFlips,
          padding: c.badPadding,
          dequantized: c.dequantizeMismatches,
        },
        label,
      ).toEqual({ absmax: [], codes: [], otherFlips: 0, padding: 0, dequantized: [] });
      flips += c.nearMidpointFlips;
      near += c.nearMidpointValues;
    }
    const values = SIZES.reduce((a, b) => a + b, 0) * 2 + LARGE;
    console.log(`codes: ${flips} of ${values} values differ from cpu (${near} within 4 ulp of a midpoint)`);
    // The generator reaches what the cases are for.
    const all = result.cases;
    expect(all.some((c) => c.nanBlocks > 0 && c.map === 'signed')).toBe(true);
    expect(all.some((c) => c.nanBlocks > 0 && c.map === 'unsigned')).toBe(true);
    expect(all.some((c) => c.zeroBlocks > 0)).toBe(true);
    expect(Math.min(...all.map((c) => c.smallestAbsmax))).toBeLessThan(1e-7);
    expect(Math.max(...all.map((c) => c.largestAbsmax))).toBeGreaterThan(100);
    expect(all.at(-1)!.size).toBe(LARGE);
    expect(flips).toBeLessThanOrEqual(near);
    const { size, cpu, webgpu } = result.times;
    console.log(
      `${size} values, median ms: quantise cpu ${cpu.quantizeMs.toFixed(1)}, webgpu ${webgpu.quantizeMs.toFixed(1)} ` +
        `(${(cpu.quantizeMs / webgpu.quantizeMs).toFixed(2)}× as fast); dequantise cpu ${cpu.dequantizeMs.toFixed(1)}, ` +
        `webgpu ${webgpu.dequantizeMs.toFixed(1)} (${(cpu.dequantizeMs / webgpu.dequantizeMs).toFixed(2)}×) (SwiftShader: a CPU)`,
    );
    expect(flips).toBeLessThan(values * 1e-3);
  });

  it('holds no tensor between calls and refuses bad inputs by name, changing nothing', async (context) => {
    if (info.unavailable) context.skip(`webgpu: ${info.unavailable}`);
    const result: HygieneResult = await page.evaluate(() =>
      window.optimkitQuantized.kernelHygiene(100_000, 4),
    );
    const { baseline, held, afterDispose } = result.tensors;
    console.log(
      `numTensors: baseline ${baseline}, held ${held.join(', ')}, after disposal ${afterDispose.join(', ')}`,
    );
    // codes, absmax and values: the outputs only.
    expect(held).toEqual(held.map(() => baseline + 3));
    expect(afterDispose).toEqual(afterDispose.map(() => baseline));
    expect(result.errors).toHaveLength(6);
    const [intValues, blocks, floatCodes, size, absmax, backend] = result.errors;
    expect(intValues).toMatch(/^RangeError: quantizeWebGPU: values must be float32, got int32/);
    expect(blocks).toMatch(/^RangeError: quantizeWebGPU: 300 values make 2 blocks of 256, not 3/);
    expect(floatCodes).toMatch(
      /^RangeError: dequantizeWebGPU: codes must be int32 of 128 elements for 2 blocks, got float32/,
    );
    expect(size).toMatch(/^RangeError: dequantizeWebGPU: size 600 does not fit 2 blocks of 256 values/);
    expect(absmax).toMatch(/^RangeError: dequantizeWebGPU: codes must be int32 of 192 elements for 3 blocks/);
    expect(backend).toMatch(/^Error: quantizeWebGPU runs on the webgpu backend, not on 'cpu'/);
    expect(result.errorsChangedNothing).toBe(true);
  });
});

const line = (d: Discrepancy) => `worst ${d.worst.toExponential(2)} of ${d.compared} compared`;

describe("adamw and lion with stateDtype 'int8': webgpu ≡ cpu", () => {
  const runs = [
    ['adamw', true],
    ['lion', true],
    ['adamw', false],
  ] as const;
  for (const [optimizer, fusedKernels] of runs) {
    it(`${optimizer}: ${STEPS} steps on [100, 100], [5000] and [5], fused kernels ${fusedKernels ? 'on' : 'off'}`, async (context) => {
      if (info.unavailable) context.skip(`webgpu: ${info.unavailable}`);
      const r: OptimizerResult = await page.evaluate(
        (request) => window.optimkitQuantized.optimizer(request),
        {
          optimizer,
          seed: optimizer === 'adamw' ? 31 : 37,
          steps: STEPS,
          fusedKernels,
        },
      );
      expect(r.backends).toEqual({ cpu: ['cpu'], webgpu: ['webgpu'] });
      console.log(
        `${r.label}: trajectories: params ${line(r.trajectoryParams)}, moments ${line(r.trajectoryMoments)}, ` +
          `code flips per step ${r.trajectoryCodeFlips.join(' ')}; ` +
          `each step from cpu's state: params ${line(r.stepwiseParams)}, moments ${line(r.stepwiseMoments)}, ` +
          `${r.stepwiseCodeFlips} code flips; webgpu's state (${r.stateBytes} bytes) on cpu: next step ${line(r.nextStep)}`,
      );
      // The two large variables keep codes and absmax, the small one float32 moments.
      const moments = optimizer === 'adamw' ? ['expAvg', 'expAvgSq'] : ['m'];
      const quantized = moments.flatMap((m) => [`${m}Absmax`, `${m}Codes`]);
      expect(r.slotNames).toEqual([quantized, quantized, moments]);
      for (const [name, d] of [
        ['trajectory params', r.trajectoryParams],
        ['trajectory moments', r.trajectoryMoments],
        ['stepwise params', r.stepwiseParams],
        ['stepwise moments', r.stepwiseMoments],
        ['next step from webgpu state on cpu', r.nextStep],
      ] as const) {
        expect(d.failures, `${optimizer} ${name}`).toEqual([]);
        expect(d.worst, `${optimizer} ${name}`).toBeLessThanOrEqual(1);
        expect(d.compared, `${optimizer} ${name}`).toBeGreaterThan(0);
      }
      // Per step, each quantised slot of the two large variables is dequantised and quantised once;
      // on cpu with fused kernels off by composite tfjs ops, on webgpu by its kernels always.
      const slots = optimizer === 'adamw' ? 4 : 2;
      for (const side of ['cpu', 'webgpu'] as const) {
        const calls = side === 'webgpu' || fusedKernels ? slots : 0;
        expect(r.kernels[side], `${optimizer}: 8-bit kernels per step on ${side}`).toEqual(
          r.kernels[side].map(() => ({ OptimkitQuantize8bit: calls, OptimkitDequantize8bit: calls })),
        );
      }
      expect(r.stateBytesEqual, "webgpu's saved state, loaded and saved again on cpu").toBe(true);
      for (const side of ['cpu', 'webgpu'] as const) {
        const { baseline, steps, afterDispose } = r.tensors[side];
        expect(steps.slice(1), `${optimizer} numTensors on ${side} from step 2 on`).toEqual(
          steps.slice(1).map(() => steps[1]),
        );
        expect(afterDispose, `${optimizer} numTensors on ${side} after dispose()`).toBe(baseline);
      }
    });
  }
});

describe('8-bit state between webgl (three codes per int32) and webgpu (four)', () => {
  it("adamw's state saved on one loads on the other and steps as on cpu", async (context) => {
    if (info.unavailable) context.skip(`webgpu: ${info.unavailable}`);
    const r: PackingResult = await page.evaluate((request) => window.optimkitQuantized.packings(request), {
      optimizer: 'adamw' as const,
      seed: 41,
      steps: 3,
      fusedKernels: true,
    });
    console.log(
      `codes of [5000]: ${r.webglCodes} on webgl, ${r.webgpuCodes} on webgpu; webgl state stepped on webgpu: ${line(r.fromWebGL)}; ` +
        `webgpu state stepped on webgl: ${line(r.fromWebGPU)}`,
    );
    expect([r.webglCodes, r.webgpuCodes]).toEqual([Math.ceil((20 * 256) / 3), (20 * 256) / 4]);
    for (const [name, d] of [
      ['webgl state on webgpu', r.fromWebGL],
      ['webgpu state on webgl', r.fromWebGPU],
    ] as const) {
      expect(d.failures, name).toEqual([]);
      expect(d.worst, name).toBeLessThanOrEqual(1);
      expect(d.compared, name).toBeGreaterThan(0);
    }
  });
});
