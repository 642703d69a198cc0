import * as tf from '@tensorflow/tfjs-core';
import type { OptimkitOptimizer } from './optimizer.js';
import { decodeState, StateFormatError } from './state-format.js';

/**
 * What every registered optimizer class builds, so what {@link loadOptimizer} returns: a
 * `tf.Optimizer` that keeps optimkit state. Every `defineOptimizer` class (an
 * {@link OptimkitOptimizer}) has it, and so do optimizers built over several of them
 * (`@optimkit/partition`'s `Partition`); narrow with `instanceof` or the class you saved.
 */
export type RestorableOptimizer = tf.Optimizer &
  Pick<
    OptimkitOptimizer,
    'iterations' | 'saveState' | 'loadState' | 'stateBytes' | 'variableSteps' | 'getSlots' | 'checkGradients'
  >;

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
  ): RestorableOptimizer;
}

/**
 * What every copy of core loaded in a process shares (an ESM and a CommonJS copy, or two
 * versions): the optimizer classes and the schedule factories, kept on `globalThis` under a
 * registered symbol so that a class registered through one copy is found through the others.
 * Packages without a dependency on core (`@optimkit/schedules`) register into it by the same key.
 */
export interface SharedRegistry {
  readonly optimizers: Map<string, OptimizerClass>;
  readonly schedules: Map<string, ScheduleFactory>;
}

/** How a schedule is rebuilt from the `{ name, config, state }` its optimizer's config recorded. */
export interface ScheduleFactory {
  /** The package that registered it, named when it is missing. */
  readonly packageName: string;
  /** The schedule, with `state` restored if it is stateful and one was saved. */
  fromConfig(config: unknown, state?: unknown): (step: number) => number;
}

const REGISTRY_KEY = Symbol.for('optimkit.registry');

/** The registry shared by every copy of core (created by the first one that asks). */
export function sharedRegistry(): SharedRegistry {
  const holder = globalThis as { [REGISTRY_KEY]?: Partial<SharedRegistry> };
  let registry = holder[REGISTRY_KEY];
  if (registry === undefined) {
    registry = {};
    Object.defineProperty(globalThis, REGISTRY_KEY, { value: registry, configurable: false });
  }
  const fields = registry as {
    optimizers?: Map<string, OptimizerClass>;
    schedules?: Map<string, ScheduleFactory>;
  };
  fields.optimizers ??= new Map();
  fields.schedules ??= new Map();
  return registry as SharedRegistry;
}

/**
 * The brand every optimkit optimizer carries, whichever copy of core made it: `instanceof` across
 * copies answers from it (see {@link isOptimizerInstance}).
 */
export const OPTIMIZER_BRAND: unique symbol = Symbol.for('optimkit.optimizer') as never;

/**
 * `instance instanceof cls` for optimkit classes: the prototype chain first; then, for an
 * optimizer made by another copy of core, the base class answers for every optimkit optimizer and
 * a class made by `defineOptimizer` for the optimizers of its own className and package.
 */
export function isOptimizerInstance(cls: unknown, base: unknown, instance: unknown): boolean {
  if (typeof cls !== 'function') return false;
  if (Function.prototype[Symbol.hasInstance].call(cls, instance)) return true;
  if (typeof instance !== 'object' || instance === null || !(OPTIMIZER_BRAND in instance)) return false;
  if (cls === base) return true;
  const definition = Object.hasOwn(cls, 'definition')
    ? (cls as { definition?: { className?: unknown; packageName?: unknown } }).definition
    : undefined;
  const theirs = (instance as { definition?: { className?: unknown; packageName?: unknown } }).definition;
  return (
    definition !== undefined &&
    theirs !== undefined &&
    definition.className === theirs.className &&
    definition.packageName === theirs.packageName
  );
}

/** tfjs's own optimizer classes: registering one of these names would replace them. */
const TFJS_BUILT_IN = new Set(['SGD', 'Momentum', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'RMSProp']);

/**
 * The first-party optimizers by className, with their package: until one is registered, tfjs
 * serialization holds a placeholder for it, so that `tf.loadLayersModel` of a model saved with it
 * says which package to import (and not tfjs's "Unknown layer … defined in Python"). A package
 * check keeps this list complete.
 */
export const FIRST_PARTY_OPTIMIZERS: Readonly<Record<string, string>> = {
  OptimkitSGD: '@optimkit/sgd',
  OptimkitASGD: '@optimkit/sgd',
  OptimkitSignum: '@optimkit/sgd',
  OptimkitAdagrad: '@optimkit/adaptive',
  OptimkitRMSprop: '@optimkit/adaptive',
  OptimkitAdadelta: '@optimkit/adaptive',
  OptimkitRprop: '@optimkit/adaptive',
  OptimkitAdam: '@optimkit/adam',
  OptimkitAdamW: '@optimkit/adam',
  OptimkitAdamax: '@optimkit/adam',
  OptimkitNAdam: '@optimkit/adam',
  OptimkitRAdam: '@optimkit/adam',
  OptimkitAdaBelief: '@optimkit/adam',
  OptimkitYogi: '@optimkit/adam',
  OptimkitADOPT: '@optimkit/adam',
  OptimkitLARS: '@optimkit/layerwise',
  OptimkitLAMB: '@optimkit/layerwise',
  OptimkitNovoGrad: '@optimkit/layerwise',
  OptimkitLion: '@optimkit/lion',
  OptimkitAdafactor: '@optimkit/factored',
  OptimkitCAME: '@optimkit/factored',
  OptimkitSM3: '@optimkit/factored',
  OptimkitAdan: '@optimkit/multi-momentum',
  OptimkitAdEMAMix: '@optimkit/multi-momentum',
  OptimkitMuon: '@optimkit/muon',
  OptimkitPartition: '@optimkit/partition',
  OptimkitProdigy: '@optimkit/prodigy',
  OptimkitScheduleFreeAdamW: '@optimkit/schedule-free',
  OptimkitScheduleFreeSGD: '@optimkit/schedule-free',
  OptimkitLookahead: '@optimkit/averaging',
  OptimkitEma: '@optimkit/averaging',
  OptimkitSwa: '@optimkit/averaging',
};

/** What to import to register the classes of `packageName`, in a sentence. */
function importHint(packageName: string): string {
  // A bundler keeps a family's `register` entry (a declared side effect); a bare
  // `import '<family>'` is dropped from a production bundle when none of its exports is used.
  return packageName.startsWith('@optimkit/')
    ? `import '${packageName}' and use its classes, or import '${packageName}/register' (which bundlers keep)`
    : `import '${packageName}'`;
}

function unregisteredError(className: string, packageName: string): Error {
  return new Error(
    `The optimizer '${className}' is not registered: it is defined by ${packageName}; ` +
      `${importHint(packageName)} before loading it`,
  );
}

/** A tfjs serialization entry standing for a first-party class that is not registered. */
function placeholder(
  className: string,
  packageName: string,
): tf.serialization.SerializableConstructor<never> {
  const Unregistered = class extends tf.serialization.Serializable {
    static readonly className = className;
    override getClassName(): string {
      return className;
    }
    override getConfig(): tf.serialization.ConfigDict {
      return {};
    }
    static override fromConfig<T extends tf.serialization.Serializable>(): T {
      throw unregisteredError(className, packageName);
    }
  };
  return Unregistered as unknown as tf.serialization.SerializableConstructor<never>;
}

function registerPlaceholders(): void {
  const { optimizers } = sharedRegistry();
  const serialization = tf.serialization.SerializationMap.getMap().classNameMap;
  for (const [className, packageName] of Object.entries(FIRST_PARTY_OPTIMIZERS)) {
    if (optimizers.has(className) || Object.hasOwn(serialization, className)) continue;
    tf.serialization.registerClass(placeholder(className, packageName));
  }
}

registerPlaceholders();

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
  const { optimizers } = sharedRegistry();
  const existing = optimizers.get(name);
  if (existing && existing !== cls && existing.packageName !== cls.packageName) {
    throw new TypeError(
      `Optimizer className '${name}' of ${cls.packageName} is already registered by ${existing.packageName}`,
    );
  }
  optimizers.set(name, cls);
  tf.serialization.registerClass(
    cls as unknown as tf.serialization.SerializableConstructor<OptimkitOptimizer>,
  );
}

function isOptimizerClass(value: unknown): value is OptimizerClass {
  if (typeof value !== 'function') return false;
  const cls = value as Partial<OptimizerClass> & { definition?: unknown };
  return (
    typeof cls.className === 'string' &&
    typeof cls.packageName === 'string' &&
    typeof cls.fromConfig === 'function' &&
    typeof cls.definition === 'object'
  );
}

/**
 * Registers every optimizer class among a module's exports: what a family's `register` entry point
 * does with its own index (`registerOptimizers(family)`), as an import-time side effect that its
 * `sideEffects` declares, so bundlers keep it. Returns the classNames registered.
 *
 * @example
 * ```ts
 * // src/register.ts of a plugin package
 * import { registerOptimizers } from '@optimkit/core';
 * import * as plugin from './index.js';
 * registerOptimizers(plugin);
 * ```
 */
export function registerOptimizers(exports: Readonly<Record<string, unknown>>): string[] {
  const names: string[] = [];
  for (const value of Object.values(exports)) {
    if (!isOptimizerClass(value)) continue;
    registerOptimizer(value);
    names.push(value.className);
  }
  return names.sort();
}

/** The registered class of `className`, if any (registered through any copy of core). */
export function getRegisteredOptimizer(className: string): OptimizerClass | undefined {
  return sharedRegistry().optimizers.get(className);
}

/**
 * Recreates a saved optimizer: reads the class from the state's header, builds it from the saved
 * config (with `overrides`) and loads the state. Schedules of `@optimkit/schedules` come back as
 * themselves; a hand-written schedule function comes back as its saved value unless given again
 * in `overrides`.
 *
 * @example
 * ```ts
 * import '@optimkit/adam/register'; // registers AdamW and the rest of its family
 * const optimizer = (await loadOptimizer(bytes)) as AdamW; // the class that was saved
 * ```
 */
export async function loadOptimizer(
  bytes: Uint8Array | ArrayBuffer,
  overrides: Record<string, unknown> = {},
): Promise<RestorableOptimizer> {
  const { header } = decodeState(bytes);
  const cls = sharedRegistry().optimizers.get(header.className);
  if (!cls) {
    throw new StateFormatError(
      `Optimizer state is for '${header.className}', which is not registered: ` +
        `${importHint(header.packageName)} before loading it`,
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
