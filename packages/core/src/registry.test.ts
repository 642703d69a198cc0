import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import {
  defineOptimizer,
  getRegisteredOptimizer,
  getRegisteredSchedule,
  loadOptimizer,
  OptimkitOptimizer,
  registerOptimizers,
  registerSchedule,
} from './index.js';

const definition = {
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1 },
  rule: ({ param, grad, s, op }) => ({ param: op.sub(param, op.mul(grad, s.learningRate!)) }),
} satisfies Omit<Parameters<typeof defineOptimizer>[0], 'className'>;

const Descent = defineOptimizer({ ...definition, className: 'OptimkitTestRegistryDescent' });

/** A second, separate copy of core's modules, as an ESM and a CommonJS copy in one process are. */
async function otherCopyOfCore(): Promise<typeof import('./index.js')> {
  vi.resetModules();
  const specifier = './index.js?copy';
  const other = (await import(/* @vite-ignore */ specifier)) as typeof import('./index.js');
  vi.resetModules();
  return other;
}

describe('one registry for every copy of core', () => {
  it('lives on globalThis under Symbol.for("optimkit.registry")', () => {
    const shared = (globalThis as Record<symbol, { optimizers: Map<string, unknown> }>)[
      Symbol.for('optimkit.registry')
    ];
    expect(shared?.optimizers.get('OptimkitTestRegistryDescent')).toBe(Descent);
  });

  it('a class registered through one copy is found, loaded and recognised by another', async () => {
    const other = await otherCopyOfCore();
    expect(other.OptimkitOptimizer).not.toBe(OptimkitOptimizer);
    expect(other.getRegisteredOptimizer('OptimkitTestRegistryDescent')).toBe(Descent);

    const variable = tf.variable(tf.tensor1d([1, 2]), true, 'core/registry/w');
    const mine = new Descent({ learningRate: 0.5 });
    mine.applyGradients({ [variable.name]: tf.tensor1d([1, 1]) });
    const restored = await other.loadOptimizer(await mine.saveState());
    expect(restored).toBeInstanceOf(Descent);
    expect(restored.iterations).toBe(1);
    // instanceof answers across copies: the base class for any optimkit optimizer, a defined class
    // for its own className and package only.
    expect(mine instanceof other.OptimkitOptimizer).toBe(true);
    const OtherDescent = other.defineOptimizer({ ...definition, className: 'OptimkitTestRegistryDescent' });
    expect(mine instanceof OtherDescent).toBe(true);
    expect(new OtherDescent() instanceof Descent).toBe(true);
    const Different = other.defineOptimizer({ ...definition, className: 'OptimkitTestRegistryOther' });
    expect(mine instanceof Different).toBe(false);
    expect(new Different() instanceof Descent).toBe(false);
    expect(tf.train.sgd(0.1) instanceof other.OptimkitOptimizer).toBe(false);
    expect({ minimize() {}, applyGradients() {} } instanceof OptimkitOptimizer).toBe(false);
    // Restore the first copy's class for the other tests.
    registerOptimizers({ Descent });
    mine.dispose();
    restored.dispose();
    variable.dispose();
  });

  it('shares the schedule registry too', async () => {
    const other = await otherCopyOfCore();
    other.registerSchedule('coreTestHalving', {
      packageName: '@optimkit/core-tests',
      fromConfig: (config) => (step: number) => (config as { base: number }).base / 2 ** step,
    });
    expect(getRegisteredSchedule('coreTestHalving')?.packageName).toBe('@optimkit/core-tests');
    expect(() => registerSchedule('', { packageName: 'x', fromConfig: () => () => 1 })).toThrow(/name/);
    expect(() => registerSchedule('x', {} as never)).toThrow(/fromConfig and packageName/);
  });
});

describe('registerOptimizers', () => {
  it('registers the optimizer classes among exports and skips everything else', () => {
    expect(
      registerOptimizers({ Descent, descent: () => new Descent(), version: '1', OptimkitOptimizer }),
    ).toEqual(['OptimkitTestRegistryDescent']);
    expect(getRegisteredOptimizer('OptimkitTestRegistryDescent')).toBe(Descent);
  });
});

describe('first-party classes that were never imported', () => {
  it('tfjs serialization names the package to import, not a layer defined in Python', () => {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap.OptimkitLion;
    expect(entry).toBeDefined();
    const [cls, fromConfig] = entry!;
    expect(() => fromConfig(cls, {})).toThrow(
      "The optimizer 'OptimkitLion' is not registered: it is defined by @optimkit/lion; import '@optimkit/lion' " +
        "and use its classes, or import '@optimkit/lion/register' (which bundlers keep) before loading it",
    );
  });

  it('loadOptimizer names the package and its register entry point', async () => {
    const variable = tf.variable(tf.tensor1d([1]), true, 'core/registry/unregistered');
    const Stranger = defineOptimizer({
      ...definition,
      className: 'OptimkitTestStranger',
      packageName: '@optimkit/x',
    });
    const optimizer = new Stranger();
    optimizer.applyGradients({ [variable.name]: tf.tensor1d([1]) });
    const bytes = await optimizer.saveState();
    const shared = (globalThis as Record<symbol, { optimizers: Map<string, unknown> }>)[
      Symbol.for('optimkit.registry')
    ]!;
    shared.optimizers.delete('OptimkitTestStranger');
    await expect(loadOptimizer(bytes)).rejects.toThrow(
      "'OptimkitTestStranger', which is not registered: import '@optimkit/x' and use its classes, or import '@optimkit/x/register'",
    );
    optimizer.dispose();
    variable.dispose();
  });
});
