import { adam, adamax, adamw, nadam, radam } from '@optimkit/adam';
import { adadelta, adagrad, rmsprop } from '@optimkit/adaptive';
import { adafactor, came } from '@optimkit/factored';
import { lamb, lars } from '@optimkit/layerwise';
import { lion } from '@optimkit/lion';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';
import { adabelief } from './plugin/adabelief.js';

/** Where an optimizer comes from. */
export type Source = 'optimkit' | 'tf.train' | 'plugin';

/** The top-level hyperparameters a user may change (the web page); each optimizer takes those it has. */
export type Overrides = Partial<
  Record<'learningRate' | 'momentum' | 'beta1' | 'beta2' | 'weightDecay', number>
>;

/** One optimizer of the comparisons, with hyperparameters chosen per task. */
export interface CatalogEntry {
  name: string;
  label: string;
  source: Source;
  /** For the 784-200-10 MNIST MLP, batch 64; `overrides` replace top-level options (param groups stay). */
  mnist: (overrides?: Overrides) => tf.Optimizer;
  /** For the 2-D surfaces, given a learning-rate scale for the surface (1 = nominal). */
  surface: (scale: number, overrides?: Overrides) => tf.Optimizer;
}

/** Biases and other vectors: no weight decay and no trust ratio, as usual. */
const isVector = (v: tf.Variable) => v.rank <= 1;

export const catalog: readonly CatalogEntry[] = [
  {
    name: 'sgd',
    label: 'SGD + Nesterov',
    source: 'optimkit',
    mnist: (o) => sgd({ learningRate: 0.05, momentum: 0.9, nesterov: true, ...o }),
    surface: (s, o) => sgd({ learningRate: 2e-3 * s, momentum: 0.9, nesterov: true, ...o }),
  },
  {
    name: 'adagrad',
    label: 'AdaGrad',
    source: 'optimkit',
    mnist: (o) => adagrad({ learningRate: 0.03, ...o }),
    surface: (s, o) => adagrad({ learningRate: 0.5 * s, ...o }),
  },
  {
    name: 'rmsprop',
    label: 'RMSProp',
    source: 'optimkit',
    mnist: (o) => rmsprop({ learningRate: 1e-3, ...o }),
    surface: (s, o) => rmsprop({ learningRate: 1e-2 * s, ...o }),
  },
  {
    name: 'adadelta',
    label: 'AdaDelta',
    source: 'optimkit',
    mnist: (o) => adadelta({ learningRate: 1, ...o }),
    surface: (s, o) => adadelta({ learningRate: 10 * s, ...o }),
  },
  {
    name: 'adam',
    label: 'Adam',
    source: 'optimkit',
    mnist: (o) => adam({ learningRate: 1e-3, ...o }),
    surface: (s, o) => adam({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'amsgrad',
    label: 'AMSGrad',
    source: 'optimkit',
    mnist: (o) => adam({ learningRate: 1e-3, amsgrad: true, ...o }),
    surface: (s, o) => adam({ learningRate: 0.05 * s, amsgrad: true, ...o }),
  },
  {
    name: 'adamw',
    label: 'AdamW',
    source: 'optimkit',
    mnist: (o) =>
      adamw({
        learningRate: 1e-3,
        weightDecay: 1e-2,
        paramGroups: [{ match: isVector, weightDecay: 0 }],
        ...o,
      }),
    surface: (s, o) => adamw({ learningRate: 0.05 * s, weightDecay: 0, ...o }),
  },
  {
    name: 'adamax',
    label: 'Adamax',
    source: 'optimkit',
    mnist: (o) => adamax({ learningRate: 2e-3, ...o }),
    surface: (s, o) => adamax({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'nadam',
    label: 'NAdam',
    source: 'optimkit',
    mnist: (o) => nadam({ learningRate: 2e-3, ...o }),
    surface: (s, o) => nadam({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'radam',
    label: 'RAdam',
    source: 'optimkit',
    mnist: (o) => radam({ learningRate: 1e-3, ...o }),
    surface: (s, o) => radam({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'lars',
    label: 'LARS',
    source: 'optimkit',
    mnist: (o) =>
      lars({
        learningRate: 5,
        momentum: 0.9,
        weightDecay: 1e-4,
        paramGroups: [{ match: isVector, weightDecay: 0, trustRatio: false, learningRate: 0.05 }],
        ...o,
      }),
    surface: (s, o) => lars({ learningRate: 20 * s, momentum: 0.9, ...o }),
  },
  {
    name: 'lamb',
    label: 'LAMB',
    source: 'optimkit',
    mnist: (o) =>
      lamb({
        learningRate: 5e-3,
        weightDecay: 1e-2,
        paramGroups: [{ match: isVector, weightDecay: 0, trustRatio: false }],
        ...o,
      }),
    surface: (s, o) => lamb({ learningRate: 0.02 * s, ...o }),
  },
  {
    name: 'lion',
    label: 'Lion',
    source: 'optimkit',
    mnist: (o) =>
      lion({
        learningRate: 2e-4,
        weightDecay: 0.1,
        paramGroups: [{ match: isVector, weightDecay: 0 }],
        ...o,
      }),
    surface: (s, o) => lion({ learningRate: 0.01 * s, ...o }),
  },
  {
    name: 'adafactor',
    label: 'Adafactor',
    source: 'optimkit',
    mnist: (o) => adafactor({ ...o }),
    surface: (s, o) =>
      adafactor({ learningRate: 0.05 * s, relativeStep: false, scaleParameter: false, ...o }),
  },
  {
    name: 'came',
    label: 'CAME',
    source: 'optimkit',
    mnist: (o) => came({ learningRate: 5e-4, ...o }),
    surface: (s, o) => came({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'adabelief',
    label: 'AdaBelief (plugin)',
    source: 'plugin',
    mnist: (o) => adabelief({ learningRate: 1e-3, ...o }),
    surface: (s, o) => adabelief({ learningRate: 0.05 * s, ...o }),
  },
  {
    name: 'tf-sgd',
    label: 'tf.train.sgd',
    source: 'tf.train',
    mnist: (o) => tf.train.sgd(o?.learningRate ?? 0.1),
    surface: (s, o) => tf.train.sgd(o?.learningRate ?? 2e-3 * s),
  },
  {
    name: 'tf-momentum',
    label: 'tf.train.momentum',
    source: 'tf.train',
    mnist: (o) => tf.train.momentum(o?.learningRate ?? 0.05, o?.momentum ?? 0.9, true),
    surface: (s, o) => tf.train.momentum(o?.learningRate ?? 2e-3 * s, o?.momentum ?? 0.9, true),
  },
  {
    name: 'tf-adam',
    label: 'tf.train.adam',
    source: 'tf.train',
    mnist: (o) => tf.train.adam(o?.learningRate ?? 1e-3, o?.beta1, o?.beta2),
    surface: (s, o) => tf.train.adam(o?.learningRate ?? 0.05 * s, o?.beta1, o?.beta2),
  },
];

/** The catalog entries for `names` (all when empty); throws a one-line error naming the valid choices. */
export function selectOptimizers(names: readonly string[]): CatalogEntry[] {
  if (names.length === 0) return [...catalog];
  const unknown = names.filter((n) => !catalog.some((e) => e.name === n));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown optimizer${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; valid: ${catalog.map((e) => e.name).join(', ')}`,
    );
  }
  return names.map((n) => catalog.find((e) => e.name === n)!);
}

/** A mistake in how the program was called: reported in one line with a non-zero exit. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Bytes of optimizer state: optimkit reports its own; for tf.train, the size of its weights. */
export async function optimizerStateBytes(optimizer: tf.Optimizer): Promise<number> {
  const own = (optimizer as { stateBytes?: () => number }).stateBytes;
  if (typeof own === 'function') return own.call(optimizer);
  try {
    const weights = await optimizer.getWeights();
    const bytes = weights.slice(1).reduce((sum, w) => sum + w.tensor.size * 4, 0);
    weights[0]?.tensor.dispose();
    return bytes;
  } catch {
    return Number.NaN;
  }
}
