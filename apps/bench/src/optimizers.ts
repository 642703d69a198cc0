import { adabelief, adam, adamax, adamw, adopt, nadam, radam, yogi } from '@optimkit/adam';
import { adadelta, adagrad, rmsprop, rprop } from '@optimkit/adaptive';
import { adafactor, came, sm3 } from '@optimkit/factored';
import { lamb, lars, novograd } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { adan, ademamix } from '@optimkit/multi-momentum';
import { muon } from '@optimkit/muon';
import { prodigy } from '@optimkit/prodigy';
import { scheduleFreeAdamW, scheduleFreeSgd } from '@optimkit/schedule-free';
import { asgd, sgd, signum } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';

/** A `tf.train` optimizer with the same update rule and hyperparameters (up to its documented differences). */
export interface TfTrainCounterpart {
  /** Key shared by the rows that compare against the same `tf.train` optimizer. */
  name: string;
  create: () => tf.Optimizer;
}

/** What the bench reads from an optimkit optimizer besides the `tf.Optimizer` API. */
export interface Inspectable extends tf.Optimizer {
  stateBytes(): number;
  getSlots(variableName: string): Readonly<Record<string, tf.Tensor>> | undefined;
}

export interface BenchOptimizer {
  /** CLI name. */
  name: string;
  /** The call that is measured, for the table. */
  label: string;
  create: () => Inspectable;
  tfTrain?: TfTrainCounterpart;
  /** The largest problem it is timed on, per backend (larger ones are left out of the tables). */
  maxParameters?: Partial<Record<'cpu' | 'wasm' | 'webgl' | 'webgpu', number>>;
  /** Backends it is not timed on at all, each with the reason the report gives. */
  notOn?: Partial<Record<'cpu' | 'wasm' | 'webgl' | 'webgpu', string>>;
}

const tfTrain = {
  sgd: { name: 'tf.train.sgd', create: () => tf.train.sgd(1e-3) },
  momentum: { name: 'tf.train.momentum', create: () => tf.train.momentum(1e-3, 0.9) },
  adagrad: { name: 'tf.train.adagrad', create: () => tf.train.adagrad(1e-2) },
  rmsprop: { name: 'tf.train.rmsprop', create: () => tf.train.rmsprop(1e-2, 0.99, 0, 1e-8) },
  adadelta: { name: 'tf.train.adadelta', create: () => tf.train.adadelta(1, 0.9, 1e-6) },
  adam: { name: 'tf.train.adam', create: () => tf.train.adam(1e-3, 0.9, 0.999, 1e-8) },
  adamax: { name: 'tf.train.adamax', create: () => tf.train.adamax(2e-3, 0.9, 0.999, 1e-8) },
} satisfies Record<string, TfTrainCounterpart>;

/**
 * Every optimkit factory with its defaults (the required learning rates of lars, came, novograd
 * and sm3 set to 1e-3), and the `tf.train` optimizer it is compared with. AdamW is compared with `tf.train.adam`,
 * which has no weight decay: that is the step a tfjs user replaces.
 */
export const benchOptimizers: readonly BenchOptimizer[] = [
  { name: 'sgd', label: 'sgd()', create: () => sgd(), tfTrain: tfTrain.sgd },
  {
    name: 'sgd-momentum',
    label: 'sgd({ momentum: 0.9 })',
    create: () => sgd({ momentum: 0.9 }),
    tfTrain: tfTrain.momentum,
  },
  { name: 'asgd', label: 'asgd()', create: () => asgd() },
  { name: 'signum', label: 'signum()', create: () => signum() },
  { name: 'adagrad', label: 'adagrad()', create: () => adagrad(), tfTrain: tfTrain.adagrad },
  { name: 'rmsprop', label: 'rmsprop()', create: () => rmsprop(), tfTrain: tfTrain.rmsprop },
  { name: 'adadelta', label: 'adadelta()', create: () => adadelta(), tfTrain: tfTrain.adadelta },
  { name: 'rprop', label: 'rprop()', create: () => rprop() },
  { name: 'adam', label: 'adam()', create: () => adam(), tfTrain: tfTrain.adam },
  { name: 'adamw', label: 'adamw()', create: () => adamw(), tfTrain: tfTrain.adam },
  {
    name: 'adamw-int8',
    label: "adamw({ stateDtype: 'int8' })",
    create: () => adamw({ stateDtype: 'int8' }),
    tfTrain: tfTrain.adam,
  },
  { name: 'adamax', label: 'adamax()', create: () => adamax(), tfTrain: tfTrain.adamax },
  { name: 'nadam', label: 'nadam()', create: () => nadam() },
  { name: 'radam', label: 'radam()', create: () => radam() },
  { name: 'adabelief', label: 'adabelief()', create: () => adabelief() },
  { name: 'yogi', label: 'yogi()', create: () => yogi() },
  { name: 'adopt', label: 'adopt()', create: () => adopt() },
  { name: 'lars', label: 'lars({ learningRate: 1e-3 })', create: () => lars({ learningRate: 1e-3 }) },
  { name: 'lamb', label: 'lamb()', create: () => lamb() },
  {
    name: 'novograd',
    label: 'novograd({ learningRate: 1e-3 })',
    create: () => novograd({ learningRate: 1e-3 }),
  },
  { name: 'lion', label: 'lion()', create: () => lion() },
  { name: 'lion-int8', label: "lion({ stateDtype: 'int8' })", create: () => lion({ stateDtype: 'int8' }) },
  { name: 'adafactor', label: 'adafactor()', create: () => adafactor() },
  { name: 'came', label: 'came({ learningRate: 1e-3 })', create: () => came({ learningRate: 1e-3 }) },
  { name: 'sm3', label: 'sm3({ learningRate: 1e-3 })', create: () => sm3({ learningRate: 1e-3 }) },
  { name: 'adan', label: 'adan()', create: () => adan() },
  { name: 'ademamix', label: 'ademamix()', create: () => ademamix() },
  {
    name: 'muon',
    label: 'muon({ paramGroups: [{ match: notMatrix, useMuon: false }] })',
    create: () => muon({ paramGroups: [{ match: (v) => v.rank !== 2, useMuon: false }] }),
    // Newton–Schulz's 15 matrix products run on tfjs's cpu matmul, a plain JavaScript loop: about
    // a minute per step at 1e6 parameters, eight at 4e6. On SwiftShader's WebGPU adapter one step at
    // 1e6 did not end in 20 minutes; on its WebGL, 14 s a step, so one browser row (fused and
    // composite, warm-ups, samples, counted steps) held the run for over 12 minutes.
    maxParameters: { cpu: 1e4, webgl: 1e5, webgpu: 1e5 },
  },
  { name: 'schedule-free-adamw', label: 'scheduleFreeAdamW()', create: () => scheduleFreeAdamW() },
  { name: 'schedule-free-sgd', label: 'scheduleFreeSgd()', create: () => scheduleFreeSgd() },
  {
    name: 'prodigy',
    label: 'prodigy()',
    create: () => prodigy(),
    // Its step reads sums back with dataSync(), which tfjs's WebGPU backend cannot do in headless
    // Chromium: prodigy refuses with a clear error, but the failed read loses the device, and with
    // it every later row of the run.
    notOn: { webgpu: 'its synchronous read of the d-estimate sums does not work on WebGPU here' },
  },
];

/** The catalog entries named in `names` (all when empty), in catalog order. */
export function selectOptimizers(names: readonly string[]): BenchOptimizer[] {
  if (names.length === 0) return [...benchOptimizers];
  const known = new Set(benchOptimizers.map((o) => o.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`Unknown optimizer(s) ${unknown.join(', ')}; choose from ${[...known].join(', ')}`);
  }
  return benchOptimizers.filter((o) => names.includes(o.name));
}
