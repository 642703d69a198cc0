/**
 * The reliability contract of the base class: a step that throws changes nothing, restored state is
 * validated field by field on both paths (`loadState`, `setWeights`), accepted inputs are bounded.
 * Each case here failed before the base and the codec were fixed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { rewriteState } from '../../testing/src/index.js';
import { defineOptimizer, loadOptimizer, type OptimkitOptimizer, StateFormatError } from './index.js';
import { Momentum as ReliableMomentum } from './reliability-support.js';
import { decodeState, encodeState, type StateHeader } from './state-format.js';

const Momentum = ReliableMomentum;
type Options = ConstructorParameters<typeof Momentum>[0];
const momentum = (options?: Options) => new Momentum(options);

// The same optimizer as tfjs ops (the `update` escape hatch), for the paths without a rule.
const Plain = defineOptimizer({
  className: 'OptimkitTestReliablePlain',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1, weightDecay: 0 },
  slots: { velocity: 0 },
  update({ param, grad, slots, h }) {
    const velocity = tf.add(tf.mul(slots.velocity!, 0.9), grad);
    const decayed = tf.mul(param, 1 - h.learningRate * h.weightDecay);
    return { param: tf.sub(decayed, tf.mul(velocity, h.learningRate)), slots: { velocity } };
  },
});

let made: tf.Variable[] = [];
let counter = 0;
function variable(values: number[], shape: number[] = [values.length], name?: string): tf.Variable {
  counter += 1;
  const v = tf.variable(tf.tensor(values, shape), true, name ?? `reliability${counter}`);
  made.push(v);
  return v;
}
afterEach(() => {
  for (const v of made) if (!v.isDisposed) v.dispose();
  made = [];
});

/** What the helpers need of an optimizer. */
type Observed = Pick<OptimkitOptimizer, 'saveState' | 'iterations' | 'accumulatedSteps'>;

/** Everything observable about an optimizer and its variables, to compare before and after a call. */
async function observe(optimizer: Observed, variables: tf.Variable[]) {
  const bytes = await optimizer.saveState();
  return {
    state: Array.from(bytes),
    iterations: optimizer.iterations,
    values: variables.filter((v) => !v.isDisposed).map((v) => Array.from(v.dataSync())),
    accumulated: optimizer.accumulatedSteps,
    tensors: tf.memory().numTensors,
  };
}

/** Expects `call` to fail with `error` and to leave everything as it was. */
async function expectUnchanged(
  optimizer: Observed,
  variables: tf.Variable[],
  call: () => unknown,
  error: RegExp,
): Promise<void> {
  const before = await observe(optimizer, variables);
  await expect(async () => call()).rejects.toThrow(error);
  expect(await observe(optimizer, variables)).toEqual(before);
}

/** Replaces one float32 value of a saved slot, with a valid checksum. */
function withSlotValue(bytes: Uint8Array, variableName: string, slot: string, value: number): Uint8Array {
  const { header, payload } = decodeState(bytes);
  const entry = header.variables.find((v) => v.name === variableName)!.slots[slot]!;
  const edited = payload.slice();
  new DataView(edited.buffer).setFloat32(entry.offset, value, true);
  return encodeState(header, edited.length, (p) => p.set(edited));
}

describe('a step that throws changes nothing', () => {
  it('creates a slot a scheduled hyperparameter calls for, on the step that first needs it', () => {
    const a = variable([1, -2]);
    const optimizer = momentum({ momentum: (step) => (step < 2 ? 0 : 0.5) });
    const g = tf.tensor([0.5, 1]);
    for (let i = 0; i < 4; i++) optimizer.applyGradients({ [a.name]: g });
    // Steps 1–2 without a buffer, steps 3–4 with one started at zero: by hand, per element,
    // s₁ = g², s₂ = 1.5g², s₃ = 1.75g², s₄ = 1.875g²; u_t = g/(√s_t + ε);
    // p ← p − 0.1·u₁ − 0.1·u₂ − 0.1·u₃ − 0.1·(0.5·u₃ + u₄).
    const expected = [1, -2].map((p, i) => {
      const gi = [0.5, 1][i]!;
      const u = (k: number) => gi / (Math.sqrt(k * gi * gi) + 1e-8);
      return p - 0.1 * u(1) - 0.1 * u(1.5) - 0.1 * u(1.75) - 0.1 * (0.5 * u(1.75) + u(1.875));
    });
    const got = Array.from(a.dataSync());
    got.forEach((x, i) => {
      expect(Math.abs(x - expected[i]!)).toBeLessThan(1e-6 + 2e-4 * Math.abs(expected[i]!));
    });
    expect(Object.keys(optimizer.getSlots(a.name)!).sort()).toEqual(['buffer', 'square']);
    optimizer.dispose();
    g.dispose();
  });

  it('refuses a variable re-created with another shape before updating any other', async () => {
    const a = variable([1, 2]);
    const b = variable([1, 2, 3]);
    const optimizer = momentum({ momentum: 0.9 });
    optimizer.applyGradients({ [a.name]: tf.ones([2]), [b.name]: tf.ones([3]) });
    const name = b.name;
    b.dispose();
    for (const shape of [[4], [2]]) {
      const again = variable(new Array(shape[0]).fill(1), shape, name);
      const ones = [tf.onesLike(a), tf.onesLike(again)];
      await expectUnchanged(
        optimizer,
        [a, again],
        () => optimizer.applyGradients({ [a.name]: ones[0]!, [name]: ones[1]! }),
        new RegExp(
          `state of '${name}' is for shape \\[3\\], but the variable now has shape \\[${shape[0]}\\]`,
        ),
      );
      again.dispose();
      tf.dispose(ones);
    }
    optimizer.dispose();
  });

  it('a rule that fails for one variable updates none (the trace runs before any write)', async () => {
    const Picky = defineOptimizer({
      className: 'OptimkitTestReliablePicky',
      packageName: '@optimkit/core-tests',
      packageVersion: '0.0.0',
      defaults: { learningRate: 0.1 },
      variant: (_h, _step, shape) => ({ rank: shape.length }),
      rule({ param, grad, s, op, v }) {
        if (v.rank > 1) throw new Error('Picky: matrices are not supported');
        return { param: op.sub(param, op.mul(grad, s.learningRate)) };
      },
    });
    const a = variable([1, 2]);
    const m = variable([1, 2, 3, 4], [2, 2]);
    const optimizer = new Picky();
    optimizer.applyGradients({ [a.name]: tf.ones([2]) });
    const grads = { [a.name]: tf.ones([2]), [m.name]: tf.ones([2, 2]) };
    await expectUnchanged(
      optimizer,
      [a, m],
      () => optimizer.applyGradients(grads),
      /matrices are not supported \(variable '.*', shape \[2,2\]\)/,
    );
    optimizer.dispose();
  });

  it('an update function that returns a wrong shape writes nothing, naming the variable', async () => {
    const Broken = defineOptimizer({
      className: 'OptimkitTestReliableBroken',
      packageName: '@optimkit/core-tests',
      packageVersion: '0.0.0',
      defaults: { learningRate: 0.1 },
      slots: { velocity: 0 },
      update: ({ param, grad }) => ({ param: tf.sub(param, grad), slots: { velocity: tf.zeros([7]) } }),
    });
    const a = variable([1, 2]);
    const optimizer = new Broken();
    await expect(async () => optimizer.applyGradients({ [a.name]: tf.ones([2]) })).rejects.toThrow(
      new RegExp(`update of '${a.name}' returned an invalid slot 'velocity'`),
    );
    expect(Array.from(a.dataSync())).toEqual([1, 2]);
    optimizer.dispose();
  });
});

describe('gradient containers', () => {
  it('takes a Map as it takes an object, and refuses a container it cannot read', () => {
    const a = variable([1, 2]);
    const b = variable([1, 2]);
    const g = tf.tensor([0.5, -1]);
    const viaObject = momentum();
    const viaMap = momentum();
    viaObject.applyGradients({ [a.name]: g });
    viaMap.applyGradients(new Map([[b.name, g]]));
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(viaMap.iterations).toBe(1);
    expect(() => viaMap.applyGradients(g as unknown as tf.NamedTensorMap)).toThrow(/not a single tensor/);
    expect(() => viaMap.applyGradients(new Set() as unknown as tf.NamedTensorMap)).toThrow(TypeError);
    expect(viaMap.iterations).toBe(1);
    viaObject.dispose();
    viaMap.dispose();
    g.dispose();
  });

  it('accumulateSteps: a variable disposed mid-window is left out and the window still completes', () => {
    const a = variable([1, 2]);
    const b = variable([1, 2]);
    const optimizer = momentum({ accumulateSteps: 2 });
    optimizer.applyGradients({ [a.name]: tf.ones([2]), [b.name]: tf.ones([2]) });
    a.dispose();
    optimizer.applyGradients({ [b.name]: tf.fill([2], 3) });
    expect(optimizer.accumulatedSteps).toBe(0);
    expect(optimizer.iterations).toBe(1);
    // b moved by one step on the average gradient 2: 0.1 · 2/(√(2²) + 1e-8).
    const step = 0.1 * (2 / (2 + 1e-8));
    Array.from(b.dataSync()).forEach((x, i) => {
      expect(Math.abs(x - ([1, 2][i]! - step))).toBeLessThan(1e-6);
    });
    optimizer.applyGradients({ [b.name]: tf.ones([2]) });
    expect(optimizer.accumulatedSteps).toBe(1);
    optimizer.dispose();
  });

  it('accumulateSteps: a variable re-created with another shape mid-window is refused, nothing changes', async () => {
    const a = variable([1, 2]);
    const optimizer = momentum({ accumulateSteps: 2 });
    optimizer.applyGradients({ [a.name]: tf.ones([2]) });
    const name = a.name;
    a.dispose();
    const again = variable([1, 2, 3], [3], name);
    const grad = tf.ones([3]);
    await expectUnchanged(
      optimizer,
      [again],
      () => optimizer.applyGradients({ [name]: grad }),
      /summed in this window are for shape \[2\], but the variable now has shape \[3\]/,
    );
    optimizer.dispose();
  });
});

describe('restored state', () => {
  async function trained(options: Options = { momentum: 0.9 }) {
    const a = variable([1, 2, 3]);
    const b = variable([1, -1, 0.5, 2], [2, 2]);
    const optimizer = momentum(options);
    for (let i = 0; i < 3; i++)
      optimizer.applyGradients({ [a.name]: tf.onesLike(a), [b.name]: tf.onesLike(b) });
    return { a, b, optimizer, bytes: await optimizer.saveState() };
  }

  it('loads from a Node Buffer, a subarray view and an ArrayBuffer', async () => {
    const { a, b, optimizer, bytes } = await trained();
    const padded = new Uint8Array(bytes.length + 24);
    padded.set(bytes, 16);
    const views: (Uint8Array | ArrayBuffer)[] = [
      Buffer.from(bytes), // a small Buffer is a view into a shared pool
      padded.subarray(16, 16 + bytes.length),
      bytes.slice().buffer,
    ];
    expect((views[0] as Buffer).byteOffset + bytes.length).toBeLessThanOrEqual(
      (views[0] as Buffer).buffer.byteLength,
    );
    for (const view of views) {
      await optimizer.loadState(view);
      expect(Array.from(await optimizer.saveState())).toEqual(Array.from(bytes));
      const restored = await loadOptimizer(view);
      expect(Array.from(await restored.saveState())).toEqual(Array.from(bytes));
      restored.dispose();
    }
    await expect(optimizer.loadState('OPTK' as unknown as Uint8Array)).rejects.toThrow(
      /must be a Uint8Array, a Buffer or an ArrayBuffer, not string/,
    );
    optimizer.dispose();
    expect([a, b].every((v) => !v.isDisposed)).toBe(true);
  });

  it('refuses entries without a shape, of another dtype, or with a step beyond the iterations', async () => {
    const { a, b, optimizer, bytes } = await trained();
    const edits: [string, (h: StateHeader) => void, RegExp][] = [
      [
        'no shape',
        (h) => {
          (h.variables[0] as { shape: unknown }).shape = null;
        },
        /has no shape/,
      ],
      [
        'int32 slot',
        (h) => {
          h.variables[0]!.slots.square!.dtype = 'int32';
        },
        /is not float32/,
      ],
      [
        'step',
        (h) => {
          h.variables[0]!.step = h.iterations + 1;
        },
        /invalid step \(4 of 3 iterations\)/,
      ],
      [
        'huge iterations',
        (h) => {
          h.iterations = 2 ** 60;
        },
        /iterations is not a non-negative integer/,
      ],
      [
        '__proto__ slot',
        (h) => {
          const slots = h.variables[0]!.slots as Record<string, unknown>;
          Object.defineProperty(slots, '__proto__', { value: slots.square, enumerable: true });
        },
        /has slots \[square, buffer, __proto__\]/,
      ],
      [
        'unknown slot',
        (h) => {
          const slots = h.variables[0]!.slots;
          Object.defineProperty(slots, 'toString', { value: slots.square, enumerable: true });
        },
        /has slots \[.*toString\]/,
      ],
      [
        'missing slot',
        (h) => void delete (h.variables[0]!.slots as Record<string, unknown>).square,
        /has slots \[buffer\]/,
      ],
    ];
    for (const [, edit, error] of edits) {
      const bad = rewriteState(bytes, (h) => {
        edit(h);
        return h;
      });
      await expectUnchanged(optimizer, [a, b], () => optimizer.loadState(bad), error);
      await expect(loadOptimizer(bad)).rejects.toThrow(StateFormatError);
    }
    optimizer.dispose();
  });

  it('refuses NaN, ±Infinity and negative second moments, in loadState and setWeights alike', async () => {
    const { a, b, optimizer, bytes } = await trained();
    const weights = await optimizer.getWeights();
    for (const [slot, value, error] of [
      ['buffer', Number.NaN, /slot 'buffer' of '.*' holds NaN at element 1: restored state must be finite/],
      ['square', Number.POSITIVE_INFINITY, /slot 'square' of '.*' holds Infinity at element 1/],
      ['square', -0.5, /holds -0.5 at element 1, but OptimkitTestReliableMomentum keeps it non-negative/],
    ] as const) {
      const bad = withSlotValue(bytes, a.name, slot, value);
      // Element 1 of the slot: the offset of the entry plus 4 bytes.
      const shifted = (() => {
        const { header, payload } = decodeState(bytes);
        const entry = header.variables.find((v) => v.name === a.name)!.slots[slot]!;
        const edited = payload.slice();
        new DataView(edited.buffer).setFloat32(entry.offset + 4, value, true);
        return encodeState(header, edited.length, (p) => p.set(edited));
      })();
      expect(bad.length).toBe(shifted.length);
      await expectUnchanged(optimizer, [a, b], () => optimizer.loadState(shifted), error);
      const tampered = weights.map((w) => {
        if (w.name !== `${a.name}/${slot}`) return w;
        const values = Array.from(w.tensor.dataSync());
        values[1] = value;
        return { name: w.name, tensor: tf.tensor(values, w.tensor.shape) };
      });
      const fresh = momentum({ momentum: 0.9 });
      const freshBefore = await fresh.saveState();
      await expect(fresh.setWeights(tampered)).rejects.toThrow(error);
      expect(Array.from(await fresh.saveState())).toEqual(Array.from(freshBefore));
      fresh.dispose();
    }
    optimizer.dispose();
  });

  it('setWeights refuses an iteration count that is negative, fractional or not a number', async () => {
    const { a, b, optimizer } = await trained();
    const weights = await optimizer.getWeights();
    for (const iter of [-7, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const bad = [{ name: 'iter', tensor: tf.scalar(iter) }, ...weights.slice(1)];
      await expectUnchanged(
        optimizer,
        [a, b],
        () => optimizer.setWeights(bad),
        /'iter' is .*, not a count of steps/,
      );
    }
    const stepTooLarge = weights.map((w) =>
      w.name.endsWith('/optimkitState')
        ? { name: w.name, tensor: tf.tensor1d([99, ...Array.from(w.tensor.dataSync()).slice(1)], 'int32') }
        : w,
    );
    await expectUnchanged(optimizer, [a, b], () => optimizer.setWeights(stepTooLarge), /has step 99/);
    const wrongSlotShape = weights.map((w) =>
      w.name === `${a.name}/square` ? { name: w.name, tensor: tf.zeros([5]) } : w,
    );
    await expectUnchanged(
      optimizer,
      [a, b],
      () => optimizer.setWeights(wrongSlotShape),
      /slot 'square' .* has shape \[5\]/,
    );
    optimizer.dispose();
  });

  it('getWeights refuses counts beyond int32 rather than wrapping them', async () => {
    const { optimizer, bytes } = await trained();
    const huge = rewriteState(bytes, (h) => ({ ...h, iterations: 2 ** 31 }));
    await optimizer.loadState(huge);
    expect(optimizer.iterations).toBe(2 ** 31);
    await expect(optimizer.getWeights()).rejects.toThrow(/2147483648 steps do not fit the int32 counts/);
    // Saved again as it was loaded (the header's keys may come in another order).
    const again = decodeState(await optimizer.saveState());
    expect(again.header).toEqual(decodeState(huge).header);
    expect(Array.from(again.payload)).toEqual(Array.from(decodeState(huge).payload));
    optimizer.dispose();
  });

  it('state restored by setWeights and saved before any step stays unbound: it binds on the next step', async () => {
    // As after tf.loadLayersModel in the same process: the model's variables were renamed, and the
    // old model (whose names the weights carry) is still alive.
    const { a, b, optimizer } = await trained();
    const weights = await optimizer.getWeights();
    const restored = momentum({ momentum: 0.9 });
    await restored.setWeights(weights);
    const bytes = await restored.saveState();
    expect(decodeState(bytes).header.variables.every((v) => v.unbound === true)).toBe(true);
    const copyA = variable(Array.from(a.dataSync()), a.shape);
    const copyB = variable(Array.from(b.dataSync()), b.shape);
    const loaded = momentum({ momentum: 0.9 });
    await loaded.loadState(bytes);
    expect(Array.from(await loaded.saveState())).toEqual(Array.from(bytes));
    loaded.applyGradients([
      { name: copyA.name, tensor: tf.onesLike(a) },
      { name: copyB.name, tensor: tf.onesLike(b) },
    ]);
    optimizer.applyGradients({ [a.name]: tf.onesLike(a), [b.name]: tf.onesLike(b) });
    expect(Array.from(copyA.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(copyB.dataSync())).toEqual(Array.from(b.dataSync()));
    // The old variables kept the state they had: binding went to the variables of the step.
    expect(loaded.getSlots(copyA.name)).toBeDefined();
    expect(loaded.getSlots(a.name)).toBeUndefined();
    for (const o of [optimizer, restored, loaded]) o.dispose();
  });

  it('names that are members of Object.prototype are plain names, never prototype members', async () => {
    const optimizer = momentum();
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      expect(() => optimizer.applyGradients([{ name, tensor: tf.ones([2]) }])).toThrow(
        `no variable named '${name}' is registered`,
      );
    }
    const { bytes } = await trained();
    const foreign = rewriteState(bytes, (h) => {
      h.variables[0]!.name = 'toString';
      return h;
    });
    await expect(optimizer.loadState(foreign)).rejects.toThrow("has no live variable 'toString'");
    expect(optimizer.iterations).toBe(0);
    optimizer.dispose();
  });

  it('a state with a conditional slot the current step does not call for loads and saves again', async () => {
    // The momentum schedule reached 0 after the buffer was made: the buffer is kept.
    const schedule = (step: number) => (step < 2 ? 0.9 : 0);
    const { optimizer, bytes } = await trained({ momentum: schedule });
    const again = momentum({ momentum: schedule });
    await again.loadState(bytes);
    expect(Array.from(await again.saveState())).toEqual(Array.from(bytes));
    for (const o of [optimizer, again]) o.dispose();
  });
});

describe('hyperparameters that vanish or overflow in float32', () => {
  it('refuses an epsilon below the smallest normal float32, and values beyond its range', () => {
    expect(() => momentum({ epsilon: 1e-50 })).toThrow(
      /Invalid epsilon: 1e-50 \(below float32's smallest normal/,
    );
    expect(() => momentum({ epsilon: 1e-40 })).toThrow(/Invalid epsilon: 1e-40/);
    expect(() => momentum({ epsilon: 0 })).not.toThrow();
    expect(() => momentum({ epsilon: 2 ** -126 })).not.toThrow();
    expect(() => momentum({ learningRate: 1e39 })).toThrow(
      /Invalid learningRate: 1e\+39 \(beyond float32's range/,
    );
    const a = variable([1]);
    const scheduled = momentum({ epsilon: (step) => (step < 1 ? 1e-8 : 1e-60) });
    scheduled.applyGradients({ [a.name]: tf.ones([1]) });
    expect(() => scheduled.applyGradients({ [a.name]: tf.ones([1]) })).toThrow(
      /Invalid epsilon: 1e-60 .* at step 1/,
    );
    expect(scheduled.iterations).toBe(1);
    scheduled.dispose();
  });
});

describe('maximize', () => {
  it('negates every gradient before the rule, on fused and escape-hatch optimizers alike', () => {
    for (const make of [
      (maximize: boolean) => momentum({ momentum: 0.5, maximize }),
      (maximize: boolean) => new Plain({ weightDecay: 0.1, maximize }),
    ]) {
      const up = variable([1, -2, 3]);
      const down = variable([1, -2, 3]);
      const maximizing = make(true);
      const minimizing = make(false);
      for (let i = 0; i < 3; i++) {
        const g = tf.tensor([0.5, -1, 2 + i]);
        maximizing.applyGradients({ [up.name]: g });
        minimizing.applyGradients({ [down.name]: tf.neg(g) });
      }
      expect(Array.from(up.dataSync())).toEqual(Array.from(down.dataSync()));
      expect(maximizing.getConfig().maximize).toBe(true);
      expect(minimizing.getConfig().maximize).toBeUndefined();
      expect(() => make(1 as unknown as boolean)).toThrow(/Option 'maximize' of .* must be a boolean/);
      maximizing.dispose();
      minimizing.dispose();
    }
  });
});

describe('stateful schedules', () => {
  /** A schedule whose state is one number; it refuses anything else. */
  function counterSchedule(start: number) {
    let value = start;
    const schedule = Object.assign((_step: number) => value, {
      stateful: {
        saveState: () => value,
        loadState(state: unknown) {
          if (typeof state !== 'number') throw new TypeError(`not a number: ${String(state)}`);
          value = state;
        },
      },
    });
    return { schedule, get: () => value };
  }

  it('a schedule state that does not load leaves the schedules loaded before it unchanged', async () => {
    const a = variable([1, 2]);
    const lr = counterSchedule(0.1);
    const mu = counterSchedule(0.5);
    const optimizer = momentum({ learningRate: lr.schedule, momentum: mu.schedule });
    optimizer.applyGradients({ [a.name]: tf.ones([2]) });
    const bytes = rewriteState(await optimizer.saveState(), (h) => {
      h.extra = { ...h.extra, schedules: { learningRate: 0.2, momentum: 'broken' } };
      return h;
    });
    await expectUnchanged(
      optimizer,
      [a],
      () => optimizer.loadState(bytes),
      /schedule state that does not load: not a number/,
    );
    expect(lr.get()).toBe(0.1);
    expect(mu.get()).toBe(0.5);
    optimizer.dispose();
  });
});
