/** Per-variable state: the slots of one variable, its step count and its cached rule plan. */
import * as tf from '@tensorflow/tfjs-core';
import { fusedKernelsActive } from './fused.js';
import {
  ABSMAX_SUFFIX,
  CODES_SUFFIX,
  type CodesPerWord,
  codesPerWord,
  type QuantizedMap,
  quantizedSizes,
  repackCodes,
  storedQuantized,
  zeroWord,
} from './quantized-state.js';
import { type Layout, slotLayout } from './rule/graph.js';
import type { RulePlan } from './rule/rule.js';
import { allocateSlotArrays, assignRoom, moveOut, SLOT_MEMORY_MIN_ELEMENTS } from './slot-memory.js';
import type { SlotInit, SlotSpec } from './types.js';

/** What the optimizer keeps for one variable. */
export interface VariableState {
  name: string;
  /** Null for state restored by `setWeights` until the next step binds it to a variable. */
  variable: tf.Variable | null;
  shape: number[];
  group: number;
  step: number;
  slots: Map<string, tf.Variable>;
  /** The rule plan of the last step, reused while the variable's situation is the same. */
  plan?: RulePlan;
  /** The layout of each slot, for the rule (resolved on the first step). */
  layouts?: Map<string, Layout>;
  /**
   * The slots kept in 8 bits (as `<slot>Codes` and `<slot>Absmax`), with their map, by the name
   * the rule knows them by (resolved with the layouts).
   */
  quantized?: Map<string, QuantizedMap>;
}

/** A tensor a slot spec stores: a slot, or one of the two tensors of a quantised slot. */
export type StoredInit =
  | Exclude<SlotInit, { quantized: QuantizedMap }>
  | { shape: readonly number[]; dtype: 'int32'; value: number };

/** Name tfjs-layers stores the per-variable bookkeeping under, after the variable's name. */
export const STATE_WEIGHT = 'optimkitState';
export const SLOT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeString(shape: readonly number[] | null): string {
  return shape ? `[${shape.join(',')}]` : 'unknown';
}

export function slotShape(init: SlotInit | StoredInit, variableShape: readonly number[]): number[] {
  if (typeof init === 'number' || 'quantized' in init) return [...variableShape];
  if ('shape' in init) return [...init.shape];
  const lead = variableShape.slice(0, -2);
  const last = variableShape[variableShape.length - 1]!;
  switch (init.layout) {
    case 'full':
      return [...variableShape];
    case 'scalar':
      return [];
    case 'row':
      return variableShape.slice(0, -1);
    case 'col':
      return [...lead, last];
    case 'batch':
      return lead;
  }
}

export function slotInitLayout(
  init: SlotInit | undefined,
  variableShape: readonly number[],
): Layout | undefined {
  if (init === undefined) return undefined;
  if (typeof init === 'number' || 'quantized' in init) return 'full';
  if ('layout' in init) return init.layout;
  return slotLayout(variableShape, init.shape);
}

/**
 * The live variable registered under `name`, if any. The registry is a plain object, so a name
 * such as `constructor` or `toString` would otherwise read a member of `Object.prototype`.
 */
export function registeredVariable(name: string): tf.Variable | undefined {
  const registered = tf.engine().registeredVariables;
  if (!Object.hasOwn(registered, name)) return undefined;
  const variable: unknown = registered[name];
  return variable instanceof tf.Variable && !variable.isDisposed ? variable : undefined;
}

/** The declared slots of a spec (entries left undefined by a conditional spread dropped). */
export function declaredSlots(spec: SlotSpec): [string, SlotInit][] {
  return (Object.entries(spec) as [string, SlotInit | undefined][]).filter(
    (entry): entry is [string, SlotInit] => entry[1] !== undefined,
  );
}

function checkSlotName(name: string): void {
  if (!SLOT_NAME.test(name) || name === STATE_WEIGHT) throw new TypeError(`Invalid slot name '${name}'`);
}

/**
 * The tensors a spec stores for a variable of shape `variableShape`, by stored name: its slots,
 * with each quantised slot of a large enough variable as its codes (`perWord` to an int32, by
 * default as the active backend packs them) and its absmax.
 */
export function storedSlots(
  spec: SlotSpec,
  variableShape: readonly number[],
  perWord: CodesPerWord = codesPerWord(),
): [string, StoredInit][] {
  const size = variableShape.reduce((a, b) => a * b, 1);
  const out: [string, StoredInit][] = [];
  for (const [name, init] of declaredSlots(spec)) {
    checkSlotName(name);
    if (typeof init !== 'number' && 'quantized' in init) {
      if (!storedQuantized(size)) {
        out.push([name, 0]);
        continue;
      }
      const { blocks, words } = quantizedSizes(size, perWord);
      out.push([
        `${name}${CODES_SUFFIX}`,
        { shape: [words], dtype: 'int32', value: zeroWord(init.quantized, perWord) },
      ]);
      out.push([`${name}${ABSMAX_SUFFIX}`, { shape: [blocks] }]);
    } else out.push([name, init]);
  }
  return out;
}

/** The dtype a stored slot has. */
export function storedDtype(init: StoredInit): 'float32' | 'int32' {
  return typeof init !== 'number' && 'dtype' in init ? init.dtype : 'float32';
}

/** A fresh slot variable of a variable of shape `variableShape` (a quantised slot's codes are 0). */
export function createSlot(name: string, init: StoredInit, variableShape: readonly number[]): tf.Variable {
  checkSlotName(name);
  const value = initialValue(init);
  return tf.tidy(() => tf.variable(tf.fill(slotShape(init, variableShape), value, storedDtype(init)), false));
}

/**
 * Fresh slot variables of a variable of shape `variableShape`, as `spec` declares them. On the cpu
 * backend with fused kernels, a large variable's full float32 slots share a memory of their own,
 * which the fused kernels update in place (see slot-memory.ts).
 */
export function createSlots(spec: SlotSpec, variableShape: readonly number[]): Map<string, tf.Variable> {
  const stored = storedSlots(spec, variableShape);
  const size = variableShape.reduce((a, b) => a * b, 1);
  const inMemory =
    size >= SLOT_MEMORY_MIN_ELEMENTS && tf.getBackend() === 'cpu' && fusedKernelsActive()
      ? stored.filter(
          ([, init]) =>
            storedDtype(init) === 'float32' && slotShape(init, variableShape).join() === variableShape.join(),
        )
      : [];
  const views =
    inMemory.length > 0
      ? allocateSlotArrays(
          size,
          inMemory.map(([, init]) => initialValue(init)),
        )
      : [];
  const placed = new Map(inMemory.map(([name], i) => [name, views[i]!]));
  return new Map(
    stored.map(([name, init]) => {
      const view = placed.get(name);
      if (!view) return [name, createSlot(name, init, variableShape)];
      checkSlotName(name);
      const slot = tf.tidy(() => tf.variable(tf.tensor(view, [...variableShape], 'float32'), false));
      assignRoom(slot, view);
      return [name, slot];
    }),
  );
}

function initialValue(init: StoredInit): number {
  return typeof init === 'number' ? init : 'value' in init ? (init.value ?? 0) : 0;
}

/**
 * Repacks the codes of a state's quantised slots for the active backend when they are packed
 * otherwise (state restored from, or kept on, a backend of the other packing): a lossless change of
 * form, read synchronously from the backend that holds them.
 */
export function repackQuantized(state: VariableState): void {
  const perWord = codesPerWord();
  for (const [name, kind] of state.quantized ?? []) {
    const key = `${name}${CODES_SUFFIX}`;
    const codes = state.slots.get(key)!;
    const { blocks, words } = quantizedSizes(
      state.shape.reduce((a, b) => a * b, 1),
      perWord,
    );
    if (codes.size === words) continue;
    const repacked = repackCodes(codes.dataSync() as Int32Array, blocks, perWord, kind);
    state.slots.set(
      key,
      tf.tidy(() => tf.variable(tf.tensor1d(repacked, 'int32'), false)),
    );
    codes.dispose();
  }
}

/** Frees every slot of these states (and moves their variables out of any slot memory). */
export function disposeStates(states: Iterable<VariableState>): void {
  const cpu = tf.engine().registry.cpu;
  for (const state of states) {
    if (state.variable) moveOut(state.variable, cpu);
    for (const slot of state.slots.values()) slot.dispose();
  }
}
