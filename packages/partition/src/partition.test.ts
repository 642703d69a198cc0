import { adamw } from '@optimkit/adam';
import { loadOptimizer, type OptimkitOptimizer } from '@optimkit/core';
import { muon } from '@optimkit/muon';
import { sgd } from '@optimkit/sgd';
import {
  describeOptimizerConformance,
  expectClose,
  float32Values,
  mixedRanks,
  runGolden,
  seededRandom,
} from '@optimkit/testing';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Partition, partition } from './index.js';

type Options = {
  learningRate?: number | ((step: number) => number);
  momentum?: number;
  weightDecay?: number;
  [option: string]: unknown;
};

const byRank = (variable: tf.Variable) => (variable.rank >= 2 ? 'sgd' : 'adamw');

/** SGD with momentum for the matrices and larger, AdamW for scalars and vectors. */
function sgdAndAdamW(options: Options = {}): Partition {
  const { learningRate, momentum, weightDecay, clipGradNorm, skipNonFinite, ...rest } = options;
  const lr = learningRate === undefined ? {} : { learningRate };
  return partition(
    {
      sgd: sgd({ ...lr, momentum: momentum ?? 0.9, ...rest }),
      adamw: adamw({ ...lr, weightDecay: weightDecay ?? 0, ...rest }),
    },
    byRank,
    {
      ...(clipGradNorm === undefined ? {} : { clipGradNorm: clipGradNorm as number }),
      ...(skipNonFinite === undefined ? {} : { skipNonFinite: skipNonFinite as boolean }),
    },
  );
}

describeOptimizerConformance<Options>({
  name: 'partition (sgd for rank ≥ 2, adamw below)',
  create: sgdAndAdamW,
  optionSets: [
    { learningRate: 0.01 },
    { learningRate: 0.02, momentum: 0.5, weightDecay: 0.1 },
    { learningRate: 0.02, clipGradNorm: 0.5, skipNonFinite: true },
  ],
  quadratic: { options: { learningRate: 0.05 }, steps: 400, tolerance: 1e-3 },
  rosenbrock: { options: { learningRate: 0.02, momentum: 0.9 }, steps: 3000, tolerance: 5e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { momentum: 1.5 }, error: /momentum/ },
    {
      options: { clipGradNorm: 0 },
      error: 'Invalid clipGradNorm of OptimkitPartition: 0 (a positive number)',
    },
    { options: { skipNonFinite: 1 }, error: "Option 'skipNonFinite' of OptimkitPartition must be a boolean" },
  ],
});

function bits(variables: readonly tf.Variable[]): number[][] {
  return variables.map((v) => Array.from(new Uint32Array(Float32Array.from(v.dataSync()).buffer)));
}

/** Applies `grads` (by variable name) to `optimizer`, then frees them. */
function apply(optimizer: tf.Optimizer, grads: tf.NamedTensorMap): void {
  try {
    optimizer.applyGradients(grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
}

function pick(grads: tf.NamedTensorMap, variables: readonly tf.Variable[]): tf.NamedTensorMap {
  return Object.fromEntries(variables.map((v) => [v.name, tf.clone(grads[v.name]!)]));
}

const sgdOptions = { learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 };
const adamwOptions = { learningRate: 0.01, weightDecay: 0.05 };

describe('partition', () => {
  it('gives bit for bit what each optimizer gives alone on its own variables', () => {
    const together = mixedRanks();
    const apart = mixedRanks();
    const optimizer = partition({ sgd: sgd(sgdOptions), adamw: adamw(adamwOptions) }, byRank);
    const alone = { sgd: sgd(sgdOptions), adamw: adamw(adamwOptions) };
    const matrices = apart.variables.filter((v) => v.rank >= 2);
    const rest = apart.variables.filter((v) => v.rank < 2);
    for (let step = 0; step < 25; step++) {
      apply(optimizer, together.gradients(step));
      const grads = apart.gradients(step);
      apply(alone.sgd, pick(grads, matrices));
      apply(alone.adamw, pick(grads, rest));
      tf.dispose(Object.values(grads));
    }
    expect(bits(together.variables)).toEqual(bits(apart.variables));
    expect(optimizer.iterations).toBe(25);
    expect(optimizer.optimizers.sgd!.iterations).toBe(25);
    expect(optimizer.optimizers.adamw!.iterations).toBe(25);
    expect([...optimizer.variableSteps().values()]).toEqual([25, 25, 25, 25]);
    expect(optimizer.stateBytes()).toBe(alone.sgd.stateBytes() + alone.adamw.stateBytes());
    for (const o of [optimizer, alone.sgd, alone.adamw]) o.dispose();
    together.dispose();
    apart.dispose();
  });

  it('matches an independent float64 SGD-momentum and AdamW over 40 steps on ranks 0 to 3', () => {
    // docs/algorithms/sgd.md#sgd (torch SGD, Nesterov, L2 weight decay) and
    // docs/algorithms/adam.md#adamw (torch AdamW, decoupled weight decay).
    const shapes = [[], [6], [3, 4], [2, 3, 2]];
    const random = seededRandom(11);
    const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
    const { worst } = runGolden({
      shapes,
      initial: shapes.map((s) => float32Values(random, size(s))),
      gradients: (step) =>
        shapes.map((s, i) => (step % 7 === 3 && i === 1 ? null : float32Values(random, size(s)))),
      create: () => partition({ sgd: sgd(sgdOptions), adamw: adamw(adamwOptions) }, byRank),
      reference: (p, g, { index, t, state }) => {
        if (shapes[index]!.length >= 2) {
          const { learningRate: lr, momentum: mu, weightDecay: wd } = sgdOptions;
          state.buf ??= new Float64Array(p.length);
          for (let i = 0; i < p.length; i++) {
            const d = g[i]! + wd * p[i]!;
            state.buf[i] = t === 1 ? d : mu * state.buf[i]! + d;
            p[i] = p[i]! - lr * (d + mu * state.buf[i]!);
          }
          return;
        }
        const { learningRate: lr, weightDecay: wd } = adamwOptions;
        const [b1, b2, eps] = [0.9, 0.999, 1e-8];
        state.m ??= new Float64Array(p.length);
        state.v ??= new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          p[i] = p[i]! * (1 - lr * wd);
          state.m[i] = b1 * state.m[i]! + (1 - b1) * g[i]!;
          state.v[i] = b2 * state.v[i]! + (1 - b2) * g[i]! * g[i]!;
          const denom = Math.sqrt(state.v[i]! / (1 - b2 ** t)) + eps;
          p[i] = p[i]! - (lr / (1 - b1 ** t)) * (state.m[i]! / denom);
        }
      },
      steps: 40,
    });
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('first step by hand: a scalar through AdamW, a matrix through SGD', () => {
    const scalar = tf.variable(tf.scalar(0.5), true, 'hand/scalar');
    const matrix = tf.variable(tf.tensor2d([[1, -2]]), true, 'hand/matrix');
    const optimizer = partition(
      {
        sgd: sgd({ learningRate: 0.1, momentum: 0.9 }),
        adamw: adamw({ learningRate: 0.01, weightDecay: 0.1 }),
      },
      byRank,
    );
    apply(optimizer, { 'hand/scalar': tf.scalar(2), 'hand/matrix': tf.tensor2d([[0.5, 1]]) });
    // AdamW, step 1: p·(1 − 0.01·0.1) = 0.4995; m̂ = g = 2, v̂ = g² = 4: 0.4995 − 0.01·2/(2 + 1e-8) = 0.4895.
    expectClose(scalar.dataSync(), [0.4895]);
    // SGD, step 1: the buffer is the gradient: [1 − 0.1·0.5, −2 − 0.1·1] = [0.95, −2.1].
    expectClose(matrix.dataSync(), [0.95, -2.1]);
    optimizer.dispose();
    tf.dispose([scalar, matrix]);
  });

  it('advances every optimizer on every call, also without any of its variables', () => {
    const problem = mixedRanks();
    const schedule = (step: number) => 0.01 / (1 + step);
    const optimizer = partition({ sgd: sgd({ learningRate: schedule }), adamw: adamw() }, byRank);
    const vectors = problem.variables.filter((v) => v.rank < 2);
    for (let step = 0; step < 3; step++) {
      const grads = problem.gradients(step);
      apply(optimizer, pick(grads, vectors));
      tf.dispose(Object.values(grads));
    }
    expect(optimizer.optimizers.sgd!.iterations).toBe(3);
    expect(optimizer.optimizers.sgd!.getConfig().learningRate).toMatchObject({ step: 3, value: 0.0025 });
    expect(optimizer.variableSteps().size).toBe(2);
    optimizer.dispose();
    problem.dispose();
  });

  it('a step that any optimizer refuses changes nothing, in any partition', async () => {
    const problem = mixedRanks();
    // Muon refuses what is not 2-D: the cube (rank 3) routed to it fails the whole step.
    const optimizer = partition({ muon: muon({ learningRate: 0.02 }), adamw: adamw() }, (v) =>
      v.rank >= 2 ? 'muon' : 'adamw',
    );
    const matrix = problem.variables.find((v) => v.rank === 2)!;
    const vectors = problem.variables.filter((v) => v.rank < 2);
    const g0 = problem.gradients(0);
    apply(optimizer, { ...pick(g0, vectors), [matrix.name]: tf.clone(g0[matrix.name]!) });
    tf.dispose(Object.values(g0));
    const state = await optimizer.saveState();
    const values = bits(problem.variables);
    const tensors = tf.memory().numTensors;
    const unchanged = async () => {
      expect(bits(problem.variables)).toEqual(values);
      expect(await optimizer.saveState()).toEqual(state);
      expect(optimizer.iterations).toBe(1);
      expect(tf.memory().numTensors).toBe(tensors);
    };
    const cube = problem.variables.find((v) => v.rank === 3)!;
    const all = problem.gradients(1);
    expect(() => optimizer.applyGradients(all)).toThrow(
      new RegExp(`2-D variables only.*'${cube.name}'.*in partition 'muon'`),
    );
    tf.dispose(Object.values(all));
    await unchanged();
    const scalar = problem.variables.find((v) => v.rank === 0)!;
    const cases: [(bad: tf.NamedTensorMap) => tf.NamedTensorMap, RegExp][] = [
      [
        (bad) => ({ ...pick(bad, [matrix]), [scalar.name]: tf.zeros([2]) }),
        new RegExp(`'${scalar.name}' has shape`),
      ],
      [(bad) => ({ ...pick(bad, vectors), [matrix.name]: tf.zeros([3, 4], 'int32') }), /has dtype int32/],
      [
        (bad) => ({ ...pick(bad, [matrix, ...vectors]), 'no/such': tf.zeros([1]) }),
        /no variable named 'no\/such'/,
      ],
    ];
    for (const [make, message] of cases) {
      const bad = problem.gradients(1);
      const grads = make(bad);
      expect(() => optimizer.applyGradients(grads)).toThrow(message);
      tf.dispose([...Object.values(grads), ...Object.values(bad)]);
      await unchanged();
    }
    optimizer.dispose();
    problem.dispose();
  });

  it('a variable without a label, or with a label no optimizer has, is refused, naming both', () => {
    const problem = mixedRanks();
    const [scalar, vector] = problem.variables as [tf.Variable, tf.Variable];
    const grads = problem.gradients(0);
    const labelled = (label: (v: tf.Variable) => string | undefined) =>
      new Partition({ sgd: sgd(), adamw: adamw() }, label);
    const none = labelled((v) => (v === scalar ? undefined : 'sgd'));
    expect(() => none.applyGradients(grads)).toThrow(
      `variable '${scalar.name}' has no label: the label function returned null (the labels are 'sgd', 'adamw')`,
    );
    const typo = labelled((v) => (v === vector ? 'adam' : 'sgd'));
    expect(() => typo.applyGradients(grads)).toThrow(
      `variable '${vector.name}' has label 'adam', but no optimizer has that label (the optimizers are 'sgd', 'adamw')`,
    );
    const restored = Partition.fromConfig(Partition, { ...none.getConfig(), variables: [] }) as Partition;
    expect(() => restored.applyGradients(pick(grads, [vector]))).toThrow(
      new RegExp(`variable '${vector.name}' has no label: this partition has no label function`),
    );
    // A variable without a gradient needs no label.
    const partial = labelled((v) => (v === scalar ? undefined : 'sgd'));
    const scalarBefore = bits([scalar]);
    partial.applyGradients({ ...pick(grads, [vector]), [scalar.name]: null as unknown as tf.Tensor });
    expect(partial.labels()).toEqual(new Map([[vector.name, 'sgd']]));
    expect(bits([scalar])).toEqual(scalarBefore);
    expect(partial.iterations).toBe(1);
    for (const o of [none, typo, restored, partial]) o.dispose();
    tf.dispose(Object.values(grads));
    problem.dispose();
  });

  it('param groups route as the equivalent label function, bit for bit, the first group that takes a variable first', () => {
    const a = mixedRanks();
    const b = mixedRanks();
    const matrixAt = a.variables.findIndex((v) => v.rank === 2);
    const [matrixA, matrixB] = [a.variables[matrixAt]!, b.variables[matrixAt]!];
    const make = (label: Parameters<typeof partition<'sgd' | 'adamw'>>[1]) =>
      partition(
        { sgd: sgd({ learningRate: 0.02, momentum: 0.9 }), adamw: adamw({ learningRate: 0.02 }) },
        label,
      );
    const byFunction = make((v) => (v === matrixA ? 'adamw' : byRank(v)));
    // The listed matrix also matches the second group: the first group takes it.
    const grouped = make([
      { label: 'adamw', params: [matrixB] },
      { label: 'sgd', match: (v) => v.rank >= 2 },
      { label: 'adamw', match: () => true },
    ]);
    for (let t = 0; t < 5; t++) {
      apply(byFunction, a.gradients(t));
      apply(grouped, b.gradients(t));
    }
    expect(bits(b.variables)).toEqual(bits(a.variables));
    expect([...grouped.labels().values()]).toEqual([...byFunction.labels().values()]);
    expect(grouped.labels().get(matrixB.name)).toBe('adamw');
    expect([...grouped.labels().values()]).toContain('sgd');
    // Recorded like a function's labels: a reload routes without the groups.
    const restored = Partition.fromConfig(Partition, grouped.getConfig()) as Partition;
    expect(restored.labels()).toEqual(grouped.labels());
    for (const o of [byFunction, grouped, restored]) o.dispose();
    a.dispose();
    b.dispose();
  });

  it('refuses malformed param groups, naming the group, and a variable no group takes', () => {
    const v = tf.variable(tf.ones([2]), true, 'groups/v');
    const parts = () => ({ sgd: sgd(), adamw: adamw() });
    const refused: [unknown, RegExp][] = [
      [
        [{ label: 'adam', match: () => true }],
        /group 0 has label 'adam', but no optimizer has that label \(the optimizers are 'sgd', 'adamw'\)/,
      ],
      [[{ label: 'sgd' }], /group 0 \('sgd'\) needs exactly one of 'params' or 'match'/],
      [
        [{ label: 'sgd', params: [v], match: () => true }],
        /group 0 \('sgd'\) needs exactly one of 'params' or 'match'/,
      ],
      [[{ label: 'sgd', match: 'rank2' }], /group 0 \('sgd'\): match must be a function/],
      [[{ label: 'sgd', params: [1] }], /group 0 \('sgd'\): params must hold variables or variable names/],
      [[{ label: 'sgd', params: 'groups/v' }], /group 0 \('sgd'\): params must be an array/],
      [
        [
          { label: 'sgd', params: [v] },
          { label: 'adamw', params: ['groups/v'] },
        ],
        /variable 'groups\/v' is listed by groups 0 and 1/,
      ],
      [[{ label: 'sgd', match: () => true, lr: 1 }], /group 0 has an unknown key 'lr'/],
      [['sgd'], /group 0 must be an object \{ label, params \} or \{ label, match \}/],
    ];
    for (const [groups, error] of refused) {
      expect(() => partition(parts(), groups as never)).toThrow(error);
    }
    const none = partition(parts(), [{ label: 'sgd', params: ['other'] }]);
    const g = { [v.name]: tf.ones([2]) };
    expect(() => none.applyGradients(g)).toThrow(
      "variable 'groups/v' has no label: no group lists or matches it (the labels are 'sgd', 'adamw')",
    );
    const notBoolean = partition(parts(), [{ label: 'sgd', match: (() => 1) as never }]);
    expect(() => notBoolean.applyGradients(g)).toThrow(
      /group 0 \('sgd'\): match returned 1, not a boolean \(labelling variable 'groups\/v'\)/,
    );
    expect(Array.from(v.dataSync())).toEqual([1, 1]);
    expect(none.iterations + notBoolean.iterations).toBe(0);
    tf.dispose(Object.values(g));
    for (const o of [none, notBoolean]) o.dispose();
    v.dispose();
  });

  it('refuses bad optimizers and step-wide gradient transforms, naming the label and the option', () => {
    const byName = (v: tf.Variable) => v.name;
    expect(() => partition({}, byName)).toThrow(/give the optimizers as an object of labels/);
    expect(() => partition({ 'a/b': sgd() }, byName)).toThrow(/label 'a\/b' must be letters/);
    expect(() => partition({ x: tf.train.sgd(0.1) as unknown as OptimkitOptimizer }, byName)).toThrow(
      /the optimizer of 'x' is not an optimkit optimizer/,
    );
    const shared = sgd();
    expect(() => partition({ a: shared, b: shared }, byName)).toThrow(
      /'b' and 'a' are the same optimizer object/,
    );
    for (const option of [{ clipGradNorm: 1 }, { skipNonFinite: true }, { accumulateSteps: 2 }]) {
      const key = Object.keys(option)[0]!;
      expect(() => partition({ a: sgd(), b: adamw(option) }, byName)).toThrow(
        new RegExp(`the optimizer of 'b' has ${key}, which acts on all the gradients of a step`),
      );
    }
    expect(() => partition({ a: sgd() }, 'a' as unknown as () => 'a')).toThrow(
      /the labels must be a function \(variable\) => label or param groups/,
    );
    const used = sgd({ learningRate: 0.1 });
    const v = tf.variable(tf.ones([2]), true, 'refuse/used');
    used.applyGradients({ [v.name]: tf.ones([2]) });
    expect(() => partition({ a: used }, () => 'a')).toThrow(/has taken 1 steps; give fresh optimizers/);
    used.dispose();
    v.dispose();
  });

  it('per-variable transforms work inside a part: maximize equals the negated gradient', () => {
    const a = mixedRanks();
    const b = mixedRanks();
    const up = partition(
      { sgd: sgd({ learningRate: 0.1, maximize: true }), adamw: adamw({ maximize: true }) },
      byRank,
    );
    const down = partition({ sgd: sgd({ learningRate: 0.1 }), adamw: adamw() }, byRank);
    for (let step = 0; step < 5; step++) {
      apply(up, a.gradients(step));
      const grads = b.gradients(step);
      apply(down, Object.fromEntries(Object.entries(grads).map(([n, g]) => [n, tf.neg(g)])));
      tf.dispose(Object.values(grads));
    }
    expect(bits(a.variables)).toEqual(bits(b.variables));
    for (const o of [up, down]) o.dispose();
    a.dispose();
    b.dispose();
  });

  it('loadOptimizer restores the partition with its optimizers, routing by the recorded labels', async () => {
    const problem = mixedRanks();
    const optimizer = partition({ sgd: sgd(sgdOptions), adamw: adamw(adamwOptions) }, byRank);
    for (let step = 0; step < 3; step++) apply(optimizer, problem.gradients(step));
    const bytes = await optimizer.saveState();
    const restored = (await loadOptimizer(bytes)) as unknown as Partition;
    expect(restored).toBeInstanceOf(Partition);
    expect(restored.labels()).toEqual(optimizer.labels());
    expect(restored.optimizers.sgd!.getClassName()).toBe('OptimkitSGD');
    expect(restored.optimizers.adamw!.getConfig()).toEqual(optimizer.optimizers.adamw!.getConfig());
    const cube = problem.variables.find((v) => v.rank === 3)!;
    expect(Object.keys(restored.getSlots(cube.name)!)).toEqual(['momentumBuffer']);
    // Atomic: a state whose second partition does not load leaves the first as it was.
    const other = partition(
      { sgd: sgd(sgdOptions), adamw: adamw({ ...adamwOptions, amsgrad: true }) },
      byRank,
    );
    apply(other, problem.gradients(3));
    const before = await other.saveState();
    await expect(other.loadState(bytes)).rejects.toThrow(/slots/);
    expect(await other.saveState()).toEqual(before);
    const foreign = partition({ sgd: sgd(), lion: adamw() }, (v) => (v.rank >= 2 ? 'sgd' : 'lion'));
    await expect(foreign.loadState(bytes)).rejects.toThrow(
      /has partitions 'sgd', 'adamw', but this partition has 'sgd', 'lion'/,
    );
    await expect(restored.loadState(await optimizer.optimizers.sgd!.saveState())).rejects.toThrow(
      /is for OptimkitSGD .*, not OptimkitPartition/,
    );
    for (const o of [optimizer, restored, other, foreign]) o.dispose();
    problem.dispose();
  });
  it('fromConfig routes recorded variables by name and new ones through a label given again', () => {
    const problem = mixedRanks();
    const [scalar, vector, matrix, cube] = problem.variables as [
      tf.Variable,
      tf.Variable,
      tf.Variable,
      tf.Variable,
    ];
    const original = sgdAndAdamW({ learningRate: 0.01 });
    apply(original, pick(problem.gradients(0), [scalar, matrix]));
    const config = JSON.parse(JSON.stringify(original.getConfig()));
    expect(config.variables).toEqual([
      { name: scalar.name, label: 'adamw', shape: [] },
      { name: matrix.name, label: 'sgd', shape: [3, 4] },
    ]);
    // Recorded labels win over the function given again: a variable's state stays where it is.
    const everythingToAdamW = () => 'adamw' as const;
    const copy = Partition.fromConfig(Partition, config, { label: everythingToAdamW }) as Partition;
    const grads = problem.gradients(1);
    copy.applyGradients(grads);
    expect(copy.labels()).toEqual(
      new Map([
        [scalar.name, 'adamw'],
        [matrix.name, 'sgd'],
        [vector.name, 'adamw'],
        [cube.name, 'adamw'],
      ]),
    );
    expect([...copy.optimizers.sgd!.variableSteps().keys()]).toEqual([matrix.name]);
    tf.dispose(Object.values(grads));
    expect(() =>
      Partition.fromConfig(Partition, {
        ...config,
        optimizers: { sgd: { className: 'OptimkitNope', packageName: '@example/nope', config: {} } },
      }),
    ).toThrow(/The optimizer 'OptimkitNope' of partition 'sgd' is not registered: import '@example\/nope'/);
    expect(() => Partition.fromConfig(Partition, config, { labels: everythingToAdamW } as never)).toThrow(
      /Unknown override 'labels'/,
    );
    expect(() =>
      Partition.fromConfig(Partition, { ...config, variables: [{ name: 'x', label: 'adam', shape: [] }] }),
    ).toThrow(/'x' is recorded with label 'adam', but no optimizer has that label/);
    for (const o of [original, copy]) o.dispose();
    problem.dispose();
  });

  it('routes renamed variables by position only when count and shapes agree', () => {
    const problem = mixedRanks();
    const original = sgdAndAdamW({ learningRate: 0.01 });
    apply(original, problem.gradients(0));
    const restored = Partition.fromConfig(Partition, original.getConfig()) as Partition;
    const renamed = mixedRanks();
    // Three of the four variables: no positional match, and no name is known.
    const three = renamed.gradients(0);
    const partial = pick(three, renamed.variables.slice(0, 3));
    expect(() => restored.applyGradients(partial)).toThrow(
      /has no label: this partition has no label function/,
    );
    tf.dispose([...Object.values(three), ...Object.values(partial)]);
    // All four, in order: labelled by position.
    apply(restored, renamed.gradients(0));
    expect([...restored.labels().keys()]).toEqual(renamed.variables.map((v) => v.name));
    expect([...restored.labels().values()]).toEqual(['adamw', 'adamw', 'sgd', 'sgd']);
    for (const o of [original, restored]) o.dispose();
    problem.dispose();
    renamed.dispose();
  });

  it('setWeights refuses weights of a label it does not have, or routed elsewhere, changing nothing', async () => {
    const problem = mixedRanks();
    const optimizer = sgdAndAdamW({ learningRate: 0.01 });
    apply(optimizer, problem.gradients(0));
    const weights = await optimizer.getWeights();
    expect(weights.map((w) => w.name.split('/')[0])).toEqual(
      expect.arrayContaining(['iter', 'sgd', 'adamw']),
    );
    const target = sgdAndAdamW({ learningRate: 0.01 });
    apply(target, problem.gradients(1));
    const before = await target.saveState();
    const foreign = weights.map((w) =>
      w.name.startsWith('sgd/') ? { ...w, name: `lion/${w.name.slice(4)}` } : w,
    );
    await expect(target.setWeights(foreign)).rejects.toThrow(
      /weight 'lion\/.*' belongs to none of this partition's optimizers/,
    );
    expect(await target.saveState()).toEqual(before);
    const swapped = weights.map((w) =>
      w.name.startsWith('sgd/')
        ? { ...w, name: `adamw/${w.name.slice(4)}` }
        : w.name.startsWith('adamw/')
          ? { ...w, name: `sgd/${w.name.slice(6)}` }
          : w,
    );
    await expect(target.setWeights(swapped)).rejects.toThrow(
      /has state for 'adamw', but this partition routes it to 'sgd'/,
    );
    expect(await target.saveState()).toEqual(before);
    for (const o of [optimizer, target]) o.dispose();
    problem.dispose();
  });

  it('a label function that throws names the variable, and changes nothing', () => {
    const problem = mixedRanks();
    const optimizer = partition({ sgd: sgd() }, (v) => {
      if (v.rank === 3) throw new Error('no cubes here');
      return 'sgd';
    });
    const values = bits(problem.variables);
    const grads = problem.gradients(0);
    const cube = problem.variables.find((v) => v.rank === 3)!;
    expect(() => optimizer.applyGradients(grads)).toThrow(
      `no cubes here (labelling variable '${cube.name}')`,
    );
    expect(bits(problem.variables)).toEqual(values);
    expect(optimizer.iterations).toBe(0);
    expect(optimizer.labels().size).toBe(0);
    tf.dispose(Object.values(grads));
    optimizer.dispose();
    problem.dispose();
  });
  it("the partition's clipGradNorm and skipNonFinite equal one optimizer's, bit for bit", async () => {
    const options = { learningRate: 0.05, weightDecay: 0.01 };
    const together = mixedRanks();
    const alone = mixedRanks();
    const split = partition({ a: adamw(options), b: adamw(options) }, (v) => (v.rank >= 2 ? 'a' : 'b'), {
      clipGradNorm: 0.5,
      skipNonFinite: true,
    });
    const one = adamw({ ...options, clipGradNorm: 0.5, skipNonFinite: true });
    const withNaN = (grads: tf.NamedTensorMap, step: number) => {
      if (step !== 4) return grads;
      const [first] = Object.keys(grads);
      grads[first!]!.dispose();
      return { ...grads, [first!]: tf.fill(together.variables[0]!.shape, Number.NaN) };
    };
    for (let step = 0; step < 12; step++) {
      apply(split, withNaN(together.gradients(step), step));
      apply(one, withNaN(alone.gradients(step), step));
    }
    expect(bits(together.variables)).toEqual(bits(alone.variables));
    expect(split.skippedSteps).toBe(1);
    expect(split.iterations).toBe(11);
    expect(split.optimizers.a!.iterations).toBe(11);
    // The norm clipped: without it the values differ.
    const unclipped = mixedRanks();
    const plain = partition({ a: adamw(options), b: adamw(options) }, (v) => (v.rank >= 2 ? 'a' : 'b'));
    for (let step = 0; step < 3; step++) apply(plain, unclipped.gradients(step));
    const clipped = mixedRanks();
    const clipping = partition({ a: adamw(options), b: adamw(options) }, (v) => (v.rank >= 2 ? 'a' : 'b'), {
      clipGradNorm: 0.5,
    });
    for (let step = 0; step < 3; step++) apply(clipping, clipped.gradients(step));
    expect(bits(clipped.variables)).not.toEqual(bits(unclipped.variables));
    const restored = (await loadOptimizer(await split.saveState())) as unknown as Partition;
    expect(restored.skippedSteps).toBe(1);
    expect(restored.getConfig()).toMatchObject({ clipGradNorm: 0.5, skipNonFinite: true });
    expect(() => partition({ a: adamw({ centralize: true }) }, () => 'a', { clipGradNorm: 1 })).toThrow(
      /the optimizer of 'a' has centralize, which one optimizer applies before clipGradNorm/,
    );
    expect(() => partition({ a: adamw() }, () => 'a', { clipGradnorm: 1 } as never)).toThrow(
      "Unknown option 'clipGradnorm' of OptimkitPartition",
    );
    for (const o of [split, one, plain, clipping, restored]) o.dispose();
    for (const p of [together, alone, unclipped, clipped]) p.dispose();
  });
});
