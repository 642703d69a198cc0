/**
 * The reliability contract across every first-party optimizer: bounded cost for any accepted
 * state (the NAdam case runs in a child process with a small heap, so that a regression fails the
 * test instead of the runner), epsilons that would vanish in float32 refused, `maximize`, scheduled
 * momentum creating its buffer as PyTorch does, and non-finite restored slots refused.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adabelief, adam, adamax, adamw, adopt, nadam, radam, yogi } from '@optimkit/adam';
import { adadelta, adagrad, rmsprop, rprop } from '@optimkit/adaptive';
import { loadOptimizer, type OptimkitOptimizer, setFusedKernels } from '@optimkit/core';
import { adafactor, came, sm3 } from '@optimkit/factored';
import { lamb, lars, novograd } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { adan, ademamix } from '@optimkit/multi-momentum';
import { scheduleFreeAdamW, scheduleFreeSgd } from '@optimkit/schedule-free';
import { asgd, sgd, signum } from '@optimkit/sgd';
import { rewriteState } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: one table of factories with different option types
type Factory = (options?: any) => OptimkitOptimizer<any>;

const ALL: readonly [string, Factory, object][] = [
  ['sgd', sgd, { momentum: 0.9, weightDecay: 0.1 }],
  ['adagrad', adagrad, {}],
  ['rmsprop', rmsprop, { momentum: 0.5, centered: true }],
  ['adadelta', adadelta, {}],
  ['adam', adam, { amsgrad: true }],
  ['adamw', adamw, {}],
  ['adamax', adamax, {}],
  ['nadam', nadam, { decoupledWeightDecay: true, weightDecay: 0.1 }],
  ['radam', radam, {}],
  ['lion', lion, { weightDecay: 0.1 }],
  ['lamb', lamb, {}],
  ['lars', lars, { learningRate: 0.1, momentum: 0.9 }],
  ['adafactor', adafactor, { beta1: 0.9 }],
  ['came', came, { learningRate: 2e-4 }],
  ['rprop', rprop, {}],
  ['asgd', asgd, { t0: 2 }],
  ['signum', signum, { weightDecay: 0.1 }],
  ['novograd', novograd, { learningRate: 0.01 }],
  ['sm3', sm3, { learningRate: 0.1 }],
  ['adabelief', adabelief, { amsgrad: true, rectify: false }],
  ['yogi', yogi, {}],
  ['adopt', adopt, { weightDecay: 0.1, decoupledWeightDecay: true }],
  ['adan', adan, { weightDecay: 0.02 }],
  ['ademamix', ademamix, { alphaWarmup: 3, beta3Warmup: 3 }],
  ['scheduleFreeAdamW', scheduleFreeAdamW, { warmupSteps: 2 }],
  ['scheduleFreeSgd', scheduleFreeSgd, {}],
];

let counter = 0;
function variables(): tf.Variable[] {
  counter += 1;
  return [[4, 3], [5]].map((shape, i) =>
    tf.tidy(() =>
      tf.variable(
        tf
          .linspace(
            -1,
            1,
            shape.reduce((a, b) => a * b, 1),
          )
          .reshape(shape),
        true,
        `rel${counter}/${i}`,
      ),
    ),
  );
}

function gradients(vars: readonly tf.Variable[], step: number): tf.NamedTensorMap {
  return Object.fromEntries(
    vars.map((v, i) => [
      v.name,
      tf.tidy(() => tf.sin(tf.add(tf.mul(tf.linspace(0, 3, v.size), step + 1 + i), i)).reshape(v.shape)),
    ]),
  );
}

describe('every optimizer', () => {
  it('refuses each of its epsilons below the smallest normal float32 (it would be 0 on the GPU)', () => {
    let checked = 0;
    for (const [name, make, options] of ALL) {
      const epsilons = (make(options).definition.epsilons ?? []) as readonly string[];
      for (const key of epsilons) {
        expect(() => make({ ...options, [key]: 1e-50 }), `${name}.${key}`).toThrow(
          new RegExp(`Invalid ${key}: 1e-50 \\(below float32's smallest normal`),
        );
        checked += 1;
      }
    }
    // Every optimizer with a division by a root declares its epsilon: all but sgd, lion, rprop,
    // asgd, signum, scheduleFreeSgd and sm3 (whose epsilon is Optax's fixed 1e-8); came has two.
    expect(checked).toBe(20);
  });

  it('maximize equals minimizing with negated gradients, bit for bit, fused and composite', () => {
    for (const fused of [true, false]) {
      setFusedKernels(fused);
      try {
        for (const [name, make, options] of ALL) {
          const up = variables();
          const down = variables();
          const maximizing = make({ ...options, maximize: true });
          const minimizing = make(options);
          for (let step = 0; step < 4; step++) {
            const g = gradients(up, step);
            const negated = Object.fromEntries(
              down.map((v, i) => [v.name, tf.neg(Object.values(g)[i]!)]),
            ) as tf.NamedTensorMap;
            maximizing.applyGradients(g);
            minimizing.applyGradients(negated);
            tf.dispose([...Object.values(g), ...Object.values(negated)]);
          }
          up.forEach((v, i) => {
            expect(Array.from(v.dataSync()), `${name} fused=${fused}`).toEqual(
              Array.from(down[i]!.dataSync()),
            );
          });
          for (const o of [maximizing, minimizing]) o.dispose();
          tf.dispose([...up, ...down]);
        }
      } finally {
        setFusedKernels(true);
      }
    }
  });

  it('setWeights refuses a slot that holds NaN (Lion would stop moving; loadState: core tests)', async () => {
    for (const [name, make, options] of ALL) {
      const vars = variables();
      const optimizer = make(options);
      const g = gradients(vars, 0);
      optimizer.applyGradients(g);
      tf.dispose(Object.values(g));
      const weights = await optimizer.getWeights();
      const slotWeight = weights.find(
        (w) => w.name.startsWith(`${vars[0]!.name}/`) && !w.name.endsWith('State'),
      )!;
      const poisoned = weights.map((w) =>
        w === slotWeight ? { name: w.name, tensor: tf.fill(w.tensor.shape, Number.NaN) } : w,
      );
      const fresh = make(options);
      await expect(fresh.setWeights(poisoned), name).rejects.toThrow(/holds NaN at element 0/);
      expect(fresh.iterations).toBe(0);
      fresh.dispose();
      tf.dispose(poisoned.filter((w) => w !== weights.find((x) => x.name === w.name)).map((w) => w.tensor));
      optimizer.dispose();
      tf.dispose(vars);
    }
  });
});

describe('scheduled momentum (PyTorch: the buffer starts on first use, and is skipped while momentum is 0)', () => {
  // PyTorch's SGD in float64 with dampening 0: buf ← g on its first use, then μ·buf + g; while μ = 0
  // the buffer is neither used nor written.
  function reference(
    values: number[],
    grads: number[][],
    lr: number,
    mu: (step: number) => number,
  ): number[] {
    const p = [...values];
    let buf: number[] | null = null;
    grads.forEach((g, step) => {
      const m = mu(step);
      if (m === 0) {
        for (let i = 0; i < p.length; i++) p[i] = p[i]! - lr * g[i]!;
        return;
      }
      buf = buf === null ? [...g] : buf.map((b, i) => m * b + g[i]!);
      for (let i = 0; i < p.length; i++) p[i] = p[i]! - lr * buf[i]!;
    });
    return p;
  }

  it('sgd and lars (trust ratio off) follow PyTorch while the momentum goes 0 → 0.9 → 0 → 0.9', () => {
    const mu = (step: number) => (step < 2 || (step >= 4 && step < 6) ? 0 : 0.9);
    const grads = Array.from({ length: 9 }, (_, t) => [
      Math.fround(0.5 - 0.1 * t),
      Math.fround(-1 + 0.25 * t),
    ]);
    for (const make of [
      () => sgd({ learningRate: 0.1, momentum: mu }),
      () => lars({ learningRate: 0.1, momentum: mu, trustRatio: false }),
    ]) {
      counter += 1;
      const v = tf.variable(tf.tensor([1, -2]), true, `mom${counter}`);
      const optimizer = make();
      for (const g of grads) {
        const t = tf.tensor(g);
        optimizer.applyGradients({ [v.name]: t });
        t.dispose();
      }
      const expected = reference([1, -2], grads, 0.1, mu);
      Array.from(v.dataSync()).forEach((x, i) => {
        expect(Math.abs(x - expected[i]!)).toBeLessThan(1e-6 + 2e-4 * Math.abs(expected[i]!));
      });
      optimizer.dispose();
      v.dispose();
    }
  });

  it('rmsprop creates its buffer when momentum turns on and leaves it alone while momentum is 0', () => {
    counter += 1;
    const v = tf.variable(tf.tensor([1, -2]), true, `rms${counter}`);
    const mu = (step: number) => (step === 1 || step === 2 ? 0.5 : 0);
    const optimizer = rmsprop({ learningRate: 0.01, momentum: mu });
    const buffers: number[][] = [];
    for (let step = 0; step < 5; step++) {
      const t = tf.tensor([0.5, -1]);
      optimizer.applyGradients({ [v.name]: t });
      t.dispose();
      const buffer = optimizer.getSlots(v.name)?.momentumBuffer;
      buffers.push(buffer ? Array.from(buffer.dataSync()) : []);
    }
    expect(buffers[0]).toEqual([]);
    expect(buffers[1]!.length).toBe(2);
    expect(buffers[2]).not.toEqual(buffers[1]);
    // Momentum back at 0: the buffer keeps the value of step 3.
    expect(buffers[3]).toEqual(buffers[2]);
    expect(buffers[4]).toEqual(buffers[2]);
    optimizer.dispose();
    v.dispose();
  });
});

describe('bounded cost of accepted state', () => {
  it('a NAdam state at step 1e9 with β₁ = 0.99999999 and ψ = 1000 steps in a child process with a 96 MB heap', async () => {
    counter += 1;
    const v = tf.variable(tf.tensor([1, -2, 3]), true, `nadam-bomb${counter}`);
    const optimizer = nadam({ beta1: 0.99999999, momentumDecay: 1000 });
    const g = tf.tensor([0.1, 0.2, -0.3]);
    optimizer.applyGradients({ [v.name]: g });
    const bytes = rewriteState(await optimizer.saveState(), (h) => {
      h.iterations = 1e9;
      h.variables[0]!.step = 1e9;
      return h;
    });
    // Accepted here too: it is a valid state.
    const loaded = await loadOptimizer(bytes);
    loaded.dispose();
    // Inside the package, so that the script resolves the workspace packages.
    const here = dirname(fileURLToPath(import.meta.url));
    const cache = join(here, '../../node_modules/.cache');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, 'optimkit-bomb-'));
    try {
      writeFileSync(join(dir, 'state.bin'), bytes);
      const script = join(dir, 'step.mts');
      writeFileSync(
        script,
        [
          "import { readFileSync } from 'node:fs';",
          "import * as tf from '@tensorflow/tfjs';",
          "import '@optimkit/adam';",
          "import { loadOptimizer } from '@optimkit/core';",
          `tf.variable(tf.tensor([1, -2, 3]), true, ${JSON.stringify(v.name)});`,
          `const optimizer = await loadOptimizer(readFileSync(${JSON.stringify(join(dir, 'state.bin'))}));`,
          `for (let i = 0; i < 3; i++) optimizer.applyGradients({ ${JSON.stringify(v.name)}: tf.tensor([0.1, 0.2, -0.3]) });`,
          'console.log(JSON.stringify({ iterations: optimizer.iterations, values: Array.from(tf.engine().registeredVariables[' +
            `${JSON.stringify(v.name)}].dataSync()) }));`,
        ].join('\n'),
      );
      const result = spawnSync(
        process.execPath,
        ['--max-old-space-size=96', '--conditions=@optimkit/source', '--import', 'tsx', script],
        { cwd: join(here, '../..'), encoding: 'utf8', timeout: 300_000 },
      );
      expect(result.status, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as {
        iterations: number;
        values: number[];
      };
      expect(out.iterations).toBe(1e9 + 3);
      expect(out.values.every(Number.isFinite)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      optimizer.dispose();
      g.dispose();
      v.dispose();
    }
  }, 180_000);
});
