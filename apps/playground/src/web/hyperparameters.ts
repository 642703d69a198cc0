/** The editable hyperparameters of an optimizer: its catalog defaults, read back from the optimizer's config. */
import type * as tf from '@tensorflow/tfjs';
import type { Overrides } from '../catalog.js';

export const MAIN_KEYS = ['learningRate', 'momentum', 'beta1', 'beta2', 'weightDecay'] as const;
export type MainKey = (typeof MAIN_KEYS)[number];

const LABELS: Record<MainKey, string> = {
  learningRate: 'learning rate',
  momentum: 'momentum',
  beta1: 'β₁',
  beta2: 'β₂',
  weightDecay: 'weight decay',
};

/** A hyperparameter and its value; null means the optimizer's own choice (Adafactor's relative step, no β₁). */
export interface Field {
  key: MainKey;
  value: number | null;
}

/** The main hyperparameters `optimizer` has, with their values. */
export function fieldsOf(optimizer: tf.Optimizer): Field[] {
  const config = optimizer.getConfig() as Record<string, unknown>;
  return MAIN_KEYS.flatMap((key) => {
    const value = config[key];
    return typeof value === 'number' || (value === null && key in config) ? [{ key, value }] : [];
  });
}

/** The main hyperparameters a fresh optimizer from `make` has (the optimizer is disposed). */
export function defaultFields(make: () => tf.Optimizer): Field[] {
  const optimizer = make();
  try {
    return fieldsOf(optimizer);
  } finally {
    optimizer.dispose();
  }
}

export function formatNumber(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** Number inputs for `fields` in `container`; `read` returns the overrides or throws a message naming the field. */
export function renderFields(
  container: HTMLElement,
  fields: readonly Field[],
  idPrefix: string,
  onInput: () => void = () => {},
): { read: () => Overrides } {
  container.replaceChildren();
  const inputs = fields.map((field) => {
    const label = document.createElement('label');
    label.className = 'field';
    label.textContent = `${LABELS[field.key]} `;
    const input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.id = `${idPrefix}-${field.key}`;
    input.name = field.key;
    input.value = field.value === null ? '' : formatNumber(field.value);
    if (field.value === null) input.placeholder = field.key === 'learningRate' ? 'relative step' : 'off';
    input.addEventListener('input', onInput);
    label.append(input);
    container.append(label);
    return { field, input };
  });
  return {
    read: () => {
      const overrides: Overrides = {};
      for (const { field, input } of inputs) {
        const text = input.value.trim();
        if (text === '') {
          if (field.value !== null) throw new RangeError(`Enter a value for ${LABELS[field.key]}`);
          continue;
        }
        const value = Number(text);
        if (!Number.isFinite(value))
          throw new RangeError(`${LABELS[field.key]} must be a number, not '${text}'`);
        overrides[field.key] = value;
      }
      return overrides;
    },
  };
}

export function describeFields(fields: readonly Field[]): string {
  return fields
    .map(
      (f) =>
        `${LABELS[f.key]} ${f.value === null ? (f.key === 'learningRate' ? 'relative step' : 'off') : formatNumber(f.value)}`,
    )
    .join(', ');
}
