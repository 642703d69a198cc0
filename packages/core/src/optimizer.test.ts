import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { describeOptimizerConformance, mixedRanks, quadratic } from '../../testing/src/index.js';
import {
  defineOptimizer,
  loadOptimizer,
  OptimkitOptimizer,
  type SlotSpec,
  setFusedKernels,
} from './index.js';

// A heavy-ball optimizer written against the public API only, as a plugin author would.
const HeavyBall = defineOptimizer({
  className: 'OptimkitTestHeavyBall',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
  validate(h) {
    if (!(h.momentum >= 0 && h.momentum < 1)) throw new RangeError(`Invalid momentum: ${h.momentum}`);
    if (!(h.weightDecay >= 0)) throw new RangeError(`Invalid weightDecay: ${h.weightDecay}`);
  },
  slots: (): SlotSpec => ({ velocity: 0 }),
  update({ param, grad, slots, h }) {
    const velocity = tf.add(tf.mul(slots.velocity!, h.momentum), grad);
    const decayed = tf.mul(param, 1 - h.learningRate * h.weightDecay);
    return { param: tf.sub(decayed, tf.mul(velocity, h.learningRate)), slots: { velocity } };
  },
});
const heavyBall = (options?: ConstructorParameters<typeof HeavyBall>[0]) => new HeavyBall(options);

describeOptimizerConformance({
  name: 'heavy-ball test plugin',
  create: heavyBall,
  optionSets: [
    {},
    { weightDecay: 0.1, paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, momentum: 0.5 }] },
  ],
  quadratic: { options: { learningRate: 0.1 }, steps: 200, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: 1e-3 }, steps: 4000, tolerance: 1e-3 },
  errorCases: [
    { options: { learningRate: -1 }, error: /Invalid learning rate: -1/ },
    { options: { learningRate: Number.NaN }, error: /Invalid learning rate: NaN/ },
    { options: { momentum: 1 }, error: /Invalid momentum: 1/ },
    { options: { clipGradNorm: 0 }, error: /Invalid clipGradNorm .*: 0/ },
    { options: { clipGradValue: -1 }, error: /Invalid clipGradValue .*: -1/ },
    { options: { accumulateSteps: 1.5 }, error: /Invalid accumulateSteps .*: 1.5/ },
    { options: { accumulateSteps: 0 }, error: /Invalid accumulateSteps .*: 0/ },
  ],
});

describe('OptimkitOptimizer', () => {
  it('is a tf.Optimizer registered with tf.serialization under its className', () => {
    const optimizer = heavyBall();
    expect(optimizer).toBeInstanceOf(tf.Optimizer);
    expect(optimizer.getClassName()).toBe('OptimkitTestHeavyBall');
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    expect(map.OptimkitTestHeavyBall?.[0]).toBe(HeavyBall);
  });

  it('answers instanceof by the prototype chain, while staying a duck-typed tf.Optimizer', () => {
    const ours = heavyBall();
    const theirs = tf.train.adam();
    expect(ours instanceof HeavyBall).toBe(true);
    expect(ours instanceof OptimkitOptimizer).toBe(true);
    expect(ours instanceof tf.Optimizer).toBe(true);
    expect(theirs instanceof OptimkitOptimizer).toBe(false);
    expect(theirs instanceof HeavyBall).toBe(false);
    expect({ minimize() {}, applyGradients() {}, computeGradients() {} } instanceof HeavyBall).toBe(false);
    theirs.dispose();
  });

  it('minimizes through tf.Optimizer.minimize', () => {
    const problem = quadratic();
    const [v, m] = problem.variables as [tf.Variable, tf.Variable];
    const optimizer = heavyBall({ learningRate: 0.1, momentum: 0 });
    const cost = optimizer.minimize(
      () => tf.add(tf.mul(tf.sum(tf.square(tf.sub(v, 1))), 0.5), tf.mul(tf.sum(tf.square(m)), 0.5)),
      true,
    );
    expect(cost?.dataSync()[0]).toBeCloseTo(17.625, 5);
    // one plain gradient step: v − 0.1·(v − 1), m − 0.1·m
    expect(Array.from(v.dataSync())).toEqual([1.9, -0.8, 0.55].map(Math.fround));
    expect(Array.from(m.dataSync())).toEqual([0.9, 1.8, 2.7, 3.6].map(Math.fround));
    cost?.dispose();
    optimizer.dispose();
    problem.dispose();
  });

  it('applies param-group overrides to the first matching group only', () => {
    const problem = mixedRanks();
    const [scalar, vector, matrix] = problem.variables as [tf.Variable, tf.Variable, tf.Variable];
    const optimizer = heavyBall({
      learningRate: 0.1,
      momentum: 0,
      paramGroups: [
        { params: [vector], learningRate: 0 },
        { match: (v) => v.rank <= 1, learningRate: 0.5 },
        { params: [matrix.name], learningRate: 1 },
      ],
    });
    const before = problem.variables.map((v) => Array.from(v.dataSync()));
    const grads = problem.gradients(0);
    const g = Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, Array.from(t.dataSync())]));
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const expectStep = (variable: tf.Variable, index: number, lr: number) => {
      const want = before[index]!.map((x, i) =>
        Math.fround(x - Math.fround(Math.fround(lr) * g[variable.name]![i]!)),
      );
      expect(Array.from(variable.dataSync())).toEqual(want);
    };
    expectStep(scalar, 0, 0.5);
    expectStep(vector, 1, 0);
    expectStep(matrix, 2, 1);
    expectStep(problem.variables[3]!, 3, 0.1);
    const config = optimizer.getConfig() as { paramGroups: { params: string[] }[] };
    expect(config.paramGroups.map((g) => g.params)).toEqual([[vector.name], [scalar.name], [matrix.name]]);
    optimizer.dispose();
    problem.dispose();
  });

  it('evaluates schedules at the number of completed steps and stops on an invalid value', () => {
    const problem = quadratic();
    const seen: number[] = [];
    const optimizer = heavyBall({
      momentum: 0,
      learningRate: (step) => {
        seen.push(step);
        return step < 3 ? 0.1 : -1;
      },
    });
    for (let i = 0; i < 3; i++) {
      const grads = problem.gradients(i);
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    expect(seen.filter((s, i) => seen.indexOf(s) === i)).toEqual([0, 1, 2]);
    const values = problem.variables.map((v) => Array.from(v.dataSync()));
    const grads = problem.gradients(3);
    expect(() => optimizer.applyGradients(grads)).toThrow(/Invalid learning rate: -1 .*at step 3/);
    tf.dispose(Object.values(grads));
    expect(problem.variables.map((v) => Array.from(v.dataSync()))).toEqual(values);
    expect(optimizer.iterations).toBe(3);
    // A schedule that turns NaN stops the step, naming the hyperparameter and the step.
    const nan = heavyBall({ learningRate: 0.1, momentum: (step) => (step < 1 ? 0.5 : Number.NaN) });
    const grads2 = problem.gradients(4);
    nan.applyGradients(grads2);
    expect(() => nan.applyGradients(grads2)).toThrow(/Invalid momentum: NaN .*at step 1/);
    tf.dispose(Object.values(grads2));
    nan.dispose();
    optimizer.dispose();
    problem.dispose();
  });

  it('refuses malformed options', () => {
    expect(() => heavyBall({ paramGroups: [{ learningRate: 1 }] })).toThrow(
      /exactly one of 'params' or 'match'/,
    );
    expect(() => heavyBall({ momentum: 'high' as unknown as number })).toThrow(/must be a number/);
    expect(() => new HeavyBall([] as never)).toThrow(/plain object/);
  });

  it('saves schedules in the config as their current value and restores them as constants', async () => {
    const problem = quadratic();
    const optimizer = heavyBall({ learningRate: (step) => 0.1 / (1 + step) });
    for (let i = 0; i < 4; i++) {
      const grads = problem.gradients(i);
      optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
    }
    expect(optimizer.getConfig().learningRate).toEqual({ schedule: 'learningRate', step: 4, value: 0.02 });
    const bytes = await optimizer.saveState();
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (message: string) => warnings.push(message);
    const restored = await loadOptimizer(bytes);
    console.warn = warn;
    expect(restored.getConfig().learningRate).toBe(0.02);
    expect(warnings.join()).toMatch(/restored as the constant 0.02/);
    const withSchedule = (await loadOptimizer(bytes, {
      learningRate: (step: number) => 0.1 / (1 + step),
    })) as typeof optimizer;
    expect(withSchedule.hyperparametersAt(4)[0]!.learningRate).toBeCloseTo(0.02, 12);
    optimizer.dispose();
    restored.dispose();
    withSchedule.dispose();
    problem.dispose();
  });
});

describe('a rule that stores the param unchanged in a slot', () => {
  // The slot takes the param before the step (a copy of the initial weights, as Lookahead's slow
  // weights): on the composite path the value returned is the variable itself, which must be read
  // before the variable is assigned.
  const Remember = defineOptimizer({
    className: 'OptimkitTestRemember',
    packageName: '@optimkit/core-tests',
    packageVersion: '0.0.0',
    defaults: { learningRate: 0.5 },
    slots: { previous: 0 },
    rule: ({ param, grad, s, op }) => ({
      param: op.sub(param, op.mul(grad, s.learningRate)),
      slots: { previous: param },
    }),
  });
  it.each([true, false])('keeps the value before the step (fused kernels %s)', (fused) => {
    const before = setFusedKernels(fused);
    const x = tf.variable(tf.tensor1d([1, 2]), true, `rememberX${fused}`);
    const optimizer = new Remember();
    try {
      const g = tf.tensor1d([1, 1]);
      optimizer.applyGradients({ [x.name]: g });
      expect(Array.from(x.dataSync())).toEqual([0.5, 1.5]);
      expect(Array.from(optimizer.getSlots(x.name)!.previous!.dataSync())).toEqual([1, 2]);
      optimizer.applyGradients({ [x.name]: g });
      expect(Array.from(optimizer.getSlots(x.name)!.previous!.dataSync())).toEqual([0.5, 1.5]);
      g.dispose();
    } finally {
      setFusedKernels(before);
      optimizer.dispose();
      x.dispose();
    }
  });
});

describe('constructorOptions', () => {
  it('are the options as given, schedules and param groups included', () => {
    const schedule = (step: number) => 0.1 / (1 + step);
    const groups = [{ match: (v: tf.Variable) => v.rank <= 1, momentum: 0.5 }];
    const optimizer = heavyBall({ learningRate: schedule, paramGroups: groups });
    expect(optimizer.constructorOptions).toEqual({ learningRate: schedule, paramGroups: groups });
    expect(optimizer.constructorOptions.learningRate).toBe(schedule);
    expect(heavyBall().constructorOptions).toEqual({});
    optimizer.dispose();
  });
});

describe('saveState', () => {
  const Momentum = defineOptimizer({
    className: 'OptimkitTestSnapshotMomentum',
    packageName: '@optimkit/core-tests',
    packageVersion: '0.0.0',
    defaults: { learningRate: 0.1, momentum: 0.9 },
    slots: { velocity: 0 },
    rule: ({ param, grad, slots, s, op }) => {
      const velocity = op.add(op.mul(slots.velocity, s.momentum), grad);
      return { param: op.sub(param, op.mul(velocity, s.learningRate)), slots: { velocity } };
    },
  });

  it('is a snapshot: a step taken while it is being written is not in it', async () => {
    const variables = [tf.variable(tf.ones([3])), tf.variable(tf.ones([2, 2]))];
    const grads = () => Object.fromEntries(variables.map((v) => [v.name, tf.onesLike(v)]));
    const optimizer = new Momentum();
    for (let i = 0; i < 2; i++) {
      const g = grads();
      optimizer.applyGradients(g);
      tf.dispose(Object.values(g));
    }
    const before = await optimizer.saveState();
    const pending = optimizer.saveState();
    const g = grads();
    optimizer.applyGradients(g);
    tf.dispose(Object.values(g));
    expect(Array.from(await pending)).toEqual(Array.from(before));
    expect(Array.from(await optimizer.saveState())).not.toEqual(Array.from(before));
    optimizer.dispose();
    tf.dispose(variables);
  });
});
