/**
 * The optimizer's whole state in optimkit's byte format (layout in the package README): a
 * snapshot taken synchronously, encoded once its tensors are read; and the validating decoder
 * behind `loadState`, which changes nothing until everything is checked.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientAccumulator } from './gradient-transforms.js';
import {
  decodeState,
  PayloadWriter,
  readTensorEntry,
  StateFormatError,
  type StateHeader,
  type TensorEntry,
  type VariableEntry,
} from './state-format.js';
import { registeredVariable, sameShape, shapeString, type VariableState } from './variable-state.js';

/** What a saved state holds, with its tensors cloned (so later steps do not change them). */
export interface StateSnapshot {
  header: Omit<StateHeader, 'variables' | 'extraTensors' | 'paramGroups'>;
  groupCount: number;
  variables: { entry: Omit<VariableEntry, 'slots'>; slots: [string, tf.Tensor][] }[];
  accumulators: [string, tf.Tensor][];
}

/** Takes the state now, cloning every tensor (a clone shares the data: it is free). */
export function snapshotState(parts: {
  definition: { className: string; packageName: string; packageVersion: string };
  config: Record<string, unknown>;
  iterations: number;
  groupCount: number;
  states: Iterable<VariableState>;
  accumulator: GradientAccumulator;
  skippedSteps: number;
  schedules: Record<string, unknown>;
}): StateSnapshot {
  const { definition } = parts;
  return {
    header: {
      className: definition.className,
      packageName: definition.packageName,
      packageVersion: definition.packageVersion,
      config: parts.config,
      iterations: parts.iterations,
      extra: {
        skippedSteps: parts.skippedSteps,
        accumulatedCalls: parts.accumulator.calls,
        schedules: parts.schedules,
      },
    },
    groupCount: parts.groupCount,
    variables: [...parts.states].map((state) => ({
      entry: {
        name: state.name,
        shape: state.shape,
        group: state.group,
        step: state.step,
        ...(state.variable === null ? { unbound: true as const } : {}),
      },
      slots: [...state.slots].map(([name, slot]) => [name, tf.clone(slot)] as [string, tf.Tensor]),
    })),
    accumulators: parts.accumulator.window().map(({ name, sum }) => [name, tf.clone(sum)]),
  };
}

/** Encodes a snapshot and frees its clones. */
export async function encodeSnapshot(snapshot: StateSnapshot): Promise<Uint8Array> {
  try {
    const writer = new PayloadWriter();
    const variables: VariableEntry[] = [];
    for (const { entry, slots } of snapshot.variables) {
      const entries: Record<string, TensorEntry> = {};
      for (const [name, slot] of slots) entries[name] = writer.add(await readValues(slot), slot.shape);
      variables.push({ ...entry, slots: entries });
    }
    const header: StateHeader = {
      ...snapshot.header,
      paramGroups: Array.from({ length: snapshot.groupCount }, (_, index) => ({
        variables: variables.filter((v) => v.group === index).map((v) => v.name),
      })),
      variables,
      extraTensors: {},
    };
    for (const [name, sum] of snapshot.accumulators) {
      header.extraTensors[`accumulator/${name}`] = writer.add(await readValues(sum), sum.shape);
    }
    return writer.encode(header);
  } finally {
    for (const { slots } of snapshot.variables) tf.dispose(slots.map(([, t]) => t));
    tf.dispose(snapshot.accumulators.map(([, t]) => t));
  }
}

/** A slot's values: float32, or int32 for the codes of a quantised slot. */
async function readValues(tensor: tf.Tensor): Promise<Float32Array | Int32Array> {
  return (await tensor.data()) as Float32Array | Int32Array;
}

/** A validated saved state, whose tensors `materialize` makes (nothing can fail after it). */
export interface DecodedState {
  iterations: number;
  skippedSteps: number;
  accumulatedCalls: number;
  schedules: Record<string, unknown>;
  materialize(): { states: Map<string, VariableState>; accumulators: Map<string, tf.Variable> };
}

/** The restored state of one variable, as the optimizer checks it against what it keeps. */
export interface RestoredVariable {
  name: string;
  shape: readonly number[];
  group: number;
  step: number;
  /** Slot shapes by slot name. */
  slots: ReadonlyMap<string, readonly number[]>;
  /** Slot dtypes by slot name (float32 when absent). */
  dtypes?: ReadonlyMap<string, string>;
}

/** What restored state is checked against: the optimizer that restores it. */
export interface RestoreChecks {
  className: string;
  groupCount: number;
  /**
   * Throws a `StateFormatError` unless the slots are those the optimizer keeps at `iterations`;
   * returns what the values of its quantised slots' tensors must satisfy.
   */
  checkSlots(variable: RestoredVariable, iterations: number): QuantizedSlotRules;
  /** Slots whose values must be ≥ 0 (second moments, accumulated squares). */
  nonNegativeSlots: ReadonlySet<string>;
}

/**
 * By stored slot name, the rule of the values of a quantised slot's tensors: an absmax is
 * non-negative (as second moments are); codes packed three per int32 are each below 2^24 (four per
 * int32, every value is four valid codes).
 */
export type QuantizedSlotRules = ReadonlyMap<string, 'absmax' | 'threeCodesPerWord'>;

/**
 * Throws unless every value of a restored slot is finite (and ≥ 0 for a slot that holds squares):
 * NaN or ±Inf in a moment would silently poison every later step.
 */
export function checkSlotValues(
  checks: RestoreChecks,
  variableName: string,
  slot: string,
  values: ArrayLike<number>,
  rules: QuantizedSlotRules,
): void {
  if (values instanceof Int32Array) {
    if (rules.get(slot) !== 'threeCodesPerWord') return;
    const bad = values.findIndex((word) => word < 0 || word >= 2 ** 24);
    if (bad < 0) return;
    throw new StateFormatError(
      `Optimizer state slot '${slot}' of '${variableName}' holds ${values[bad]} at element ${bad}, ` +
        'which is not three 8-bit codes (0 … 2^24 − 1)',
    );
  }
  const nonNegative = checks.nonNegativeSlots.has(slot) || rules.get(slot) === 'absmax';
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (Number.isFinite(x) && (!nonNegative || x >= 0)) continue;
    throw new StateFormatError(
      `Optimizer state slot '${slot}' of '${variableName}' holds ${x} at element ${i}` +
        (Number.isFinite(x) ? `, but ${checks.className} keeps it non-negative` : '') +
        ': restored state must be finite',
    );
  }
}

/** Decodes and validates saved bytes against the live variables and this optimizer's options. */
export function decodeOptimizerState(
  bytes: Uint8Array | ArrayBuffer,
  expected: RestoreChecks & { accumulateSteps: number },
): DecodedState {
  const { header, payload } = decodeState(bytes);
  const { className } = expected;
  if (header.className !== className) {
    throw new StateFormatError(
      `Optimizer state is for ${header.className} (${header.packageName}), not ${className}`,
    );
  }
  const values = new Map<string, Map<string, Float32Array | Int32Array>>();
  for (const entry of header.variables) {
    if (entry.group >= expected.groupCount) {
      throw new StateFormatError(
        `Optimizer state puts '${entry.name}' in param group ${entry.group}, ` +
          `but this optimizer has ${expected.groupCount} param groups`,
      );
    }
    if (!entry.unbound) {
      const variable = registeredVariable(entry.name);
      if (!variable) throw new StateFormatError(`Optimizer state has no live variable '${entry.name}'`);
      if (!sameShape(variable.shape, entry.shape)) {
        throw new StateFormatError(
          `Optimizer state of '${entry.name}' is for shape ${shapeString(entry.shape)}, ` +
            `but the variable has shape ${shapeString(variable.shape)}`,
        );
      }
    }
    const slotShapes = new Map(Object.entries(entry.slots).map(([k, v]) => [k, v.shape]));
    const dtypes = new Map(Object.entries(entry.slots).map(([k, v]) => [k, v.dtype]));
    const rules = expected.checkSlots({ ...entry, slots: slotShapes, dtypes }, header.iterations);
    const slots = new Map<string, Float32Array | Int32Array>();
    for (const [slot, tensor] of Object.entries(entry.slots)) {
      const read = readTensorEntry(payload, tensor);
      checkSlotValues(expected, entry.name, slot, read, rules);
      slots.set(slot, read);
    }
    values.set(entry.name, slots);
  }
  const extra = header.extra as { skippedSteps?: unknown; accumulatedCalls?: unknown; schedules?: unknown };
  const skippedSteps = extra.skippedSteps ?? 0;
  const accumulatedCalls = extra.accumulatedCalls ?? 0;
  if (!Number.isSafeInteger(skippedSteps) || (skippedSteps as number) < 0) {
    throw new StateFormatError('Optimizer state has an invalid skippedSteps count');
  }
  if (
    !Number.isInteger(accumulatedCalls) ||
    (accumulatedCalls as number) < 0 ||
    (accumulatedCalls as number) >= expected.accumulateSteps
  ) {
    throw new StateFormatError(
      `Optimizer state holds ${String(accumulatedCalls)} accumulated calls, ` +
        `but this optimizer applies every ${expected.accumulateSteps}`,
    );
  }
  if (extra.schedules !== undefined && !isRecordOfAny(extra.schedules)) {
    throw new StateFormatError('Optimizer state has invalid schedule states');
  }
  const accumulators: [string, TensorEntry, Float32Array][] = [];
  for (const [key, entry] of Object.entries(header.extraTensors)) {
    const name = key.startsWith('accumulator/') ? key.slice('accumulator/'.length) : null;
    const variable = name === null ? undefined : registeredVariable(name);
    if (name === null || !variable || !sameShape(variable.shape, entry.shape) || entry.dtype !== 'float32') {
      throw new StateFormatError(`Optimizer state has an extra tensor '${key}' that matches no variable`);
    }
    const read = readTensorEntry(payload, entry) as Float32Array;
    if (!read.every(Number.isFinite)) {
      throw new StateFormatError(`Optimizer state's accumulated gradient of '${name}' is not finite`);
    }
    accumulators.push([name, entry, read]);
  }
  // Calls without gradients count too, so a window may have calls and no sums; never the reverse.
  if (accumulatedCalls === 0 && accumulators.length > 0) {
    throw new StateFormatError('Optimizer state has accumulated gradients that do not match its count');
  }
  return {
    iterations: header.iterations,
    skippedSteps: skippedSteps as number,
    accumulatedCalls: accumulatedCalls as number,
    schedules: (extra.schedules ?? {}) as Record<string, unknown>,
    materialize() {
      const states = new Map<string, VariableState>();
      for (const entry of header.variables) {
        const slots = new Map<string, tf.Variable>();
        for (const [name, read] of values.get(entry.name)!) {
          const { shape, dtype } = entry.slots[name]!;
          slots.set(
            name,
            tf.tidy(() => tf.variable(tf.tensor(read, shape, dtype), false)),
          );
        }
        states.set(entry.name, {
          name: entry.name,
          variable: entry.unbound ? null : registeredVariable(entry.name)!,
          shape: entry.shape,
          group: entry.group,
          step: entry.step,
          slots,
        });
      }
      const sums = new Map<string, tf.Variable>();
      for (const [name, entry, read] of accumulators) {
        sums.set(
          name,
          tf.tidy(() => tf.variable(tf.tensor(read, entry.shape, 'float32'), false)),
        );
      }
      return { states, accumulators: sums };
    },
  };
}

function isRecordOfAny(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
