/**
 * 8-bit optimizer state on WebGL (SwiftShader WebGL 2, the harness's `CHROMIUM_ARGS`) and on WebGPU
 * (`WEBGPU_ARGS`) in Debian's chromium, each in its own session, against the cpu backend in the
 * same page: core's GLSL/WGSL (de)quantisation kernels on seeded values (absmax and dequantised
 * values bit for bit; codes equal but where a 2.5-ulp division may move a quotient within 4 ulp of a
 * midpoint), and `adamw`/`lion` with `stateDtype: 'int8'` trained on both backends. On WebGL also a
 * `tf.setBackend` switch mid-training, and (`?f16`) the refusal without float32 textures. WebGL must
 * be there (the tests fail without it); without a WebGPU adapter the WebGPU tests say so and are
 * skipped.
 */
import { CHROMIUM_ARGS, WEBGPU_ARGS } from '@optimkit/browser-harness';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendInfo, GpuBackend } from '../src/protocol.js';
import type {
  Discrepancy,
  Float16RefusalResult,
  KernelResult,
  MemoryResult,
  OptimizerResult,
  PackingResult,
  RefusalResult,
  SwitchResult,
} from '../src/quantized-protocol.js';
import { type Session, servedPage } from './served-page.js';

const SIZES = [1, 3, 255, 256, 257, 4096, 10_001, 100_000];
const STEPS = 20;
/**
 * The large case, 2^24 + 1 values (65 537 blocks), on both backends. WebGPU: 2^22 + 1 words, past its
 * 65 535 workgroups per dimension. WebGL: 5 592 406 words of three codes in textures of more than
 * 4096² texels; SwiftShader runs it in about the time WebGPU takes, so no smaller case stands in.
 */
const LARGE = 2 ** 24 + 1;
/** Codes per int32 element on each backend (cpu and webgpu four, webgl three: below 2^24). */
const PER_WORD: Record<GpuBackend, number> = { webgl: 3, webgpu: 4 };
/** The int32 elements of the codes of `blocks` blocks, `perWord` codes to each. */
const words = (blocks: number, perWord: number) => Math.ceil((blocks * 256) / perWord);

const open = servedPage();

const line = (d: Discrepancy) => `worst ${d.worst.toExponential(2)} of ${d.compared} compared`;

/** No element beyond its allowance, and some compared. */
function expectWithin(d: Discrepancy, label: string): void {
  expect(d.failures, label).toEqual([]);
  expect(d.worst, label).toBeLessThanOrEqual(1);
  expect(d.compared, label).toBeGreaterThan(0);
}

function describeQuantized(backend: GpuBackend, args: readonly string[]): void {
  describe(`${backend} session`, () => {
    let session: Session;
    let page: Page;
    let info: BackendInfo;

    beforeAll(async () => {
      session = await open(args);
      page = session.page;
      info = await page.evaluate((b) => window.optimkitBrowser.init(b), backend);
      // WebGL is always there (SwiftShader); WebGPU only where chromium finds an adapter.
      if (info.unavailable && backend === 'webgl') throw new Error(`webgl: ${info.unavailable}`);
      console.log(
        info.unavailable
          ? `${backend}: ${info.unavailable}: the 8-bit tests are not run`
          : `${backend}: ${info.device}`,
      );
    });

    afterAll(async () => {
      await session?.close();
    });

    describe(`8-bit (de)quantisation kernels: ${backend} ≡ cpu`, () => {
      it(`quantises ${SIZES.length} sizes on both maps as the cpu kernel`, async (context) => {
        if (info.unavailable) context.skip(`${backend}: ${info.unavailable}`);
        if (backend === 'webgl') expect(info.device).toMatch(/^WebGL 2/);
        const result: KernelResult = await page.evaluate(
          (request) => window.optimkitQuantized.kernels(request),
          { backend, seed: 2718, sizes: SIZES, large: LARGE, timedSize: 1_000_000 },
        );
        expect(result.backend).toBe(backend);
        let flips = 0;
        let near = 0;
        for (const c of result.cases) {
          const label = `${backend}: n = ${c.size}, ${c.map}`;
          console.log(
            `${label}: ${c.blocks} blocks (${c.zeroBlocks} zero, ${c.nanBlocks} NaN, absmax ${c.smallestAbsmax.toExponential(2)}…${c.largestAbsmax.toExponential(2)}); ` +
              `${c.codeMismatches} codes differ, ${c.nearMidpointFlips} of them by one next to a midpoint (of ${c.nearMidpointValues} values within 4 ulp of one)`,
          );
          // The codes as this backend packs them.
          expect([c.codesPerWord, c.words], label).toEqual([
            PER_WORD[backend],
            words(c.blocks, PER_WORD[backend]),
          ]);
          // Absmax and dequantised bits equal; codes too but for one-code flips next to a midpoint.
          expect(
            {
              absmax: c.absmaxMismatches,
              codes: c.badCodes,
              otherFlips: c.codeMismatches - c.nearMidpointFlips,
              padding: c.badPadding,
              words: c.badWords,
              dequantized: c.dequantizeMismatches,
            },
            label,
          ).toEqual({ absmax: [], codes: [], otherFlips: 0, padding: 0, words: 0, dequantized: [] });
          flips += c.nearMidpointFlips;
          near += c.nearMidpointValues;
        }
        const values = SIZES.reduce((a, b) => a + b, 0) * 2 + LARGE;
        console.log(
          `${backend} codes: ${flips} of ${values} values differ from cpu (${near} within 4 ulp of a midpoint)`,
        );
        // The generator reaches what the cases are for.
        const all = result.cases;
        expect(all.some((c) => c.nanBlocks > 0 && c.map === 'signed')).toBe(true);
        expect(all.some((c) => c.nanBlocks > 0 && c.map === 'unsigned')).toBe(true);
        expect(all.some((c) => c.zeroBlocks > 0)).toBe(true);
        expect(Math.min(...all.map((c) => c.smallestAbsmax))).toBeLessThan(1e-7);
        expect(Math.max(...all.map((c) => c.largestAbsmax))).toBeGreaterThan(100);
        expect(all.at(-1)!.size).toBe(LARGE);
        expect(flips).toBeLessThanOrEqual(near);
        const { size, cpu, gpu } = result.times;
        console.log(
          `${size} values, median ms: quantise cpu ${cpu.quantizeMs.toFixed(1)}, ${backend} ${gpu.quantizeMs.toFixed(1)} ` +
            `(${(cpu.quantizeMs / gpu.quantizeMs).toFixed(2)}× as fast); dequantise cpu ${cpu.dequantizeMs.toFixed(1)}, ` +
            `${backend} ${gpu.dequantizeMs.toFixed(1)} (${(cpu.dequantizeMs / gpu.dequantizeMs).toFixed(2)}×) (SwiftShader: a CPU)`,
        );
        expect(flips).toBeLessThan(values * 1e-3);
      });

      const refuses = backend === 'webgpu';
      it(`holds no tensor between calls${refuses ? ' and refuses bad inputs by name, changing nothing' : ''}`, async (context) => {
        if (info.unavailable) context.skip(`${backend}: ${info.unavailable}`);
        const tensors: MemoryResult = await page.evaluate(
          (request) => window.optimkitQuantized.kernelMemory(request),
          { backend, size: 100_000, repeats: 4 },
        );
        const { baseline, held, afterDispose } = tensors;
        console.log(
          `${backend} numTensors: baseline ${baseline}, held ${held.join(', ')}, after disposal ${afterDispose.join(', ')}`,
        );
        // codes, absmax and values: the outputs only.
        expect(held).toEqual([1, 2, 3, 4].map(() => baseline + 3));
        expect(afterDispose).toEqual([1, 2, 3, 4].map(() => baseline));
        // The WebGL kernels check no arguments (core calls them with its own): WebGPU's refusals only.
        if (!refuses) return;
        const result: RefusalResult = await page.evaluate(() => window.optimkitQuantized.kernelRefusals());
        expect(result.errors).toHaveLength(6);
        const [intValues, blocks, floatCodes, size, absmax, wrongBackend] = result.errors;
        expect(intValues).toMatch(/^RangeError: quantizeWebGPU: values must be float32, got int32/);
        expect(blocks).toMatch(/^RangeError: quantizeWebGPU: 300 values make 2 blocks of 256, not 3/);
        expect(floatCodes).toMatch(
          /^RangeError: dequantizeWebGPU: codes must be int32 of 128 elements for 2 blocks, got float32/,
        );
        expect(size).toMatch(/^RangeError: dequantizeWebGPU: size 600 does not fit 2 blocks of 256 values/);
        expect(absmax).toMatch(
          /^RangeError: dequantizeWebGPU: codes must be int32 of 192 elements for 3 blocks/,
        );
        expect(wrongBackend).toMatch(/^Error: quantizeWebGPU runs on the webgpu backend, not on 'cpu'/);
        expect(result.changedNothing).toBe(true);
      });
    });

    describe(`adamw and lion with stateDtype 'int8': ${backend} ≡ cpu`, () => {
      const runs = [
        ['adamw', true],
        ['lion', true],
        ['adamw', false],
      ] as const;
      for (const [optimizer, fusedKernels] of runs) {
        it(`${optimizer}: ${STEPS} steps on [100, 100], [5000] and [5], fused kernels ${fusedKernels ? 'on' : 'off'}`, async (context) => {
          if (info.unavailable) context.skip(`${backend}: ${info.unavailable}`);
          const r: OptimizerResult = await page.evaluate(
            (request) => window.optimkitQuantized.optimizer(request),
            { backend, optimizer, seed: optimizer === 'adamw' ? 31 : 37, steps: STEPS, fusedKernels },
          );
          expect(r.backends).toEqual({ cpu: ['cpu'], gpu: [backend] });
          console.log(
            `${r.label}: trajectories: params ${line(r.trajectoryParams)}, moments ${line(r.trajectoryMoments)}, ` +
              `code flips per step ${r.trajectoryCodeFlips.join(' ')}; ` +
              `each step from cpu's state: params ${line(r.stepwiseParams)}, moments ${line(r.stepwiseMoments)}, ` +
              `${r.stepwiseCodeFlips} code flips; ${backend}'s state (${r.stateBytes} bytes, codes of ${r.savedCodes.join(', ')}) ` +
              `on cpu: next step ${line(r.nextStep)}`,
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
            [`next step from ${backend} state on cpu`, r.nextStep],
          ] as const) {
            expectWithin(d, `${backend} ${optimizer} ${name}`);
          }
          // Per step, each quantised slot of the two large variables is dequantised and quantised once;
          // on cpu with fused kernels off by composite tfjs ops, on the GPU backend by its kernels always.
          const slots = optimizer === 'adamw' ? 4 : 2;
          for (const side of ['cpu', 'gpu'] as const) {
            const calls = side === 'gpu' || fusedKernels ? slots : 0;
            const where = side === 'gpu' ? backend : side;
            expect(r.kernels[side], `${optimizer}: 8-bit kernels per step on ${where}`).toEqual(
              r.kernels[side].map(() => ({ OptimkitQuantize8bit: calls, OptimkitDequantize8bit: calls })),
            );
            expect(r.kernels[side], `${optimizer}: steps on ${where}`).toHaveLength(STEPS);
          }
          // The saved codes are packed as the backend packs them: [100, 100] has 40 blocks, [5000] 20.
          const perMoment = (blocks: number) => moments.map(() => words(blocks, PER_WORD[backend]));
          expect(r.savedCodes, `${backend}'s saved codes lengths`).toEqual([
            ...perMoment(40),
            ...perMoment(20),
          ]);
          expect(r.stateBytesEqual, `${backend}'s saved state, loaded and saved again on cpu`).toBe(true);
          for (const side of ['cpu', 'gpu'] as const) {
            const where = side === 'gpu' ? backend : side;
            const { baseline, steps, afterDispose } = r.tensors[side];
            expect(steps, `${optimizer} numTensors on ${where}`).toHaveLength(STEPS);
            expect(steps.slice(1), `${optimizer} numTensors on ${where} from step 2 on`).toEqual(
              steps.slice(1).map(() => steps[1]),
            );
            expect(afterDispose, `${optimizer} numTensors on ${where} after dispose()`).toBe(baseline);
          }
        });
      }
    });

    if (backend === 'webgpu') {
      describe('8-bit state between webgl (three codes per int32) and webgpu (four)', () => {
        it("adamw's state saved on one loads on the other and steps as on cpu", async (context) => {
          if (info.unavailable) context.skip(`webgpu: ${info.unavailable}`);
          const r: PackingResult = await page.evaluate(
            (request) => window.optimkitQuantized.packings(request),
            {
              backend: 'webgpu' as const,
              optimizer: 'adamw' as const,
              seed: 41,
              steps: 3,
              fusedKernels: true,
            },
          );
          console.log(
            `codes of [5000]: ${r.webglCodes} on webgl, ${r.webgpuCodes} on webgpu; webgl state stepped on webgpu: ${line(r.fromWebGL)}; ` +
              `webgpu state stepped on webgl: ${line(r.fromWebGPU)}`,
          );
          expect([r.webglCodes, r.webgpuCodes]).toEqual([Math.ceil((20 * 256) / 3), (20 * 256) / 4]);
          expectWithin(r.fromWebGL, 'webgl state on webgpu');
          expectWithin(r.fromWebGPU, 'webgpu state on webgl');
        });
      });
    }

    if (backend === 'webgl') {
      describe("tf.setBackend between steps of adamw({ stateDtype: 'int8' })", () => {
        it('3 steps on webgl, 3 on cpu, 2 on webgl: the codes repacked at each switch, the steps as without one', async () => {
          const r: SwitchResult = await page.evaluate(
            (request) => window.optimkitQuantized.backendSwitch(request),
            { seed: 47, before: 3, after: 3, back: 2 },
          );
          console.log(
            `backends ${r.backends.join(' ')}; codes lengths per step ${r.codeLengths.map((l) => l.join('/')).join(' ')}; ` +
              `numTensors ${r.tensors.baseline} → ${r.tensors.steps.join(' ')} → ${r.tensors.afterDispose}; ` +
              `step 6 against webgl → saveState → cpu: ${line(r.againstResumed)}; against cpu only: ${line(r.againstCpu)}; ` +
              `step 8 (back on webgl) against cpu only: ${line(r.finalAgainstCpu)}`,
          );
          const webgl = ['webgl', 'webgl', 'webgl'];
          expect(r.backends).toEqual([...webgl, 'cpu', 'cpu', 'cpu', 'webgl', 'webgl']);
          // [100, 100]: 40 blocks, [5000]: 20; expAvg and expAvgSq each.
          const lengths = (perWord: number) => [40, 40, 20, 20].map((blocks) => words(blocks, perWord));
          expect(r.codeLengths).toEqual([3, 3, 3, 4, 4, 4, 3, 3].map((perWord) => lengths(perWord)));
          expectWithin(r.againstResumed, 'step 6 against the run resumed on cpu from webgl');
          expectWithin(r.againstCpu, 'step 6 against cpu only');
          expectWithin(r.finalAgainstCpu, 'step 8 against cpu only');
          // Neither switch leaves a tensor behind.
          const { baseline, steps, afterDispose } = r.tensors;
          expect(steps.slice(1), 'numTensors from step 2 on').toEqual(steps.slice(1).map(() => steps[1]));
          expect(afterDispose, 'numTensors after dispose()').toBe(baseline);
        });
      });
    }
  });
}

describeQuantized('webgl', CHROMIUM_ARGS);
describeQuantized('webgpu', WEBGPU_ARGS);

describe('webgl on float16 textures (?f16: WEBGL_RENDER_FLOAT32_ENABLED false)', () => {
  let session: Session;
  beforeAll(async () => {
    session = await open(CHROMIUM_ARGS, '?f16');
    const info = await session.page.evaluate(() => window.optimkitBrowser.init('webgl'));
    if (info.unavailable) throw new Error(`webgl: ${info.unavailable}`);
  });
  afterAll(async () => {
    await session?.close();
  });

  it("adamw({ stateDtype: 'int8' }) refuses its first step by the variable's name and changes nothing", async () => {
    const r: Float16RefusalResult = await session.page.evaluate(() =>
      window.optimkitQuantized.float16Refusal(),
    );
    console.log(`webgl float16: ${r.error}`);
    expect(r.float32Textures).toBe(false);
    expect(r.error).toMatch(
      /^Error: OptimkitAdamW: 8-bit state \(stateDtype 'int8'\) of 'q8f16\d+\/v0' needs float32 textures, which this WebGL device lacks/,
    );
    expect(r.slotsKept, 'slots kept after the refusal').toBe(false);
    expect(r.iterations).toBe(0);
    expect(r.variablesUnchanged, 'variables unchanged').toBe(true);
    expect(r.tensorsAfter, 'numTensors after the refusal').toBe(r.tensorsBefore);
  });
});
