/**
 * Pins the bits every optimizer produces on the cpu backend, on its composite path and its fused
 * path, to those recorded before the rule API (core v2) replaced the hand-written updates and
 * kernels: the port must not change a single bit. The fixture is `numerics-regression.snap.json`
 * beside this file; after an intended change of numerics, regenerate it with
 * `pnpm --filter @optimkit/playground exec vitest run src/integration/numerics-regression.test.ts -u`
 * and say why in the commit.
 */
import { createHash } from 'node:crypto';
import {
  adabelief as adabeliefOptimkit,
  adam,
  adamax,
  adamw,
  adopt,
  nadam,
  radam,
  yogi,
} from '@optimkit/adam';
import { adadelta, adagrad, rmsprop, rprop } from '@optimkit/adaptive';
import { ema, lookahead, swa } from '@optimkit/averaging';
import { type OptimkitOptimizer, setFusedKernels } from '@optimkit/core';
import { adafactor, came, sm3 } from '@optimkit/factored';
import { lamb, lars, novograd } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { adan, ademamix } from '@optimkit/multi-momentum';
import { muon } from '@optimkit/muon';
import { prodigy } from '@optimkit/prodigy';
import { scheduleFreeAdamW, scheduleFreeSgd } from '@optimkit/schedule-free';
import { asgd, sgd, signum } from '@optimkit/sgd';
import { float32Values, seededRandom } from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adabelief } from '../plugin/adabelief.js';

const SHAPES: readonly (readonly number[])[] = [[], [5], [3, 4], [2, 3, 4]];
const STEPS = 12;
const small = { match: (v: tf.Variable) => v.rank <= 1, weightDecay: 0, learningRate: 0.05 };
const decaying = (s: number) => 0.02 * 0.9 ** s;

// biome-ignore lint/suspicious/noExplicitAny: one table of factories with different option types
type Factory = (options: any) => OptimkitOptimizer<any>;

const CASES: readonly [string, Factory, readonly object[]][] = [
  [
    'sgd',
    sgd,
    [
      {},
      { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 },
      { learningRate: decaying, momentum: 0.8, dampening: 0.3, paramGroups: [small] },
    ],
  ],
  [
    'adagrad',
    adagrad,
    [{}, { learningRate: 0.1, lrDecay: 0.01, weightDecay: 0.1, initialAccumulatorValue: 0.2 }],
  ],
  [
    'rmsprop',
    rmsprop,
    [
      {},
      { learningRate: 0.01, momentum: 0.9, centered: true, weightDecay: 0.1 },
      { learningRate: decaying, alpha: 0.9, paramGroups: [small] },
    ],
  ],
  ['adadelta', adadelta, [{}, { learningRate: 0.5, rho: 0.8, weightDecay: 0.1 }]],
  [
    'adam',
    adam,
    [
      {},
      { learningRate: 0.05, amsgrad: true, weightDecay: 0.1 },
      { learningRate: decaying, beta2: (s: number) => 0.99 - 0.001 * s, paramGroups: [small] },
    ],
  ],
  ['adamw', adamw, [{}, { learningRate: 0.05, weightDecay: 0.1, amsgrad: true }]],
  ['adamax', adamax, [{}, { learningRate: 0.05, weightDecay: 0.1 }]],
  [
    'nadam',
    nadam,
    [{}, { learningRate: 0.05, weightDecay: 0.1, decoupledWeightDecay: true, momentumDecay: 0.01 }],
  ],
  ['radam', radam, [{}, { learningRate: 0.05, weightDecay: 0.1, decoupledWeightDecay: true }]],
  [
    'lars',
    lars,
    [
      { learningRate: 0.1 },
      {
        learningRate: 0.1,
        nesterov: true,
        weightDecay: 0.01,
        paramGroups: [{ ...small, trustRatio: false }],
      },
    ],
  ],
  [
    'lamb',
    lamb,
    [{}, { learningRate: 0.01, weightDecay: 0.1, paramGroups: [{ ...small, trustRatio: false }] }],
  ],
  ['lion', lion, [{}, { learningRate: 0.01, beta1: 0.8, weightDecay: 0.1 }]],
  [
    'adafactor',
    adafactor,
    [{}, { learningRate: 0.01, beta1: 0.9, weightDecay: 0.1, scaleParameter: false }, { warmupInit: true }],
  ],
  ['came', came, [{ learningRate: 0.01 }, { learningRate: 0.01, weightDecay: 0.1, clipThreshold: 0.5 }]],
  ['adabelief', adabelief, [{}, { learningRate: 0.05, weightDecay: 0.1 }]],
  // Added with their optimizers (recorded when they landed, after the rule API).
  ['rprop', rprop, [{}, { learningRate: 0.05, etaMinus: 0.3, etaPlus: 1.5, stepSizeMax: 0.2 }]],
  ['asgd', asgd, [{}, { learningRate: 0.05, lambd: 0.01, t0: 2, weightDecay: 0.01 }]],
  ['signum', signum, [{}, { momentum: 0, weightDecay: 0.1, decoupledWeightDecay: true }]],
  ['novograd', novograd, [{ learningRate: 0.01 }, { learningRate: 0.02, beta1: 0.5, weightDecay: 0.1 }]],
  ['sm3', sm3, [{ learningRate: 0.1 }, { learningRate: 0.05, momentum: 0 }]],
  ['adabeliefOptimkit', adabeliefOptimkit, [{}, { amsgrad: true, rectify: false, weightDecay: 0.1 }]],
  ['yogi', yogi, [{}, { learningRate: 0.05, weightDecay: 0.1 }]],
  ['adopt', adopt, [{}, { weightDecay: 0.1, decoupledWeightDecay: true }]],
  ['adan', adan, [{}, { weightDecay: 0.02, noProx: true }]],
  ['ademamix', ademamix, [{}, { alphaWarmup: 3, beta3Warmup: 3 }]],
  [
    'muon',
    (o: object) => muon({ paramGroups: [{ match: (v: tf.Variable) => v.rank !== 2, useMuon: false }], ...o }),
    [{}],
  ],
  ['scheduleFreeAdamW', scheduleFreeAdamW, [{}, { innerMomentum: 0.9 }]],
  ['scheduleFreeSgd', scheduleFreeSgd, [{}]],
  ['prodigy', prodigy, [{}, { beta1: 0 }]],
  ['lookahead', (o: object) => lookahead(adam(), o), [{}, { syncPeriod: 3, slowStepSize: 0.3 }]],
  [
    'lookaheadSgd',
    (o: object) => lookahead(sgd({ learningRate: 0.05, momentum: 0.9 }), o),
    [{ syncPeriod: 2 }],
  ],
  [
    'ema',
    (o: object) => ema(sgd({ learningRate: 0.05, momentum: 0.9 }), o),
    [{ decay: 0.9 }, { decay: 0.99, warmup: true }],
  ],
  ['swa', (o: object) => swa(adamw(), o), [{}, { swaStart: 3, swaFrequency: 2 }]],
];

let counter = 0;

function digest(values: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest('hex')
    .slice(0, 16);
}

/** Runs `STEPS` steps from seeded values and returns the digests of every variable and slot. */
async function run(create: Factory, options: object, seed: number): Promise<Record<string, string>> {
  counter += 1;
  const random = seededRandom(seed);
  const variables = SHAPES.map((shape, v) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const init = tf.tensor(Float32Array.from(float32Values(random, size)), [...shape]);
    const variable = tf.variable(init, true, `numericsRegression${counter}/v${v}`);
    init.dispose();
    return variable;
  });
  const optimizer = create(options);
  for (let step = 0; step < STEPS; step++) {
    const grads = tf.tidy(() =>
      Object.fromEntries(
        variables.map((variable) => {
          const values = float32Values(random, variable.size, step < 4 ? 1 : 0.1);
          return [variable.name, tf.tensor(Float32Array.from(values), variable.shape)];
        }),
      ),
    );
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
  }
  const result: Record<string, string> = {};
  for (const [v, variable] of variables.entries()) {
    result[`v${v}`] = digest((await variable.data()) as Float32Array);
    const slots = optimizer.getSlots(variable.name) ?? {};
    for (const name of Object.keys(slots).sort()) {
      result[`v${v}/${name}`] = digest((await slots[name]!.data()) as Float32Array);
    }
  }
  optimizer.dispose();
  tf.dispose(variables);
  return result;
}

describe('numerics regression on cpu (bits recorded before the rule API)', () => {
  let previous: string;
  beforeAll(async () => {
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    setFusedKernels(true);
    await tf.setBackend(previous);
  });

  it('every optimizer gives the recorded bits, composite and fused', async () => {
    const record: Record<string, Record<string, string>> = {};
    for (const [name, create, optionSets] of CASES) {
      for (const [index, options] of optionSets.entries()) {
        setFusedKernels(false);
        const composite = await run(create, options, 1000 + index);
        setFusedKernels(true);
        const fused = await run(create, options, 1000 + index);
        expect(fused, `${name} option set ${index}: fused equals composite`).toEqual(composite);
        record[`${name}#${index}`] = composite;
      }
    }
    await expect(`${JSON.stringify(record, null, 2)}\n`).toMatchFileSnapshot(
      './numerics-regression.snap.json',
    );
  });
});
