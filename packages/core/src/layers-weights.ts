/**
 * The optimizer state as tfjs-layers saves and restores it (`model.save(…, {includeOptimizer:
 * true})`, `tf.loadLayersModel`): `iter`, then per variable its bookkeeping and its slots, in
 * order. tfjs-layers restores by position and renames variables loaded twice in one process, so
 * restored state is bound to variables on the next step, by name or else by position.
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkSlotValues, type RestoreChecks, type RestoredVariable } from './optimizer-state.js';
import { StateFormatError } from './state-format.js';
import type { NamedTensor } from './types.js';
import {
  registeredVariable,
  SLOT_NAME,
  STATE_WEIGHT,
  sameShape,
  shapeString,
  type VariableState,
} from './variable-state.js';

/**
 * The weights in tfjs-layers order: `iter`, then per variable `<name>/optimkitState` (int32
 * `[step, group, ...shape]`) and its slots (`<name>/<slot>`, the live variables). `owned` are the
 * tensors made here, for the caller to free.
 */
export function exportWeights(
  states: Iterable<VariableState>,
  iterations: number,
): { weights: { name: string; tensor: tf.Tensor }[]; owned: tf.Tensor[] } {
  const states_ = [...states];
  const largest = Math.max(iterations, ...states_.map((s) => s.step));
  if (largest > INT32_MAX) {
    // tfjs-layers keeps optimizer weights as tensors, and counts as int32: refuse rather than wrap.
    throw new RangeError(
      `getWeights: ${largest} steps do not fit the int32 counts tfjs-layers stores; save this state with saveState()`,
    );
  }
  const iter = tf.scalar(iterations, 'int32');
  const owned: tf.Tensor[] = [iter];
  const weights = [{ name: 'iter', tensor: iter as tf.Tensor }];
  for (const state of states_) {
    const info = tf.tensor1d([state.step, state.group, ...state.shape], 'int32');
    owned.push(info);
    weights.push({ name: `${state.name}/${STATE_WEIGHT}`, tensor: info });
    for (const [slot, value] of state.slots) weights.push({ name: `${state.name}/${slot}`, tensor: value });
  }
  return { weights, owned };
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Parses what {@link exportWeights} wrote into unbound states, validating everything first: the
 * counts, each variable's bookkeeping, its slots (names and shapes as the optimizer keeps them,
 * float32, finite values). Nothing is created unless everything is valid.
 */
export async function importWeights(
  weightValues: NamedTensor[],
  checks: RestoreChecks,
): Promise<{ states: Map<string, VariableState>; iterations: number }> {
  if (!Array.isArray(weightValues)) throw new StateFormatError('setWeights takes an array of named tensors');
  const [iter, ...rest] = weightValues;
  if (iter?.name !== 'iter' || !(iter.tensor instanceof tf.Tensor) || iter.tensor.rank !== 0) {
    throw new StateFormatError(`setWeights: the first weight must be the scalar 'iter'`);
  }
  const iterations = (await iter.tensor.data())[0]!;
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new StateFormatError(`setWeights: 'iter' is ${iterations}, not a count of steps`);
  }
  const parsed: { name: string; info: number[]; slots: [string, tf.Tensor][] }[] = [];
  for (const entry of rest) {
    const { name, tensor } = entry ?? {};
    if (typeof name !== 'string') throw new StateFormatError('setWeights: a weight has no name');
    const cut = name.lastIndexOf('/');
    const owner = name.slice(0, cut);
    const slot = name.slice(cut + 1);
    if (cut <= 0 || !(tensor instanceof tf.Tensor) || tensor.isDisposed) {
      throw new StateFormatError(`setWeights: unexpected weight '${name}'`);
    }
    if (slot === STATE_WEIGHT) {
      if (tensor.dtype !== 'int32' || tensor.rank !== 1 || tensor.size < 2) {
        throw new StateFormatError(`setWeights: '${name}' must be an int32 vector [step, group, ...shape]`);
      }
      parsed.push({ name: owner, info: Array.from(await tensor.data()), slots: [] });
      continue;
    }
    const current = parsed[parsed.length - 1];
    if (!current || current.name !== owner) {
      throw new StateFormatError(`setWeights: slot '${name}' does not follow '${owner}/${STATE_WEIGHT}'`);
    }
    if (!SLOT_NAME.test(slot) || (tensor.dtype !== 'float32' && tensor.dtype !== 'int32')) {
      throw new StateFormatError(
        `setWeights: '${name}' is not a float32 slot (or the int32 codes of an 8-bit one)`,
      );
    }
    if (current.slots.some(([s]) => s === slot))
      throw new StateFormatError(`setWeights: '${name}' appears twice`);
    current.slots.push([slot, tensor]);
  }
  const names = new Set<string>();
  for (const { name, info, slots } of parsed) {
    if (names.has(name)) throw new StateFormatError(`setWeights: variable '${name}' appears twice`);
    names.add(name);
    const [step, group, ...shape] = info as [number, number, ...number[]];
    if (
      step < 0 ||
      step > iterations ||
      group < -1 ||
      group >= checks.groupCount ||
      shape.some((d) => d < 0)
    ) {
      throw new StateFormatError(
        `setWeights: '${name}' has step ${step}, group ${group} and shape ${shapeString(shape)} ` +
          `(of ${iterations} iterations and ${checks.groupCount} param groups)`,
      );
    }
    const rules = checks.checkSlots(
      {
        name,
        shape,
        group,
        step,
        slots: new Map(slots.map(([slot, t]) => [slot, t.shape])),
        dtypes: new Map(slots.map(([slot, t]) => [slot, t.dtype])),
      },
      iterations,
    );
    for (const [slot, tensor] of slots) checkSlotValues(checks, name, slot, await tensor.data(), rules);
  }
  const states = new Map<string, VariableState>();
  for (const { name, info, slots } of parsed) {
    const [step, group, ...shape] = info as [number, number, ...number[]];
    states.set(name, {
      name,
      variable: null,
      shape,
      group,
      step,
      slots: new Map(slots.map(([slot, tensor]) => [slot, tf.variable(tensor, false)])),
    });
  }
  return { states, iterations };
}

const warnedUnbound = new WeakSet<object>();

function warnUnbound(unbound: readonly VariableState[], count: number): void {
  if (warnedUnbound.has(unbound[0]!)) return;
  warnedUnbound.add(unbound[0]!);
  console.warn(
    `optimkit: restored optimizer state for ${unbound.length} variables (${unbound.map((s) => s.name).join(', ')}) ` +
      `matches neither the names nor the shapes, in order, of the ${count} variables of this step; ` +
      'it stays unbound until a step names them, and these variables start from fresh state',
  );
}

/**
 * Binds restored, unbound states to the variables of a step: by name those whose saved name the
 * step has (the others wait for a later step); when it has none of them, by position if the step
 * has as many variables with the saved shapes in order (tfjs-layers passes its trainable weights in
 * a fixed order, and renames the variables of a model loaded twice in one process); else nothing,
 * with one warning. Returns the new states, or null when nothing was bound.
 */
export function bindRestored(
  current: ReadonlyMap<string, VariableState>,
  names: readonly string[],
  checkSlots: (variable: RestoredVariable) => void,
): Map<string, VariableState> | null {
  let unbound = [...current.values()].filter((s) => s.variable === null);
  if (unbound.length === 0 || names.length === 0) return null;
  const present = new Set(names);
  const byName = unbound.filter((s) => present.has(s.name));
  let targets: string[];
  if (byName.length > 0) {
    // Every restored name, or some of them (a step over part of the model): bind those by name,
    // the others wait for a step that names them.
    unbound = byName;
    targets = byName.map((s) => s.name);
  } else if (
    unbound.length === names.length &&
    unbound.every((s, i) => sameShape(s.shape, registeredVariable(names[i]!)?.shape ?? [-1]))
  ) {
    // tfjs-layers renamed the variables (a model loaded twice in one process): by position.
    targets = [...names];
  } else {
    warnUnbound(unbound, names.length);
    return null;
  }
  const bound = unbound.map((state, i) => {
    const name = targets[i]!;
    const variable = registeredVariable(name);
    if (!variable) throw new Error(`Restored optimizer state: no variable named '${name}' is registered`);
    const other = current.get(name);
    if (other && other !== state && other.variable !== null) {
      throw new Error(`Restored optimizer state for '${state.name}' would replace the state of '${name}'`);
    }
    if (!sameShape(state.shape, variable.shape)) {
      throw new StateFormatError(
        `Restored optimizer state of '${state.name}' is for shape ${shapeString(state.shape)}, ` +
          `but '${name}' has shape ${shapeString(variable.shape)}`,
      );
    }
    checkSlots({
      name,
      shape: variable.shape,
      group: state.group,
      step: state.step,
      slots: new Map([...state.slots].map(([k, v]) => [k, v.shape])),
      dtypes: new Map([...state.slots].map(([k, v]) => [k, v.dtype])),
    });
    return { state, name, variable };
  });
  const binding = new Set(unbound);
  const next = new Map<string, VariableState>();
  for (const [key, state] of current) if (!binding.has(state)) next.set(key, state);
  for (const { state, name, variable } of bound) {
    next.set(name, { ...state, name, variable, shape: [...variable.shape] });
  }
  return next;
}
