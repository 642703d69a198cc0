import { ema } from '@optimkit/averaging';
import { sgd } from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { catalog, evaluateWithAverage } from './catalog.js';

describe('evaluateWithAverage', () => {
  it('evaluates an averaging optimizer with its average and swaps back; others as they are', () => {
    const x = tf.variable(tf.tensor1d([1, 2]), true, 'catalogEvaluateX');
    const averaging = ema(sgd({ learningRate: 0.5 }), { decay: 0.5 });
    const g = tf.tensor1d([1, 1]);
    averaging.applyGradients({ [x.name]: g });
    // θ = [0.5, 1.5]; avg = 0.5·[1, 2] + 0.5·[0.5, 1.5] = [0.75, 1.75].
    expect(evaluateWithAverage(averaging, () => Array.from(x.dataSync()))).toEqual([0.75, 1.75]);
    expect(Array.from(x.dataSync())).toEqual([0.5, 1.5]);
    expect(averaging.usingAverage).toBe(false);
    const plain = sgd({ learningRate: 0.5 });
    expect(evaluateWithAverage(plain, () => Array.from(x.dataSync()))).toEqual([0.5, 1.5]);
    averaging.dispose();
    plain.dispose();
    tf.dispose([x, g]);
  });

  it('the catalog has the three averaging wrappers', () => {
    expect(catalog.filter((e) => e.family === 'Averaging').map((e) => e.name)).toEqual([
      'lookahead-adam',
      'ema-sgd',
      'swa-sgd',
    ]);
  });
});
