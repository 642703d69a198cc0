import {
  decodeState,
  getRegisteredOptimizer,
  OptimkitOptimizer,
  StateFormatError,
  type StateHeader,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { type Collective, CollectiveError } from './collective.js';
import { type Partition, partitionVariables } from './partition.js';
import { readShardInfo, rewriteState, type ShardInfo } from './shards.js';

/** An optimkit optimizer of any hyperparameters (what ZeRO wraps). */
// biome-ignore lint/suspicious/noExplicitAny: an optimizer of any defaults
export type AnyOptimkitOptimizer = OptimkitOptimizer<any>;

/** Options of {@link ZeroRedundancyOptimizer}. */
export interface ZeroOptions {
  /** This rank's collective (in-process, worker threads, MPI). */
  collective: Collective;
  /**
   * Every variable that is trained, the same on every rank (`model.trainableWeights.map((w) =>
   * w.read())` for a tfjs-layers model). The partition is computed from their names and shapes.
   */
  variables: readonly tf.Variable[];
  /**
   * The names under which the ranks know `variables` (parallel to it; default each variable's own
   * name): the partition, the handshake and the checkpoints use them. Only needed when the ranks
   * share one tfjs engine (in-process ranks), where every variable needs its own name.
   */
  names?: readonly string[];
  /**
   * 1: gradients are all-reduced, each rank keeps the optimizer state of its variables only.
   * 2 (default): each gradient is also reduced to its owner only; the other ranks drop it.
   */
  stage?: 1 | 2;
  /**
   * Options given again to the optimizer rebuilt without its `clipGradNorm` (which ZeRO applies
   * across ranks): its schedules and `match` param groups, which `getConfig()` cannot carry.
   */
  overrides?: Record<string, unknown>;
}

/** What one {@link ZeroRedundancyOptimizer.step} did. */
export interface StepReport {
  /** True when the step was skipped on every rank (`skipNonFinite` and a non-finite gradient). */
  skipped: boolean;
  /** Bytes this rank sent during the step. */
  bytesSent: number;
  /** Bytes this rank received during the step. */
  bytesReceived: number;
}

interface Transforms {
  clipGradNorm: number | null;
  clipGradValue: number | null;
  skipNonFinite: boolean;
}

/** The descriptor the ranks compare at the first step. */
interface Handshake {
  worldSize: number;
  stage: number;
  className: string;
  packageName: string;
  config: unknown;
  variables: [string, number[]][];
  partition: [string, number][];
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function isScheduleConfig(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { schedule?: unknown }).schedule === 'string'
  );
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * ZeRO (Rajbhandari et al., 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
 * Models") for any optimkit optimizer: each of the N data-parallel ranks keeps the optimizer
 * state of only its share of the variables, about 1/N of the total.
 *
 * Variables are partitioned whole, greedily by element count (PyTorch's
 * `ZeroRedundancyOptimizer`; see {@link partitionVariables}), so every optimizer works unchanged.
 * A step, on every rank with the gradients of its slice of the batch:
 *
 * 1. stage 2: each gradient is summed over ranks onto its owner only (one `reduceScatter`);
 *    stage 1: every gradient is summed on every rank (`allReduce`) and the others are dropped;
 *    the sum is divided by N (the average over ranks);
 * 2. `clipGradNorm` is exact across shards: the owners' squared norms are all-reduced and summed
 *    in variable-name order, as an unsharded optimizer sums them; `skipNonFinite` skips the step
 *    on every rank when any gradient of any rank's shard is not finite;
 * 3. each owner updates its variables with its own instance of the optimizer (every rank steps it,
 *    so `iterations` and schedules agree everywhere, even on a rank that owns nothing);
 * 4. the new values reach every rank (`allGather`).
 *
 * The result is bit-identical to unsharded data-parallel training on the same collective
 * ({@link averageGradients} then the plain optimizer). The first step compares every rank's world
 * size, stage, optimizer class and config, variables and partition, and refuses with a message
 * that says what differs. `accumulateSteps` is not supported (accumulate before stepping).
 *
 * The wrapped optimizer is used as this rank's shard optimizer unless it clips by global norm;
 * then ZeRO builds one of the same class from its `getConfig()` (through the registry) without
 * `clipGradNorm` and `clipGradValue`, which it applies itself, and leaves the given one unused.
 *
 * @example
 * ```ts
 * const optimizer = new ZeroRedundancyOptimizer(adamw({ learningRate: 1e-3 }), {
 *   collective, variables: model.trainableWeights.map((w) => w.read()),
 * });
 * const { grads } = tf.variableGrads(() => loss(xSlice, ySlice));
 * await optimizer.step(grads);
 * tf.dispose(grads);
 * ```
 */
export class ZeroRedundancyOptimizer {
  /** This rank's collective. */
  readonly collective: Collective;
  /** 1 or 2. */
  readonly stage: 1 | 2;
  /** Which rank owns each variable. */
  readonly partition: Partition;
  /** This rank's shard optimizer: it keeps the state of this rank's variables only. */
  readonly local: AnyOptimkitOptimizer;
  private readonly transforms: Transforms;
  private readonly config: Record<string, unknown>;
  /** The trained variables by the name the ranks share. */
  private readonly variables: Map<string, tf.Variable>;
  /** Shared name by the variable's own (engine) name. */
  private readonly logicalNames: Map<string, string>;
  /** All variable names in the flat layout: by owner rank, each rank's in partition order. */
  private readonly layout: string[];
  private readonly counts: number[];
  private checked = false;
  private skipped = 0;

  constructor(optimizer: AnyOptimkitOptimizer, options: ZeroOptions) {
    if (!(optimizer instanceof OptimkitOptimizer)) {
      throw new TypeError('ZeroRedundancyOptimizer wraps an optimkit optimizer (made with defineOptimizer)');
    }
    const { collective, variables } = options ?? ({} as ZeroOptions);
    if (!collective || typeof collective.allReduce !== 'function') {
      throw new TypeError('ZeroRedundancyOptimizer: options.collective must be a Collective');
    }
    const stage = options.stage ?? 2;
    if (stage !== 1 && stage !== 2) throw new RangeError(`Invalid ZeRO stage: ${String(stage)} (1 or 2)`);
    if (!Array.isArray(variables) || variables.length === 0) {
      throw new TypeError('ZeroRedundancyOptimizer: options.variables must list the trained variables');
    }
    const names = options.names ?? variables.map((v) => v.name);
    if (
      !Array.isArray(names) ||
      names.length !== variables.length ||
      !names.every((n) => typeof n === 'string')
    ) {
      throw new TypeError('ZeroRedundancyOptimizer: options.names must give one name per variable');
    }
    this.variables = new Map();
    this.logicalNames = new Map();
    variables.forEach((v, i) => {
      if (!(v instanceof tf.Variable)) {
        throw new TypeError(
          'ZeroRedundancyOptimizer: options.variables must hold tf.Variables (use layerVariable.read())',
        );
      }
      const name = names[i]!;
      if (this.variables.has(name) || this.logicalNames.has(v.name)) {
        throw new Error(`ZeroRedundancyOptimizer: variable '${name}' is listed twice`);
      }
      this.variables.set(name, v);
      this.logicalNames.set(v.name, name);
    });
    this.collective = collective;
    this.stage = stage;
    this.config = optimizer.getConfig() as Record<string, unknown>;
    const className = optimizer.getClassName();
    if ((this.config.accumulateSteps ?? 1) !== 1) {
      throw new RangeError(
        `ZeroRedundancyOptimizer does not support accumulateSteps (${String(this.config.accumulateSteps)}) of ${className}: ` +
          'accumulate the gradients before calling step()',
      );
    }
    this.transforms = {
      clipGradNorm: (this.config.clipGradNorm as number | undefined) ?? null,
      clipGradValue: (this.config.clipGradValue as number | undefined) ?? null,
      skipNonFinite: this.config.skipNonFinite === true,
    };
    if (this.transforms.clipGradNorm !== null) {
      for (const key of ['centralize', 'adaptiveGradClip'] as const) {
        if (this.config[key] !== undefined && this.config[key] !== null && this.config[key] !== false) {
          throw new TypeError(
            `ZeroRedundancyOptimizer does not support ${key} together with clipGradNorm yet (${className}): ` +
              'the global norm must be taken after it, across ranks',
          );
        }
      }
    }
    this.local =
      this.transforms.clipGradNorm === null ? optimizer : this.rebuild(optimizer, options.overrides ?? {});
    this.partition = partitionVariables(
      [...this.variables].map(([name, v]) => ({ name, shape: v.shape })),
      collective.worldSize,
    );
    this.layout = this.partition.byRank.flat();
    this.counts = [...this.partition.sizes];
  }

  /** The same optimizer without the transforms ZeRO applies across ranks. */
  private rebuild(optimizer: AnyOptimkitOptimizer, overrides: Record<string, unknown>): AnyOptimkitOptimizer {
    const className = optimizer.getClassName();
    const cls = getRegisteredOptimizer(className);
    if (!cls)
      throw new TypeError(`ZeroRedundancyOptimizer: ${className} is not registered with @optimkit/core`);
    const { clipGradNorm: _n, clipGradValue: _v, ...config } = this.config;
    for (const [key, value] of Object.entries(config)) {
      if (isScheduleConfig(value) && !(key in overrides)) {
        throw new TypeError(
          `ZeroRedundancyOptimizer rebuilds ${className} without clipGradNorm (it clips across ranks), and ` +
            `'${key}' is a schedule, which getConfig() cannot carry: pass it again in options.overrides`,
        );
      }
    }
    const groups = Array.isArray(config.paramGroups) ? (config.paramGroups as Record<string, unknown>[]) : [];
    if (!('paramGroups' in overrides)) {
      groups.forEach((g, i) => {
        const emptyParams = Array.isArray(g.params) && g.params.length === 0;
        if (emptyParams || Object.values(g).some(isScheduleConfig)) {
          throw new TypeError(
            `ZeroRedundancyOptimizer rebuilds ${className} without clipGradNorm (it clips across ranks), and ` +
              `paramGroups[${i}] has a 'match' function or a schedule, which getConfig() cannot carry: ` +
              'pass the paramGroups again in options.overrides',
          );
        }
      });
    }
    const made = cls.fromConfig(cls, config as tf.serialization.ConfigDict, overrides);
    if (!(made instanceof OptimkitOptimizer)) {
      made.dispose();
      throw new TypeError(`ZeroRedundancyOptimizer wraps an optimkit optimizer, and ${className} is not one`);
    }
    return made;
  }

  /** The variables this rank owns (and keeps optimizer state for), in partition order. */
  get ownedVariables(): readonly string[] {
    return this.partition.byRank[this.collective.rank]!;
  }

  /** Completed steps (the same on every rank). */
  get iterations(): number {
    return this.local.iterations;
  }

  /** Steps skipped on every rank because a gradient was not finite (`skipNonFinite`). */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** Bytes of optimizer state this rank holds (its shard only). */
  stateBytes(): number {
    return this.local.stateBytes();
  }

  /** Checks this rank's gradients and returns them in the flat layout order. */
  private checkGradients(grads: tf.NamedTensorMap): tf.Tensor[] {
    if (typeof grads !== 'object' || grads === null) {
      throw new TypeError('ZeroRedundancyOptimizer.step takes a name→gradient map');
    }
    for (const name of Object.keys(grads)) {
      if (!this.logicalNames.has(name)) {
        throw new Error(`ZeroRedundancyOptimizer.step: '${name}' is not among the trained variables`);
      }
    }
    return this.layout.map((name) => {
      const variable = this.variables.get(name)!;
      const grad = grads[variable.name];
      if (grad == null) {
        throw new Error(
          `ZeroRedundancyOptimizer.step: the gradient of '${name}' is missing; every rank must give every trained variable's gradient`,
        );
      }
      if (!(grad instanceof tf.Tensor) || grad.isDisposed) {
        throw new TypeError(`ZeroRedundancyOptimizer.step: the gradient of '${name}' is not a live tensor`);
      }
      if (grad.dtype !== 'float32') {
        throw new TypeError(
          `ZeroRedundancyOptimizer.step: the gradient of '${name}' has dtype ${grad.dtype}, not float32`,
        );
      }
      if (grad.size !== variable.size || grad.shape.join() !== variable.shape.join()) {
        throw new RangeError(
          `ZeroRedundancyOptimizer.step: the gradient of '${name}' has shape ${shapeString(grad.shape)}, ` +
            `the variable ${shapeString(variable.shape)}`,
        );
      }
      return grad;
    });
  }

  private handshake(): Handshake {
    return {
      worldSize: this.collective.worldSize,
      stage: this.stage,
      className: this.local.getClassName(),
      packageName: this.local.definition.packageName,
      config: canonical(this.sharedConfig()),
      variables: [...this.variables]
        .map(([name, v]) => [name, [...v.shape]] as [string, number[]])
        .sort((a, b) => byName(a[0], b[0])),
      partition: this.partition.variables.map((v) => [v.name, v.owner]),
    };
  }

  /** The wrapped optimizer's config with param-group members under their shared names. */
  private sharedConfig(): Record<string, unknown> {
    const { paramGroups } = this.config;
    if (!Array.isArray(paramGroups)) return this.config;
    return {
      ...this.config,
      paramGroups: paramGroups.map((g: Record<string, unknown>) =>
        Array.isArray(g.params)
          ? {
              ...g,
              params: g.params.map((n: unknown) =>
                typeof n === 'string' ? (this.logicalNames.get(n) ?? n) : n,
              ),
            }
          : g,
      ),
    };
  }

  /** Compares every rank's handshake with rank 0's; every rank throws the same message. */
  private async checkRanks(): Promise<void> {
    const { collective } = this;
    const mine = this.handshake();
    const encoded = new TextEncoder().encode(JSON.stringify(mine));
    const first = await collective.broadcast(collective.rank === 0 ? encoded : null, 0);
    const reference = JSON.parse(new TextDecoder().decode(first)) as Handshake;
    // Sized by rank 0's world size, so that a rank that counts another one still takes part.
    const flags = new Float32Array(reference.worldSize);
    if (collective.rank < flags.length)
      flags[collective.rank] = differences(reference, mine).length > 0 ? 1 : 0;
    const disagree = await collective.allReduce(flags);
    const messages: string[] = [];
    for (let r = 1; r < reference.worldSize; r++) {
      if (disagree[r] === 0) continue;
      const theirs = JSON.parse(
        new TextDecoder().decode(await collective.broadcast(collective.rank === r ? encoded : null, r)),
      ) as Handshake;
      messages.push(`rank ${r} differs from rank 0 in ${differences(reference, theirs).join('; ')}`);
    }
    if (messages.length > 0) {
      throw new CollectiveError(`ZeRO ranks disagree at the first step: ${messages.join('. ')}`);
    }
  }

  /**
   * One data-parallel step with this rank's gradients (of its slice of the batch, averaged over
   * that slice): every rank must call it with the gradient of every trained variable. Resolves
   * when every variable holds its new value on this rank. The caller keeps and disposes `grads`.
   */
  async step(grads: tf.NamedTensorMap): Promise<StepReport> {
    const ordered = this.checkGradients(grads);
    const { collective } = this;
    const sentBefore = collective.stats.bytesSent;
    const receivedBefore = collective.stats.bytesReceived;
    if (!this.checked) {
      await this.checkRanks();
      this.checked = true;
    }
    const total = this.layout.length === 0 ? 0 : this.counts.reduce((a, b) => a + b, 0);
    const flat = new Float32Array(total);
    let offset = 0;
    for (const grad of ordered) {
      flat.set((await grad.data()) as Float32Array, offset);
      offset += grad.size;
    }
    const { rank, worldSize } = collective;
    const segment =
      this.stage === 2
        ? await collective.reduceScatter(flat, this.counts)
        : (await collective.allReduce(flat)).subarray(
            this.counts.slice(0, rank).reduce((a, b) => a + b, 0),
            this.counts.slice(0, rank + 1).reduce((a, b) => a + b, 0),
          );
    const owned = this.ownedVariables;
    const averaged: tf.NamedTensorMap = {};
    let position = 0;
    for (const name of owned) {
      const variable = this.variables.get(name)!;
      const values = segment.subarray(position, position + variable.size);
      position += variable.size;
      averaged[variable.name] = tf.tidy(() =>
        tf.div(tf.tensor(values, variable.shape, 'float32'), worldSize),
      );
    }
    let skipped = false;
    try {
      skipped = await this.applyTransforms(averaged);
      if (!skipped) this.local.applyGradients(averaged);
    } finally {
      tf.dispose(Object.values(averaged));
    }
    if (skipped) this.skipped += 1;
    else await this.exchangeParameters();
    return {
      skipped,
      bytesSent: collective.stats.bytesSent - sentBefore,
      bytesReceived: collective.stats.bytesReceived - receivedBefore,
    };
  }

  /**
   * Clip by value, agree on skipping and clip by the global norm, in the order of core's gradient
   * transforms. Replaces the tensors of `grads` in place; returns true when the step is skipped.
   */
  private async applyTransforms(grads: tf.NamedTensorMap): Promise<boolean> {
    const { clipGradNorm, clipGradValue, skipNonFinite } = this.transforms;
    if (clipGradNorm === null && !skipNonFinite) return false;
    const names = [...this.variables.keys()].sort(byName);
    const index = new Map(names.map((n, i) => [n, i]));
    // Slot 0 counts non-finite elements; slot 1 + i holds the squared norm of variable i (sorted by
    // name) from its owner and 0 elsewhere, so the sum is exact and every rank sums it in name order.
    const local = new Float32Array(1 + names.length);
    for (const [engineName, grad] of Object.entries(grads)) {
      const name = this.logicalNames.get(engineName)!;
      const [bad, squares] = tf.tidy(() => {
        const g = grad as tf.Tensor;
        const nonFinite = skipNonFinite
          ? tf.sum(tf.cast(tf.logicalNot(tf.isFinite(g)), 'int32'))
          : tf.scalar(0);
        const clipped = clipGradValue === null ? g : tf.clipByValue(g, -clipGradValue, clipGradValue);
        return [nonFinite, clipGradNorm === null ? tf.scalar(0) : tf.sum(tf.square(clipped))];
      });
      local[0]! += (await bad!.data())[0]!;
      local[1 + index.get(name)!] = (await squares!.data())[0]!;
      tf.dispose([bad!, squares!]);
    }
    const summed = await this.collective.allReduce(local);
    if (skipNonFinite && summed[0] !== 0) return true;
    if (clipGradNorm === null) return false;
    const scale = tf.tidy(() => {
      let sumOfSquares: tf.Tensor = tf.scalar(0);
      for (let i = 0; i < names.length; i++) sumOfSquares = tf.add(sumOfSquares, tf.scalar(summed[1 + i]!));
      return tf.minimum(1, tf.div(clipGradNorm, tf.add(tf.sqrt(sumOfSquares), 1e-6)));
    });
    for (const name of Object.keys(grads)) {
      const g = grads[name]!;
      grads[name] = tf.tidy(() =>
        tf.mul(clipGradValue === null ? g : tf.clipByValue(g, -clipGradValue, clipGradValue), scale),
      );
      g.dispose();
    }
    scale.dispose();
    return false;
  }

  /** Sends this rank's updated variables to every rank and takes the others'. */
  private async exchangeParameters(): Promise<void> {
    const { collective } = this;
    const mine = new Float32Array(this.counts[collective.rank]!);
    let offset = 0;
    for (const name of this.ownedVariables) {
      const variable = this.variables.get(name)!;
      mine.set((await variable.data()) as Float32Array, offset);
      offset += variable.size;
    }
    const all = await collective.allGather(mine, this.counts);
    offset = 0;
    tf.tidy(() => {
      for (const name of this.layout) {
        const variable = this.variables.get(name)!;
        if (this.partition.owners.get(name) !== collective.rank) {
          variable.assign(tf.tensor(all.subarray(offset, offset + variable.size), variable.shape, 'float32'));
        }
        offset += variable.size;
      }
    });
  }

  /** The config of the wrapped optimizer, with this rank's own param-group members. */
  private shardConfig(header: StateHeader): Record<string, unknown> {
    const config = { ...header.config };
    for (const key of ['clipGradNorm', 'clipGradValue'] as const) {
      if (this.transforms[key] !== null) config[key] = this.transforms[key];
    }
    return config;
  }

  /**
   * This rank's shard: an ordinary optimkit state of its own variables (what `local.saveState()`
   * gives, with the wrapped optimizer's config), marked in `extra.zero` with this rank, the world
   * size and the partition. {@link consolidate} merges the shards of every rank into a full state.
   */
  async saveState(): Promise<Uint8Array> {
    const decoded = decodeState(await this.local.saveState());
    const { rank, worldSize } = this.collective;
    const zero: ShardInfo = {
      rank,
      worldSize,
      partition: this.partition.variables.map((v) => [v.name, v.owner]),
      skippedSteps: this.skipped,
    };
    return rewriteState(
      decoded,
      () => true,
      (header) => ({
        config: this.shardConfig(header),
        extra: { ...header.extra, skippedSteps: this.skipped, zero },
      }),
      (name) => this.logicalNames.get(name) ?? name,
    );
  }

  /**
   * Loads this rank's shard (saved by a rank of the same number in a run of the same world size
   * and partition), or a full state (from {@link consolidate} or a plain optimizer's `saveState`),
   * of which this rank takes its own variables: that re-shards a checkpoint to any world size.
   * Refuses another rank's shard or a shard of another world size with a `StateFormatError`; on
   * any error this rank's state is unchanged.
   */
  async loadState(bytes: Uint8Array): Promise<void> {
    const decoded = decodeState(bytes);
    const info = readShardInfo(decoded);
    const { rank, worldSize } = this.collective;
    const className = this.local.getClassName();
    if (decoded.header.className !== className) {
      throw new StateFormatError(`Optimizer state is for ${decoded.header.className}, not ${className}`);
    }
    for (const entry of decoded.header.variables) {
      if (!this.variables.has(entry.name)) {
        throw new StateFormatError(
          `Optimizer state has '${entry.name}', which is not among the trained variables`,
        );
      }
    }
    let skipped: number;
    let shard: Uint8Array;
    if (info) {
      if (info.worldSize !== worldSize) {
        throw new StateFormatError(
          `This ZeRO shard was saved on ${info.worldSize} ranks and this run has ${worldSize}: ` +
            'consolidate() the shards of every rank and load the full state (it re-shards)',
        );
      }
      if (info.rank !== rank) {
        throw new StateFormatError(
          `This ZeRO shard belongs to rank ${info.rank}, not to rank ${rank}: load each rank's own shard`,
        );
      }
      const partition = this.partition.variables.map((v) => [v.name, v.owner]);
      if (JSON.stringify(info.partition) !== JSON.stringify(partition)) {
        throw new StateFormatError(
          'This ZeRO shard was saved with another partition (other variables or shapes): consolidate() and load the full state',
        );
      }
      skipped = info.skippedSteps;
      shard = rewriteState(
        decoded,
        () => true,
        () => ({}),
        (name) => this.variables.get(name)?.name ?? name,
      );
    } else {
      const mine = new Set(this.ownedVariables);
      const extraSkipped = decoded.header.extra.skippedSteps;
      skipped = Number.isInteger(extraSkipped) ? (extraSkipped as number) : 0;
      if ((decoded.header.extra.accumulatedCalls ?? 0) !== 0) {
        throw new StateFormatError(
          'Optimizer state holds accumulated gradients, which ZeRO does not support',
        );
      }
      shard = rewriteState(
        decoded,
        (entry) => mine.has(entry.name),
        () => ({}),
        (name) => this.variables.get(name)!.name,
      );
    }
    await this.local.loadState(shard);
    this.skipped = skipped;
  }

  /** Frees every tensor of this rank's shard optimizer. */
  dispose(): void {
    this.local.dispose();
  }
}

function differences(a: Handshake, b: Handshake): string[] {
  const out: string[] = [];
  if (a.worldSize !== b.worldSize) out.push(`world size (${a.worldSize} vs ${b.worldSize})`);
  if (a.stage !== b.stage) out.push(`stage (${a.stage} vs ${b.stage})`);
  if (a.className !== b.className || a.packageName !== b.packageName) {
    out.push(`optimizer class (${a.className} of ${a.packageName} vs ${b.className} of ${b.packageName})`);
  }
  const configA = (a.config ?? {}) as Record<string, unknown>;
  const configB = (b.config ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(configA), ...Object.keys(configB)])].sort();
  const changed = keys.filter((k) => JSON.stringify(configA[k]) !== JSON.stringify(configB[k]));
  if (changed.length > 0) {
    out.push(
      `optimizer config (${changed
        .map(
          (k) => `${k}: ${JSON.stringify(configA[k]) ?? 'unset'} vs ${JSON.stringify(configB[k]) ?? 'unset'}`,
        )
        .join(', ')})`,
    );
  }
  const shapesA = new Map(a.variables);
  const shapesB = new Map(b.variables);
  const variableDiffs: string[] = [];
  for (const [name, shape] of shapesA) {
    const other = shapesB.get(name);
    if (!other) variableDiffs.push(`'${name}' missing`);
    else if (other.join() !== shape.join()) {
      variableDiffs.push(`'${name}' shape ${shapeString(shape)} vs ${shapeString(other)}`);
    }
  }
  for (const name of shapesB.keys()) if (!shapesA.has(name)) variableDiffs.push(`'${name}' extra`);
  if (variableDiffs.length > 0) out.push(`variables (${variableDiffs.join(', ')})`);
  else if (JSON.stringify(a.partition) !== JSON.stringify(b.partition)) out.push('partition');
  return out;
}

/**
 * Wraps `optimizer` so that this rank keeps the state of only its share of `options.variables`;
 * see {@link ZeroRedundancyOptimizer}.
 *
 * @example
 * ```ts
 * const optimizer = zero(adamw({ learningRate: 1e-3, clipGradNorm: 1 }), { collective, variables });
 * ```
 */
export function zero(optimizer: AnyOptimkitOptimizer, options: ZeroOptions): ZeroRedundancyOptimizer {
  return new ZeroRedundancyOptimizer(optimizer, options);
}
