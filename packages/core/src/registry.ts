import * as tf from '@tensorflow/tfjs-core';
import type { OptimkitOptimizer } from './optimizer.js';
import { decodeState, StateFormatError } from './state-format.js';

/** A registered optimizer class. */
export interface OptimizerClass {
  /** The tfjs serialization name the class is registered under. */
  readonly className: string;
  /** The npm package that defines it (named when a saved state's class is not registered). */
  readonly packageName: string;
  /** Rebuilds an optimizer from `getConfig()`; `overrides` replace options (schedules, say). */
  fromConfig(
    cls: OptimizerClass,
    config: tf.serialization.ConfigDict,
    overrides?: Record<string, unknown>,
  ): OptimkitOptimizer;
}

/** tfjs's own optimizer classes: registering one of these names would replace them. */
const TFJS_BUILT_IN = new Set(['SGD', 'Momentum', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'RMSProp']);

const registry = new Map<string, OptimizerClass>();

/**
 * Registers an optimizer class by its `className` with optimkit (for {@link loadOptimizer}) and
 * with `tf.serialization` (for `tf.loadLayersModel`). `defineOptimizer` calls it for you.
 */
export function registerOptimizer(cls: OptimizerClass): void {
  const name = cls.className;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
    throw new TypeError(`Invalid optimizer className '${String(name)}': use letters and digits only`);
  }
  if (TFJS_BUILT_IN.has(name)) {
    throw new TypeError(`Optimizer className '${name}' would replace tfjs's own ${name} optimizer`);
  }
  const existing = registry.get(name);
  if (existing && existing !== cls && existing.packageName !== cls.packageName) {
    throw new TypeError(
      `Optimizer className '${name}' of ${cls.packageName} is already registered by ${existing.packageName}`,
    );
  }
  registry.set(name, cls);
  tf.serialization.registerClass(
    cls as unknown as tf.serialization.SerializableConstructor<OptimkitOptimizer>,
  );
}

/** The registered class of `className`, if any. */
export function getRegisteredOptimizer(className: string): OptimizerClass | undefined {
  return registry.get(className);
}

/**
 * Recreates a saved optimizer: reads the class from the state's header, builds it from the saved
 * config (with `overrides`, e.g. schedules, which cannot be saved as JSON) and loads the state.
 *
 * @example
 * ```ts
 * import '@optimkit/adam'; // registers AdamW
 * const optimizer = await loadOptimizer(bytes);
 * ```
 */
export async function loadOptimizer(
  bytes: Uint8Array | ArrayBuffer,
  overrides: Record<string, unknown> = {},
): Promise<OptimkitOptimizer> {
  const { header } = decodeState(bytes);
  const cls = registry.get(header.className);
  if (!cls) {
    throw new StateFormatError(
      `Optimizer state is for '${header.className}', which is not registered: ` +
        `import '${header.packageName}' before loading it`,
    );
  }
  const optimizer = cls.fromConfig(cls, header.config as tf.serialization.ConfigDict, overrides);
  try {
    await optimizer.loadState(bytes);
  } catch (error) {
    optimizer.dispose();
    throw error;
  }
  return optimizer;
}
