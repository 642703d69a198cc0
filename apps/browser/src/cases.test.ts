/**
 * The case catalog in Node, on the cpu backend: every optimizer of every family is there, and
 * every option set trains the case problem (a few steps, finite values) — so that a browser failure
 * is the GPU's, not the catalog's.
 */
import * as adamFamily from '@optimkit/adam';
import * as adaptiveFamily from '@optimkit/adaptive';
import * as averagingFamily from '@optimkit/averaging';
import * as factoredFamily from '@optimkit/factored';
import * as layerwiseFamily from '@optimkit/layerwise';
import * as lionFamily from '@optimkit/lion';
import * as multiMomentumFamily from '@optimkit/multi-momentum';
import * as muonFamily from '@optimkit/muon';
import * as prodigyFamily from '@optimkit/prodigy';
import * as scheduleFreeFamily from '@optimkit/schedule-free';
import * as sgdFamily from '@optimkit/sgd';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  CASE_SHAPES,
  describeOptions,
  gradientValues,
  hasGradient,
  initialValues,
  OPTIMIZERS,
  SKIPPING_VARIABLE,
} from './cases.js';

describe('the case catalog', () => {
  it('has every optimizer factory of every family', () => {
    const factories = [
      adamFamily,
      adaptiveFamily,
      averagingFamily,
      factoredFamily,
      layerwiseFamily,
      lionFamily,
      multiMomentumFamily,
      muonFamily,
      prodigyFamily,
      scheduleFreeFamily,
      sgdFamily,
    ].flatMap((family) =>
      Object.entries(family)
        .filter(([name, value]) => typeof value === 'function' && /^[a-z]/.test(name))
        .map(([name]) => name),
    );
    expect(OPTIMIZERS.map((o) => o.name).sort()).toEqual(factories.sort());
    for (const entry of OPTIMIZERS) expect(entry.optionSets.length, entry.name).toBeGreaterThanOrEqual(3);
  });

  it('makes seeded variables and gradients: ranks 0–3 and a 1e4-element matrix, zeros and skipped steps', () => {
    expect(CASE_SHAPES.map((s) => s.length)).toEqual([0, 1, 2, 3, 2]);
    expect(CASE_SHAPES.some((s) => s.reduce((a, b) => a * b, 1) === 1e4)).toBe(true);
    expect(gradientValues(3, 4)).toEqual(gradientValues(3, 4));
    expect(initialValues(3)[1]!.every((x) => x === 0)).toBe(true);
    expect(gradientValues(3, 3)[1]!.every((x) => x === 0)).toBe(true);
    expect(gradientValues(3, 2)[SKIPPING_VARIABLE]).toBeNull();
    expect(hasGradient(SKIPPING_VARIABLE, 3)).toBe(true);
    expect(gradientValues(3, 5)[4]!.some((x) => x === 0)).toBe(true);
  });

  for (const entry of OPTIMIZERS) {
    it(`${entry.name}: every option set trains the case problem on cpu`, () => {
      entry.optionSets.forEach((options, index) => {
        const variables = CASE_SHAPES.map((shape, i) =>
          tf.variable(
            tf.tensor(initialValues(index + 1)[i]!, [...shape]),
            true,
            `catalog/${entry.name}/${index}/${i}`,
          ),
        );
        const optimizer = entry.create(options);
        try {
          for (let step = 1; step <= 3; step++) {
            const values = gradientValues(index + 1, step);
            const grads = variables.map((v, i) => ({
              name: v.name,
              tensor: values[i] ? tf.tensor(values[i]!, v.shape) : null,
            }));
            optimizer.applyGradients(grads as unknown as Parameters<tf.Optimizer['applyGradients']>[0]);
            for (const g of grads) g.tensor?.dispose();
          }
          for (const v of variables) {
            expect(
              [...v.dataSync()].every(Number.isFinite),
              `${entry.name} ${describeOptions(options)}`,
            ).toBe(true);
          }
        } finally {
          optimizer.dispose();
          tf.dispose(variables);
        }
      });
    });
  }
});
