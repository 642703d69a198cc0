/**
 * Property-based tests (fast-check) of the state format and of API call sequences: random steps,
 * saves, loads and failing calls interleaved. After any failed call the state, the variables and
 * the tensor count are as they were; anything that loads saves again to the same state.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StateFormatError } from './index.js';
import { Momentum } from './reliability-support.js';
import { decodeState, encodeState } from './state-format.js';

const Rmsish = Momentum;
type Optimizer = InstanceType<typeof Rmsish>;

const SHAPES = [[3], [2, 2], []] as const;
let run = 0;

/** A call of the sequence; the failing ones must change nothing. */
type Command =
  | { kind: 'step'; which: boolean[]; scale: number }
  | { kind: 'badStep'; fault: 'shape' | 'name' | 'dtype' | 'disposed' | 'container' }
  | { kind: 'save' }
  | { kind: 'load'; index: number }
  | { kind: 'loadCorrupt'; index: number; position: number; xor: number }
  | { kind: 'loadTruncated'; index: number; keep: number }
  | { kind: 'weightsRoundTrip' }
  | { kind: 'weightsTampered'; fault: 'iter' | 'nan' | 'negative' | 'shape' };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant('step' as const),
    which: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    scale: fc.double({ min: -4, max: 4, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('badStep' as const),
    fault: fc.constantFrom('shape', 'name', 'dtype', 'disposed', 'container' as const),
  }),
  fc.constant({ kind: 'save' as const }),
  fc.record({ kind: fc.constant('load' as const), index: fc.nat() }),
  fc.record({
    kind: fc.constant('loadCorrupt' as const),
    index: fc.nat(),
    position: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('loadTruncated' as const), index: fc.nat(), keep: fc.nat() }),
  fc.constant({ kind: 'weightsRoundTrip' as const }),
  fc.record({
    kind: fc.constant('weightsTampered' as const),
    fault: fc.constantFrom('iter', 'nan', 'negative', 'shape' as const),
  }),
);

async function snapshot(optimizer: Optimizer, variables: tf.Variable[]) {
  return {
    state: Array.from(await optimizer.saveState()),
    iterations: optimizer.iterations,
    accumulated: optimizer.accumulatedSteps,
    values: variables.map((v) => Array.from(v.dataSync())),
    tensors: tf.memory().numTensors,
  };
}

/** Runs one failing call: it must throw and change nothing. */
async function expectFailureChangesNothing(
  optimizer: Optimizer,
  variables: tf.Variable[],
  call: () => unknown,
): Promise<void> {
  const before = await snapshot(optimizer, variables);
  let threw = false;
  try {
    await call();
  } catch {
    threw = true;
  }
  expect(threw).toBe(true);
  expect(await snapshot(optimizer, variables)).toEqual(before);
}

async function runSequence(commands: Command[], accumulateSteps: number, scheduled: boolean): Promise<void> {
  run += 1;
  const baseline = tf.memory().numTensors;
  const variables = SHAPES.map((shape, i) =>
    tf.tidy(() => tf.variable(tf.fill([...shape], 0.5 + i), true, `property${run}/v${i}`)),
  );
  const optimizer = new Rmsish({
    accumulateSteps,
    momentum: scheduled ? (step) => (step % 4 < 2 ? 0 : 0.8) : 0.8,
  });
  const saved: Uint8Array[] = [];
  const pick = (index: number) => saved[index % saved.length]!;
  // Inputs of the failing calls are made before the call, so that they do not count as its tensors.
  const grads = (scale: number, which: boolean[]) =>
    Object.fromEntries(
      variables.filter((_, i) => which[i]).map((v, i) => [v.name, tf.fill(v.shape, scale * (i + 1))]),
    );
  for (const c of commands) {
    switch (c.kind) {
      case 'step': {
        const g = grads(c.scale, c.which);
        optimizer.applyGradients(g);
        tf.dispose(Object.values(g));
        break;
      }
      case 'badStep': {
        const good = grads(1, [true, true, true]);
        const bad: Record<string, tf.Tensor> = { ...good };
        const first = variables[0]!.name;
        let extra: tf.Tensor | null = null;
        if (c.fault === 'shape') bad[first] = extra = tf.ones([4]);
        if (c.fault === 'name') bad[`${first}-missing`] = extra = tf.ones([3]);
        if (c.fault === 'dtype') bad[first] = extra = tf.ones([3], 'int32');
        if (c.fault === 'disposed') {
          extra = tf.ones([3]);
          extra.dispose();
          bad[first] = extra;
        }
        const input =
          c.fault === 'container' ? (new Set([good[first]]) as unknown as tf.NamedTensorMap) : bad;
        await expectFailureChangesNothing(optimizer, variables, () => optimizer.applyGradients(input));
        tf.dispose([...Object.values(good), ...(extra && !extra.isDisposed ? [extra] : [])]);
        break;
      }
      case 'save':
        saved.push(await optimizer.saveState());
        break;
      case 'load': {
        if (saved.length === 0) break;
        const bytes = pick(c.index);
        await optimizer.loadState(bytes);
        expect(Array.from(await optimizer.saveState())).toEqual(Array.from(bytes));
        break;
      }
      case 'loadCorrupt': {
        if (saved.length === 0) break;
        const bytes = pick(c.index).slice();
        bytes[c.position % bytes.length]! ^= c.xor;
        await expectFailureChangesNothing(optimizer, variables, () => optimizer.loadState(bytes));
        break;
      }
      case 'loadTruncated': {
        if (saved.length === 0) break;
        const bytes = pick(c.index);
        const cut = bytes.subarray(0, c.keep % bytes.length);
        await expectFailureChangesNothing(optimizer, variables, () => optimizer.loadState(cut));
        break;
      }
      case 'weightsRoundTrip': {
        if (optimizer.accumulatedSteps > 0) {
          await expectFailureChangesNothing(optimizer, variables, () => optimizer.getWeights());
          break;
        }
        const before = await optimizer.saveState();
        const weights = await optimizer.getWeights();
        const copies = weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
        await optimizer.setWeights(copies);
        tf.dispose(copies.map((w) => w.tensor));
        // Restored by tfjs-layers' path, the state is unbound until a step binds it.
        const after = decodeState(await optimizer.saveState());
        const expected = decodeState(before);
        const bound = (h: typeof after.header) => h.variables.map(({ unbound: _, ...v }) => v);
        expect(after.header.variables.every((v) => v.unbound === true)).toBe(true);
        expect(bound(after.header)).toEqual(bound(expected.header));
        expect(Array.from(after.payload)).toEqual(Array.from(expected.payload));
        break;
      }
      case 'weightsTampered': {
        if (optimizer.accumulatedSteps > 0 || optimizer.iterations === 0) break;
        const weights = await optimizer.getWeights();
        if (c.fault !== 'iter' && !weights.some((w) => w.name.endsWith('/square'))) break;
        const tampered = weights.map((w, i) => {
          if (c.fault === 'iter' && i === 0) return { name: w.name, tensor: tf.scalar(-1, 'int32') };
          if (w.name.endsWith('/square') && c.fault !== 'iter') {
            const values = Array.from(w.tensor.dataSync());
            if (c.fault === 'shape') return { name: w.name, tensor: tf.zeros([values.length + 1]) };
            values[0] = c.fault === 'nan' ? Number.NaN : -1;
            return { name: w.name, tensor: tf.tensor(values, w.tensor.shape) };
          }
          return { name: w.name, tensor: tf.clone(w.tensor) };
        });
        await expectFailureChangesNothing(optimizer, variables, () => optimizer.setWeights(tampered));
        tf.dispose(tampered.map((w) => w.tensor));
        break;
      }
    }
  }
  optimizer.dispose();
  tf.dispose(variables);
  expect(tf.memory().numTensors).toBe(baseline);
}

describe('API call sequences (fast-check)', () => {
  it('failed calls change nothing, saved states load back exactly, dispose frees everything', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 1, max: 2 }),
        fc.boolean(),
        (commands, accumulateSteps, scheduled) => runSequence(commands, accumulateSteps, scheduled),
      ),
      { numRuns: 150, seed: 20261201 },
    );
  });
});

/** Every path of a JSON value, with a setter that replaces the value at that path. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [
    prefix,
    ...keys.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k])),
  ];
}

function replaced(value: unknown, path: (string | number)[], next: unknown): unknown {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head!] = replaced((value as Record<string | number, unknown>)[head!], rest, next);
  return copy;
}

describe('state format (fast-check)', () => {
  it('a header edited anywhere (valid checksum) is refused with a StateFormatError, or loads and saves again', async () => {
    const variables = SHAPES.map((shape, i) => tf.variable(tf.fill([...shape], 1 + i), true, `format/v${i}`));
    const optimizer = new Rmsish({ momentum: 0.8 });
    for (let i = 0; i < 3; i++) {
      optimizer.applyGradients(Object.fromEntries(variables.map((v) => [v.name, tf.onesLike(v)])));
    }
    const bytes = await optimizer.saveState();
    const { header, payload } = decodeState(bytes);
    const plain = JSON.parse(JSON.stringify(header)) as unknown;
    const all = paths(plain);
    let refused = 0;
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(all.length - 1), fc.jsonValue({ maxDepth: 2 }), async (index, value) => {
        const edited = replaced(plain, all[index]!, value);
        const crafted = encodeState(edited, payload.length, (p) => p.set(payload));
        const target = new Rmsish({ momentum: 0.8 });
        const before = tf.memory().numTensors;
        try {
          await target.loadState(crafted);
        } catch (error) {
          expect(error).toBeInstanceOf(StateFormatError);
          expect(tf.memory().numTensors).toBe(before);
          expect(target.iterations).toBe(0);
          refused += 1;
          target.dispose();
          return;
        }
        loaded += 1;
        const again = await target.saveState();
        const other = new Rmsish({ momentum: 0.8 });
        await other.loadState(again);
        expect(Array.from(await other.saveState())).toEqual(Array.from(again));
        target.dispose();
        other.dispose();
      }),
      { numRuns: 300, seed: 1201 },
    );
    // Both outcomes occur: the property is not vacuous.
    expect(refused).toBeGreaterThan(0);
    expect(loaded).toBeGreaterThan(0);
    optimizer.dispose();
    tf.dispose(variables);
  });
});
