import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { useBackend } from '../../testing/src/index.js';
import { lastElementwiseRun } from './elementwise.js';
import { defineOptimizer, setFusedKernels } from './index.js';
import { SLOT_MEMORY_MIN_ELEMENTS, slotMemoryOf } from './slot-memory.js';

const meta = { packageName: '@optimkit/core-tests', packageVersion: '0.0.0' } as const;

// Adam's shape of computation: two full slots, a sum-free flat kernel.
const TwoMoments = defineOptimizer({
  className: 'OptimkitTestSlotMemoryTwoMoments',
  ...meta,
  defaults: { learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-6 },
  epsilons: ['epsilon'],
  slots: { m: 0, v: 0.5 },
  scalars: (h) => ({ oneMinusBeta1: 1 - h.beta1, oneMinusBeta2: 1 - h.beta2 }),
  rule: ({ param, grad, slots, s, op }) => {
    const m = op.add(op.mul(slots.m, s.beta1), op.mul(grad, s.oneMinusBeta1));
    const v = op.add(op.mul(slots.v, s.beta2), op.mul(op.mul(grad, grad), s.oneMinusBeta2));
    const step = op.div(m, op.add(op.sqrt(v), s.epsilon));
    return { param: op.sub(param, op.mul(step, s.learningRate)), slots: { m, v } };
  },
});

// A shape with more elements than the threshold and not a multiple of the chunk (a partial last chunk).
const SHAPE = [257, 301];
const SIZE = SHAPE[0]! * SHAPE[1]!;

function valuesOf(t: tf.Tensor): Float32Array {
  return (tf.backend() as unknown as { data: { get(id: tf.DataId): { values: Float32Array } } }).data.get(
    t.dataId,
  ).values;
}

function gradients(step: number): Float32Array {
  const g = new Float32Array(SIZE);
  for (let i = 0; i < SIZE; i++) g[i] = Math.sin(0.37 * i + 1.3 * step) * (1 + (i % 7));
  return g;
}

function initial(): Float32Array {
  const p = new Float32Array(SIZE);
  for (let i = 0; i < SIZE; i++) p[i] = Math.cos(0.11 * i) * 2;
  return p;
}

/** The variable's values after `steps` steps, with fused kernels on or off. */
function train(fused: boolean, steps: number, name: string): Float32Array {
  setFusedKernels(fused);
  const variable = tf.tidy(() => tf.variable(tf.tensor(initial(), SHAPE), true, name));
  const optimizer = new TwoMoments();
  try {
    for (let step = 0; step < steps; step++) {
      const g = tf.tensor(gradients(step), SHAPE);
      optimizer.applyGradients({ [name]: g });
      g.dispose();
    }
    return Float32Array.from(variable.dataSync());
  } finally {
    optimizer.dispose();
    variable.dispose();
    setFusedKernels(true);
  }
}

/** A variable trained fused and a copy trained on the composite path, stepped together. */
function againstComposite(name: string) {
  const variable = tf.tidy(() => tf.variable(tf.tensor(initial(), SHAPE), true, name));
  const optimizer = new TwoMoments();
  const reference = tf.tidy(() => tf.variable(tf.tensor(initial(), SHAPE), true, `${name}Reference`));
  const referenceOptimizer = new TwoMoments();
  const step = (k: number) => {
    const g = tf.tensor(gradients(k), SHAPE);
    optimizer.applyGradients({ [name]: g });
    setFusedKernels(false);
    referenceOptimizer.applyGradients({ [`${name}Reference`]: g });
    setFusedKernels(true);
    g.dispose();
  };
  const dispose = () => {
    optimizer.dispose();
    referenceOptimizer.dispose();
    tf.dispose([variable, reference]);
  };
  return { variable, optimizer, reference, referenceOptimizer, step, dispose };
}

describe('slot memory (cpu)', () => {
  useBackend('cpu');
  afterEach(() => setFusedKernels(true));

  it('is used for variables of at least SLOT_MEMORY_MIN_ELEMENTS elements only', () => {
    expect(SIZE).toBeGreaterThanOrEqual(SLOT_MEMORY_MIN_ELEMENTS);
    const large = tf.tidy(() => tf.variable(tf.zeros(SHAPE), true, 'slotMemoryLarge'));
    const small = tf.tidy(() => tf.variable(tf.zeros([100, 100]), true, 'slotMemorySmall'));
    const optimizer = new TwoMoments();
    try {
      const grads = { slotMemoryLarge: tf.onesLike(large), slotMemorySmall: tf.onesLike(small) };
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
      const slots = optimizer.getSlots('slotMemoryLarge')!;
      const memory = slotMemoryOf(valuesOf(slots.m!).buffer);
      expect(memory).toBeDefined();
      expect(valuesOf(slots.v!).buffer === memory!.memory.buffer).toBe(true);
      // The variable moved in beside its slots on its first in-place update.
      expect(valuesOf(large).buffer === memory!.memory.buffer).toBe(true);
      expect(slotMemoryOf(valuesOf(optimizer.getSlots('slotMemorySmall')!.m!).buffer)).toBeUndefined();
      expect(slotMemoryOf(valuesOf(small).buffer)).toBeUndefined();
    } finally {
      optimizer.dispose();
      tf.dispose([large, small]);
    }
  });

  it('gives bit for bit what the composite path gives, over many steps', () => {
    const fused = train(true, 12, 'slotMemoryFused');
    expect(lastElementwiseRun()).toBe('slot memory');
    const composite = train(false, 12, 'slotMemoryComposite');
    expect(fused).toEqual(composite);
    // The first step by hand: m = 0.1·g, v = 0.99·0.5 + 0.01·g², p − 0.01·m/(√v + 1e-6), in float32.
    const once = train(true, 1, 'slotMemoryOnce');
    const f = Math.fround;
    const p0 = initial();
    const g0 = gradients(0);
    for (const i of [0, 1, 4096, SIZE - 1]) {
      const m = f(f(0 * f(0.9)) + f(g0[i]! * f(1 - 0.9)));
      const v = f(f(0.5 * f(0.99)) + f(f(g0[i]! * g0[i]!) * f(1 - 0.99)));
      const expected = f(p0[i]! - f(f(m / f(f(Math.sqrt(v)) + f(1e-6))) * f(0.01)));
      expect(once[i]).toBe(expected);
    }
  });

  it('leaves a tensor that shares the variable alone, and keeps its data when the variable moves on', () => {
    const { variable, reference, step, dispose } = againstComposite('slotMemoryShared');
    try {
      step(0);
      const room = slotMemoryOf(valuesOf(variable).buffer)!;
      expect(room).toBeDefined();
      // A clone shares the variable's data (now in the memory): the next step cannot write in place.
      const snapshot = tf.clone(variable);
      const before = Float32Array.from(snapshot.dataSync());
      step(1);
      step(2);
      expect(Float32Array.from(snapshot.dataSync())).toEqual(before);
      expect(valuesOf(snapshot).buffer === room.memory.buffer).toBe(true);
      // The variable has data of its own again, but the room is still the snapshot's.
      expect(valuesOf(variable).buffer === room.memory.buffer).toBe(false);
      expect(Float32Array.from(variable.dataSync())).toEqual(Float32Array.from(reference.dataSync()));
      snapshot.dispose();
      // Once the snapshot is gone, the variable moves back in.
      step(3);
      step(4);
      expect(valuesOf(variable).buffer === room.memory.buffer).toBe(true);
      expect(Float32Array.from(variable.dataSync())).toEqual(Float32Array.from(reference.dataSync()));
    } finally {
      dispose();
    }
  });

  it('moves slots back in after a snapshot held their data, and saves the state of the moment', async () => {
    const name = 'slotMemorySaved';
    const { variable, optimizer, reference, referenceOptimizer, step, dispose } = againstComposite(name);
    try {
      step(0);
      const memory = slotMemoryOf(valuesOf(optimizer.getSlots(name)!.m!).buffer)!;
      const inMemory = () =>
        [variable, ...Object.values(optimizer.getSlots(name)!)].map(
          (t) => valuesOf(t).buffer === memory.memory.buffer,
        );
      expect(inMemory()).toEqual([true, true, true]);
      // The snapshot shares the slots' data: the next step writes them afresh, outside the memory.
      const saving = optimizer.saveState();
      const mAfterStep0 = Float32Array.from(optimizer.getSlots(name)!.m!.dataSync());
      step(1);
      expect(inMemory()).toEqual([true, false, false]);
      const bytes = await saving;
      step(2);
      expect(inMemory()).toEqual([true, true, true]);
      step(3);
      expect(Float32Array.from(variable.dataSync())).toEqual(Float32Array.from(reference.dataSync()));
      const slots = optimizer.getSlots(name)!;
      const referenceSlots = referenceOptimizer.getSlots(`${name}Reference`)!;
      for (const slot of ['m', 'v']) {
        expect(Float32Array.from(slots[slot]!.dataSync())).toEqual(
          Float32Array.from(referenceSlots[slot]!.dataSync()),
        );
      }
      // The bytes hold the state after step 0, taken when saveState was called.
      const state = new TwoMoments();
      try {
        await state.loadState(bytes);
        expect(Float32Array.from(state.getSlots(name)!.m!.dataSync())).toEqual(mAfterStep0);
      } finally {
        state.dispose();
      }
    } finally {
      dispose();
    }
  });

  it('gives the variable its own values again when the optimizer is disposed', () => {
    const { variable, optimizer, step, dispose } = againstComposite('slotMemoryReleased');
    try {
      step(0);
      const memory = slotMemoryOf(valuesOf(variable).buffer);
      expect(memory).toBeDefined();
      const before = Float32Array.from(variable.dataSync());
      optimizer.dispose();
      expect(slotMemoryOf(valuesOf(variable).buffer)).toBeUndefined();
      expect(Float32Array.from(variable.dataSync())).toEqual(before);
    } finally {
      dispose();
    }
  });

  it('keeps the tensor count constant and frees everything on dispose', () => {
    // The class's first step creates what every later instance shares: count from after it.
    train(true, 1, 'slotMemoryWarmUp');
    const baseline = tf.memory().numTensors;
    const variable = tf.tidy(() => tf.variable(tf.tensor(initial(), SHAPE), true, 'slotMemoryCount'));
    const g = tf.tensor(gradients(0), SHAPE);
    const optimizer = new TwoMoments();
    optimizer.applyGradients({ slotMemoryCount: g });
    const after = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) optimizer.applyGradients({ slotMemoryCount: g });
    expect(tf.memory().numTensors).toBe(after);
    optimizer.dispose();
    tf.dispose([variable, g]);
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
