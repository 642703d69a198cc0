import type * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformOptions } from './gradient-transforms.js';

/** A tensor with a name, as `tf.Optimizer.applyGradients` accepts in an array. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor | null | undefined;
}

/**
 * A hyperparameter that changes with training: called with the number of completed optimizer
 * steps (0 on the first update, as in Optax) and returns the value for that update.
 */
export type Schedule = (step: number) => number;

/** A numeric hyperparameter: a constant or a {@link Schedule}. */
export type Hyperparameter = number | Schedule;

/**
 * The value type of a default: a number, a boolean flag, `null` for an optional number, or a string
 * for a choice among names (its definition's `validate` checks which).
 */
export type DefaultValue = number | boolean | null | string;

/** The defaults of an optimizer: every hyperparameter it has, by name. */
export type Defaults = Record<string, DefaultValue>;

/** What a user may pass for a hyperparameter whose default is `V`. */
export type OptionValue<V> = [V] extends [boolean]
  ? boolean
  : [V] extends [string]
    ? V
    : [V] extends [number]
      ? Hyperparameter
      : Hyperparameter | null;

/** Hyperparameters with every schedule evaluated for the current step. */
export type Resolved<D extends Defaults> = { readonly [K in keyof D]: D[K] };

/** Per-hyperparameter overrides, as options or in a param group. */
export type HyperparameterOptions<D extends Defaults> = { [K in keyof D]?: OptionValue<D[K]> };

/**
 * A param group: the variables it selects (by `params`, a list of variables or names, or by a
 * `match` predicate) and the hyperparameters it overrides. The first matching group wins; other
 * variables use the top-level options.
 */
export type ParamGroup<D extends Defaults = Defaults> = HyperparameterOptions<D> & {
  /** The variables of the group, or their names. */
  params?: readonly (tf.Variable | string)[];
  /** Selects the variables of the group (`(v) => v.rank <= 1` for biases and norm scales). */
  match?: (variable: tf.Variable) => boolean;
};

/** Options every optimkit optimizer accepts besides its own hyperparameters. */
export interface CommonOptions<D extends Defaults = Defaults> extends GradientTransformOptions {
  /** Param groups with their own hyperparameters; see {@link ParamGroup}. */
  paramGroups?: readonly ParamGroup<D>[];
}

/** The options object of an optimizer with defaults `D`. */
export type OptimizerOptions<D extends Defaults> = HyperparameterOptions<D> & CommonOptions<D>;

/**
 * The initial value of one slot: a number fills a tensor of the variable's shape; `{ layout }`
 * gives a slot of one of the variable's smaller layouts (factored optimizers keep `row` and `col`
 * statistics: the shape without its last, or without its second-last, dimension); `{ shape }` any
 * other shape (an `update`-based optimizer only). `{ quantized: 'signed' | 'unsigned' }` is a
 * full-size slot starting at 0 and kept in 8 bits per value (rule-based optimizers only): for a
 * variable of 4096 values or more it is stored as `<slot>Codes` (int32, four 8-bit codes each)
 * and `<slot>Absmax` (float32, one per block of 256 values), bitsandbytes' block-wise dynamic
 * quantisation with the signed map (first moments) or the unsigned one (second moments); the
 * rule reads and writes it as float32, dequantised before and re-quantised after each step.
 * Smaller variables keep it as a float32 slot.
 */
export type SlotInit =
  | number
  | { layout: 'full' | 'row' | 'col' | 'batch' | 'scalar'; value?: number }
  | { shape: readonly number[]; value?: number }
  | { quantized: 'signed' | 'unsigned' };

/** The slots an optimizer keeps for one variable, by slot name. */
export type SlotSpec<K extends string = string> = { readonly [N in K]?: SlotInit };

/** What the per-variable update receives. All tensors are owned by the base class. */
export interface UpdateContext<D extends Defaults> {
  /** The variable's current value. */
  param: tf.Tensor;
  /** Its gradient, after the base class's gradient transforms. */
  grad: tf.Tensor;
  /** Current slot values by name. */
  slots: Readonly<Record<string, tf.Tensor>>;
  /** Hyperparameters of the variable's group, schedules evaluated. */
  h: Resolved<D>;
  /** The number of this update for this variable, 1 on its first update (PyTorch's `step`). */
  step: number;
  /** The variable's name. */
  name: string;
}

/** The new values the per-variable update returns; slots that are left out keep their value. */
export interface UpdateResult {
  param: tf.Tensor;
  slots?: Record<string, tf.Tensor>;
}
