import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  describeFusedEquivalence,
  describeOptimizerConformance,
  fusedUpdates,
  recordKernelCalls,
  recordKernels,
  useBackend,
} from '../../../testing/src/index.js';
import { elementwiseEngine, lastElementwiseRun } from '../elementwise.js';
import { runFusedUpdate } from '../fused.js';
import {
  defineOptimizer,
  fusedKernelName,
  fusedKernelsActive,
  fusedKernelsEnabled,
  RuleError,
  type SlotSpec,
  setFusedKernels,
} from '../index.js';
import { CompiledRule } from './rule.js';

const meta = { packageName: '@optimkit/core-tests', packageVersion: '0.0.0' } as const;

// Heavy ball with decoupled decay, as a plugin author writes it: once, against the vocabulary.
const HeavyBall = defineOptimizer({
  className: 'OptimkitTestRuleHeavyBall',
  ...meta,
  defaults: { learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
  validate(h) {
    if (!(h.momentum >= 0 && h.momentum < 1)) throw new RangeError(`Invalid momentum: ${h.momentum}`);
  },
  epsilons: [],
  slots: { velocity: 0 },
  scalars: (h) => ({ decay: 1 - h.learningRate * h.weightDecay }),
  rule: ({ param, grad, slots, s, op }) => {
    const velocity = op.add(op.mul(slots.velocity, s.momentum), grad);
    return { param: op.sub(op.mul(param, s.decay), op.mul(velocity, s.learningRate)), slots: { velocity } };
  },
});
const heavyBall = (options?: ConstructorParameters<typeof HeavyBall>[0]) => new HeavyBall(options);

// p ← p − lr·g/(‖g‖ + ε): a reduction, so two passes over the variable.
const NormalizedDescent = defineOptimizer({
  className: 'OptimkitTestRuleNormalizedDescent',
  ...meta,
  defaults: { learningRate: 0.1, epsilon: 1e-3 },
  epsilons: ['epsilon'],
  rule: ({ param, grad, s, op }) => ({
    param: op.sub(param, op.mul(op.div(grad, op.add(op.norm(grad), s.epsilon)), s.learningRate)),
  }),
});

// Factored second moments over the last two dims (Adafactor's shape of computation): row and
// column means, the mean of a row statistic per batch, an outer product, an RMS clip.
const RowColumn = defineOptimizer({
  className: 'OptimkitTestRuleRowColumn',
  ...meta,
  defaults: { learningRate: 0.05, beta: 0.8, clip: 1 },
  slots: (shape): SlotSpec<'row' | 'col' | 'v'> =>
    shape.length >= 2 ? { row: { layout: 'row' }, col: { layout: 'col' } } : { v: 0 },
  variant: (_h, _step, shape) => ({ factored: shape.length >= 2 }),
  scalars: (h) => ({ oneMinusBeta: 1 - h.beta }),
  rule: ({ param, grad, slots, s, op, v }) => {
    const square = op.add(op.square(grad), 1e-30);
    const ema = (a: typeof grad, b: typeof grad) => op.add(op.mul(a, s.beta), op.mul(b, s.oneMinusBeta));
    let update: typeof grad;
    const written: { row?: typeof grad; col?: typeof grad; v?: typeof grad } = {};
    if (v.factored) {
      written.row = ema(slots.row, op.rowMean(square));
      written.col = ema(slots.col, op.colMean(square));
      const rowFactor = op.rsqrt(op.div(written.row, op.rowMean(written.row)));
      update = op.mul(op.mul(rowFactor, op.rsqrt(written.col)), grad);
    } else {
      written.v = ema(slots.v, square);
      update = op.mul(op.rsqrt(written.v), grad);
    }
    const rms = op.sqrt(op.mean(op.square(update)));
    const clipped = op.div(update, op.max(op.div(rms, s.clip), 1));
    return { param: op.sub(param, op.mul(clipped, s.learningRate)), slots: written };
  },
});

describeFusedEquivalence({
  name: 'heavy-ball rule',
  create: heavyBall,
  optionSets: [
    {},
    { learningRate: 0.05, momentum: 0.5, weightDecay: 0.1 },
    {
      learningRate: (step: number) => 0.1 * 0.9 ** step,
      momentum: (step: number) => (step < 5 ? 0 : 0.8),
      paramGroups: [{ match: (v: tf.Variable) => v.rank >= 2, weightDecay: 0.5, learningRate: 0.02 }],
    },
    { clipGradNorm: 1, clipGradValue: 0.5 },
    { accumulateSteps: 3, weightDecay: 0.01 },
    { skipNonFinite: true, clipGradNorm: 0.1 },
  ],
  bitIdentical: ['cpu', 'wasm'],
});

describeFusedEquivalence({
  name: 'normalized-descent rule (a sum between two passes)',
  create: (options: { learningRate?: number; epsilon?: number }) => new NormalizedDescent(options),
  optionSets: [{}, { learningRate: 0.5, epsilon: 0.1, clipGradValue: 0.3 }],
  bitIdentical: ['cpu'],
});

// Row-wise clipping with masks of small layouts used on the whole variable.
const RowClip = defineOptimizer({
  className: 'OptimkitTestRuleRowClip',
  ...meta,
  defaults: { learningRate: 0.1, limit: 0.5 },
  variant: (_h, _step, shape) => ({ factored: shape.length >= 2 }),
  rule: ({ param, grad, s, op, v }) => {
    const scale = v.factored ? op.rowMean(op.abs(grad)) : op.mean(op.abs(grad));
    const large = op.greater(scale, s.limit);
    const step = op.select(large, op.div(op.mul(grad, s.limit), scale), grad);
    return { param: op.sub(param, op.mul(step, s.learningRate)) };
  },
});

describeFusedEquivalence({
  name: 'row-clip rule (masks of row and scalar layout on the variable)',
  create: (options: { learningRate?: number; limit?: number }) => new RowClip(options),
  optionSets: [{}, { limit: 0.05 }],
  // tfjs's wasm backend sums a mean in its own order: bit for bit only on cpu.
  bitIdentical: ['cpu'],
});

describeFusedEquivalence({
  name: 'row-column rule (row, column and batch statistics)',
  create: (options: { learningRate?: number; beta?: number; clip?: number }) => new RowColumn(options),
  optionSets: [{}, { learningRate: 0.2, beta: 0.5, clip: 0.1 }],
  bitIdentical: ['cpu'],
});

// Per-row and per-column maxima of a full value (SM3's cover statistics), a min of the two
// broadcast back over the variable, and a row maximum fed to the next step through a slot.
const RowColumnMax = defineOptimizer({
  className: 'OptimkitTestRuleRowColumnMax',
  ...meta,
  defaults: { learningRate: 0.05 },
  slots: (shape): SlotSpec<'row' | 'col' | 'v'> =>
    shape.length >= 2 ? { row: { layout: 'row' }, col: { layout: 'col' } } : { v: 0 },
  variant: (_h, _step, shape) => ({ factored: shape.length >= 2 }),
  rule: ({ param, grad, slots, s, op, v }) => {
    const previous = v.factored ? op.min(slots.row, slots.col) : slots.v;
    const accumulator = op.add(op.square(grad), previous);
    const step = op.mul(grad, op.rsqrt(op.add(accumulator, 1e-8)));
    const written = v.factored
      ? { row: op.rowMax(accumulator), col: op.colMax(accumulator) }
      : { v: accumulator };
    return { param: op.sub(param, op.mul(step, s.learningRate)), slots: written };
  },
});

describeFusedEquivalence({
  name: 'row-column-max rule (row and column maxima)',
  create: (options: { learningRate?: number }) => new RowColumnMax(options),
  optionSets: [{}, { learningRate: 0.3, clipGradValue: 0.2 }],
  // tfjs's wasm backend computes rsqrt in float32: bit for bit only on cpu.
  bitIdentical: ['cpu'],
});

describeOptimizerConformance({
  name: 'heavy-ball rule',
  create: heavyBall,
  optionSets: [
    {},
    { weightDecay: 0.1, paramGroups: [{ match: (v: tf.Variable) => v.rank <= 1, momentum: 0.5 }] },
  ],
  quadratic: { options: { learningRate: 0.1 }, steps: 200, tolerance: 1e-4 },
  rosenbrock: { options: { learningRate: 1e-3 }, steps: 4000, tolerance: 1e-3 },
  errorCases: [{ options: { momentum: 1 }, error: /Invalid momentum: 1/ }],
});

function step(optimizer: tf.Optimizer, variables: tf.Variable[]): string[] {
  const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
  try {
    return recordKernels(() => optimizer.applyGradients(grads));
  } finally {
    tf.dispose(grads.map((g) => g.tensor));
  }
}

describe('rule arithmetic, derived by hand', () => {
  it('normalized descent: ‖g‖ = √15 moves every element by 0.1/(√15 + 0.001), on both paths', () => {
    const f = Math.fround;
    const expected = f(1 - f(f(1 / f(f(Math.sqrt(15)) + f(1e-3))) * f(0.1)));
    for (const fused of [false, true]) {
      setFusedKernels(fused);
      const variable = tf.variable(tf.ones([3, 5]));
      const optimizer = new NormalizedDescent();
      step(optimizer, [variable]);
      expect(Array.from(variable.dataSync()), `fused ${fused}`).toEqual(new Array(15).fill(expected));
      optimizer.dispose();
      variable.dispose();
    }
    setFusedKernels(true);
  });

  it('row-column: the first step of a 2×2 variable', () => {
    // g = [[1, 2], [3, 4]], β = 0.8: row ← 0.2·mean(g², −1) = [0.5, 2.5], col ← 0.2·[5, 10] = [1, 2];
    // rowFactor = rsqrt(row / mean(row) = [1/3, 5/3]); u = rowFactor·rsqrt(col)·g.
    const f = Math.fround;
    const g = [1, 2, 3, 4];
    const row = [f(f(0.2) * f(f(f(1 + 1e-30) / 2) + f(f(4) / 2))), f(f(0.2) * f(f(9 / 2) + f(16 / 2)))];
    const col = [f(f(0.2) * f(f(1 / 2) + f(9 / 2))), f(f(0.2) * f(f(4 / 2) + f(16 / 2)))];
    const rowMean = f(f(row[0]! / 2) + f(row[1]! / 2));
    const rowFactor = row.map((r) => f(1 / Math.sqrt(f(r / rowMean))));
    const colFactor = col.map((c) => f(1 / Math.sqrt(c)));
    const u = g.map((x, i) => f(f(rowFactor[i >> 1]! * colFactor[i & 1]!) * x));
    const rms = f(Math.sqrt(u.reduce((acc, x) => acc + f(f(x * x) / 4), 0)));
    const divisor = Math.max(f(rms / 1), 1);
    const expected = u.map((x) => f(0 - f(f(x / divisor) * f(0.05))));
    for (const fused of [false, true]) {
      setFusedKernels(fused);
      const variable = tf.variable(tf.zeros([2, 2]));
      const optimizer = new RowColumn();
      const grad = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      optimizer.applyGradients({ [variable.name]: grad });
      expect(Array.from(variable.dataSync()), `fused ${fused}`).toEqual(expected);
      expect(Array.from(optimizer.getSlots(variable.name)!.row!.dataSync())).toEqual(row);
      expect(Array.from(optimizer.getSlots(variable.name)!.col!.dataSync())).toEqual(col);
      optimizer.dispose();
      tf.dispose([variable, grad]);
    }
    setFusedKernels(true);
  });
});

describe('row and column maxima', () => {
  it('are tf.max over the last and second-last axes, on both paths, NaN included', () => {
    // accumulator = g² + min(row, col) with row = col = 0 on the first step: g² itself.
    // g = [[1, −3, 2], [NaN, 0.5, −1]] → rows: max(1, 9, 4) = 9, NaN (a NaN is kept);
    // columns: max(1, NaN) = NaN, max(9, 0.25) = 9, max(4, 1) = 4.
    for (const fused of [true, false]) {
      const previous = setFusedKernels(fused);
      const x = tf.variable(tf.zeros([2, 3]));
      const optimizer = new RowColumnMax();
      const g = tf.tensor2d([
        [1, -3, 2],
        [Number.NaN, 0.5, -1],
      ]);
      optimizer.applyGradients({ [x.name]: g });
      const slots = optimizer.getSlots(x.name)!;
      expect(Array.from(slots.row!.dataSync())).toEqual([9, Number.NaN]);
      expect(Array.from(slots.col!.dataSync())).toEqual([Number.NaN, 9, 4]);
      tf.dispose([g, x]);
      optimizer.dispose();
      setFusedKernels(previous);
    }
  });

  it('of a batch of matrices are per matrix (rank 3: one row and one column statistic per batch)', () => {
    const x = tf.variable(tf.zeros([2, 2, 2]));
    const optimizer = new RowColumnMax();
    const g = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
      [
        [-5, 0],
        [0, -0.5],
      ],
    ]);
    optimizer.applyGradients({ [x.name]: g });
    const slots = optimizer.getSlots(x.name)!;
    expect(slots.row!.shape).toEqual([2, 2]);
    expect(Array.from(slots.row!.dataSync())).toEqual([4, 16, 25, 0.25]);
    expect(Array.from(slots.col!.dataSync())).toEqual([9, 16, 25, 0.25]);
    tf.dispose([g, x]);
    optimizer.dispose();
  });
});

describe('fused kernels', () => {
  afterAll(() => {
    setFusedKernels(true);
  });

  it('are on by default, and setFusedKernels returns the previous setting', () => {
    expect(fusedKernelsEnabled()).toBe(true);
    expect(fusedKernelsActive()).toBe(true);
    expect(setFusedKernels(false)).toBe(true);
    expect(fusedKernelsEnabled()).toBe(false);
    expect(fusedKernelsActive()).toBe(false);
    expect(setFusedKernels(true)).toBe(false);
    expect(() => setFusedKernels('no' as unknown as boolean)).toThrow(TypeError);
  });

  it('run one registered kernel per variable, and none when turned off', () => {
    const variables = [tf.variable(tf.zeros([3])), tf.variable(tf.zeros([2, 2]))];
    const optimizer = heavyBall();
    const name = fusedKernelName('OptimkitTestRuleHeavyBall');
    step(optimizer, variables); // creates the slots
    expect(step(optimizer, variables)).toEqual([name, name]);
    expect(tf.getKernel(name, 'cpu')).toBeDefined();
    setFusedKernels(false);
    const composite = step(optimizer, variables);
    setFusedKernels(true);
    expect(composite).not.toContain(name);
    expect(composite).toContain('Multiply');
    optimizer.dispose();
    tf.dispose(variables);
  });

  it('are not used without WebAssembly (the elementwise engine would be an interpreter)', () => {
    elementwiseEngine('js');
    try {
      expect(fusedKernelsActive()).toBe(false);
      const variable = tf.variable(tf.zeros([3]));
      const optimizer = heavyBall();
      const kernels = step(optimizer, [variable]);
      expect(kernels).not.toContain(fusedKernelName('OptimkitTestRuleHeavyBall'));
      optimizer.dispose();
      variable.dispose();
    } finally {
      elementwiseEngine(null);
    }
    expect(fusedKernelsActive()).toBe(true);
  });

  it('are not used by an update-based definition (the tfjs-ops escape hatch)', () => {
    const Plain = defineOptimizer({
      className: 'OptimkitTestPlainDescent',
      ...meta,
      defaults: { learningRate: 0.1 },
      update: ({ param, grad, h }) => ({ param: tf.sub(param, tf.mul(grad, h.learningRate)) }),
    });
    const variable = tf.variable(tf.zeros([2]));
    const optimizer = new Plain();
    const kernels = step(optimizer, [variable]);
    expect(kernels.some((k) => k.startsWith('OptimkitFused_'))).toBe(false);
    expect(Array.from(variable.dataSync())).toEqual([Math.fround(-0.1), Math.fround(-0.1)]);
    optimizer.dispose();
    variable.dispose();
  });

  it('update small variables of one rule and one set of scalars in one call, in any order', () => {
    // Matrices and vectors interleaved, as a model lists kernels and biases: two traced variants.
    const variables = [[2, 3], [3], [4, 2], [5], [2, 2], [7]].map((shape) => tf.variable(tf.zeros(shape)));
    const optimizer = heavyBall();
    const name = fusedKernelName('OptimkitTestRuleHeavyBall');
    const grads = variables.map((v) => ({ name: v.name, tensor: tf.onesLike(v) }));
    optimizer.applyGradients(grads);
    const calls = recordKernelCalls(() => optimizer.applyGradients(grads));
    expect(calls.filter((c) => c.name === name)).toHaveLength(2);
    expect(fusedUpdates(calls, name)).toBe(variables.length);
    optimizer.dispose();
    tf.dispose([...variables, ...grads.map((g) => g.tensor)]);
  });

  it('trace a rule once per variant, not per step or per variable', () => {
    let traces = 0;
    const Counted = defineOptimizer({
      className: 'OptimkitTestRuleCounted',
      ...meta,
      defaults: { learningRate: 0.1 },
      variant: (_h, step) => ({ first: step === 1 }),
      rule: ({ param, grad, s, op, v }) => {
        traces += 1;
        return { param: op.sub(param, op.mul(grad, v.first ? 0 : s.learningRate)) };
      },
    });
    const variables = [tf.variable(tf.zeros([3])), tf.variable(tf.zeros([4])), tf.variable(tf.zeros([2, 2]))];
    const optimizer = new Counted();
    for (let i = 0; i < 5; i++) step(optimizer, variables);
    // First step or not, for vectors and for matrices (rank ≥ 2 allows row and column reductions).
    expect(traces).toBe(4);
    expect(Array.from(variables[0]!.dataSync())).toEqual(new Array(3).fill(Math.fround(-0.4)));
    optimizer.dispose();
    tf.dispose(variables);
  });
});

for (const backend of ['cpu', 'wasm']) {
  describe(`fused kernels on ${backend}`, () => {
    let previous = '';
    beforeAll(async () => {
      previous = tf.getBackend();
      await useBackend(backend);
    });
    afterAll(async () => {
      await tf.setBackend(previous);
    });

    it(`run the passes ${backend === 'wasm' ? 'in place on the heap' : 'streamed through scratch'}, freeing their workspace`, () => {
      const variable = tf.tidy(() => tf.variable(tf.ones([2, 3, 5])));
      const optimizer = new RowColumn();
      step(optimizer, [variable]);
      const dataIds = tf.backend().numDataIds();
      step(optimizer, [variable]);
      expect(lastElementwiseRun()).toBe(backend === 'wasm' ? 'in place' : 'streamed');
      expect(tf.backend().numDataIds()).toBe(dataIds);
      optimizer.dispose();
      variable.dispose();
    });

    it('a matrix product of the variable between steps sees every update (wasm caches packed weights by tensor id)', () => {
      const x = tf.tensor2d([1, 2, 3, -1, 0.5, 2], [2, 3]);
      const trajectory = (fused: boolean) => {
        setFusedKernels(fused);
        const w = tf.variable(tf.tidy(() => tf.ones([3, 4])));
        const optimizer = heavyBall({ learningRate: 0.01 });
        const values: number[][] = [];
        for (let i = 0; i < 5; i++) {
          optimizer.minimize(() => tf.sum(tf.square(tf.matMul(x, w))) as tf.Scalar);
          values.push(Array.from(w.dataSync()));
        }
        optimizer.dispose();
        w.dispose();
        setFusedKernels(true);
        return values;
      };
      expect(trajectory(true)).toEqual(trajectory(false));
      x.dispose();
    });

    it('a kernel that throws propagates the error and leaks no tensor and no backend memory', () => {
      const variable = tf.variable(tf.ones([4]));
      const grad = tf.onesLike(variable);
      const m = tf.zerosLike(variable);
      const run = () =>
        runFusedUpdate({
          kernelName: 'OptimkitFused_TestFailing',
          param: variable,
          grad,
          reads: {},
          writes: { m },
          workspace: 8,
          execute: () => {
            throw new Error('fused failure');
          },
        });
      expect(run).toThrow('fused failure');
      const tensors = tf.memory().numTensors;
      const dataIds = tf.backend().numDataIds();
      expect(run).toThrow('fused failure');
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.backend().numDataIds()).toBe(dataIds);
      tf.dispose([variable, grad, m]);
    });
  });
}

describe('bad rules fail with a message naming the optimizer and the slot or scalar', () => {
  const define = (
    className: string,
    rule: Parameters<typeof defineOptimizer<{ learningRate: number }, 'm'>>[0]['rule'],
    slots: SlotSpec<'m'> = { m: 0 },
  ) => defineOptimizer({ className, ...meta, defaults: { learningRate: 0.1 }, slots, rule });

  const firstStep = (Optimizer: ReturnType<typeof define>, shape: number[] = [3]) => {
    const variable = tf.variable(tf.ones(shape));
    const before = tf.memory().numTensors;
    const optimizer = new Optimizer();
    try {
      step(optimizer, [variable]);
    } finally {
      // A failed first step leaves no slot behind and the variable unchanged.
      expect(optimizer.getSlots(variable.name)).toBeUndefined();
      expect(tf.memory().numTensors).toBe(before);
      expect(Array.from(variable.dataSync())).toEqual(new Array(variable.size).fill(1));
      optimizer.dispose();
      variable.dispose();
    }
  };

  it('a tf.Tensor instead of a rule value (an op outside the vocabulary)', () => {
    const one = tf.scalar(1);
    const Bad = define('OptimkitTestBadTensor', ({ param, op }) => ({
      param: op.add(param, one as unknown as number),
    }));
    expect(() => firstStep(Bad)).toThrow(/OptimkitTestBadTensor: .*not a tf.Tensor: rules use op\.\*/);
    expect(() => firstStep(Bad)).toThrow(RuleError);
    one.dispose();
  });

  it('a slot the definition does not declare, written or read', () => {
    const Writes = define('OptimkitTestBadWrite', ({ param, grad }) => ({
      param,
      slots: { m: grad, extra: grad } as { m: typeof grad },
    }));
    expect(() => firstStep(Writes)).toThrow(
      /OptimkitTestBadWrite: the rule writes slot 'extra'.*\(its slots: m\)/,
    );
    const Reads = define('OptimkitTestBadRead', ({ param, slots, op }) => ({
      param: op.add(param, (slots as unknown as Record<string, typeof param>).missing!),
    }));
    expect(() => firstStep(Reads)).toThrow(/OptimkitTestBadRead: the rule reads slot 'missing'/);
  });

  it('a value of the wrong layout for a slot or the param', () => {
    const Slot = define(
      'OptimkitTestBadLayout',
      ({ param, grad, op }) => ({ param, slots: { m: op.rowMean(grad) } }),
      { m: 0 },
    );
    expect(() => firstStep(Slot, [2, 3])).toThrow(
      /OptimkitTestBadLayout: the rule writes a row value to slot 'm', which is full/,
    );
    const Param = define('OptimkitTestBadParam', ({ grad, op }) => ({ param: op.sum(grad) }));
    expect(() => firstStep(Param)).toThrow(/OptimkitTestBadParam: the rule returns a scalar param/);
  });

  it('a row or column reduction of a vector, an unknown scalar', () => {
    const Rows = define('OptimkitTestBadRows', ({ param, grad, op }) => ({
      param: op.sub(param, op.rowMean(grad)),
    }));
    expect(() => firstStep(Rows, [3])).toThrow(
      /OptimkitTestBadRows: op.rowMean needs a variable of rank ≥ 2/,
    );
    const Maxima = define('OptimkitTestBadMaxima', ({ param, grad, op }) => ({
      param: op.sub(param, op.colMax(grad)),
    }));
    expect(() => firstStep(Maxima, [3])).toThrow(
      /OptimkitTestBadMaxima: op.colMax needs a variable of rank ≥ 2/,
    );
    const Nested = define('OptimkitTestBadNestedMax', ({ param, grad, op }) => ({
      param: op.sub(param, op.rowMax(op.rowMax(grad))),
    }));
    expect(() => firstStep(Nested, [2, 3])).toThrow(
      /OptimkitTestBadNestedMax: op.rowMax of a row value is not defined/,
    );
    const Scalar = define('OptimkitTestBadScalar', ({ param, grad, s, op }) => ({
      param: op.sub(param, op.mul(grad, (s as unknown as Record<string, typeof grad>).beta!)),
    }));
    expect(() => firstStep(Scalar)).toThrow(
      /OptimkitTestBadScalar: the rule reads scalar 'beta', which is neither a numeric hyperparameter nor returned by scalars\(\)/,
    );
  });

  it('a definition with both or neither of rule and update', () => {
    expect(() =>
      defineOptimizer({ className: 'OptimkitTestNeither', ...meta, defaults: { learningRate: 1 } }),
    ).toThrow(/OptimkitTestNeither: a definition needs exactly one of 'rule' or 'update'/);
  });

  it('an error in the second variable changes neither the first nor the state', () => {
    const Fragile = defineOptimizer({
      className: 'OptimkitTestFragile',
      ...meta,
      defaults: { learningRate: 0.5 },
      variant: (_h, _step, shape) => {
        if (shape.length === 2) throw new Error('no matrices here');
        return {};
      },
      rule: ({ param, grad, s, op }) => ({ param: op.sub(param, op.mul(grad, s.learningRate)) }),
    });
    const a = tf.variable(tf.ones([3]));
    const b = tf.variable(tf.ones([2, 2]));
    const optimizer = new Fragile();
    expect(() => step(optimizer, [a, b])).toThrow('no matrices here');
    expect(Array.from(a.dataSync())).toEqual([1, 1, 1]);
    expect(optimizer.iterations).toBe(0);
    expect(optimizer.variableSteps().size).toBe(0);
    step(optimizer, [a]);
    expect(Array.from(a.dataSync())).toEqual([0.5, 0.5, 0.5]);
    optimizer.dispose();
    tf.dispose([a, b]);
  });
});

describe('16-bit backends', () => {
  it('raise each declared epsilon to the floor, with one warning naming it, its value and the floor', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const rule = new CompiledRule(
        {
          className: 'OptimkitTestSixteen',
          epsilons: ['epsilon'],
          rule: ({ param }) => ({ param }),
        },
        { learningRate: 1e-5, epsilon: 1e-8 },
      );
      const h = { learningRate: 1e-5, epsilon: 1e-8 };
      expect(rule.scalarValues(h, 1, {}, 'k', 0)).toEqual({ learningRate: 1e-5, epsilon: 1e-8 });
      expect(rule.scalarValues(h, 1, {}, 'k', 1e-4)).toEqual({ learningRate: 1e-5, epsilon: 1e-4 });
      expect(rule.scalarValues(h, 2, {}, 'k', 1e-4)).toEqual({ learningRate: 1e-5, epsilon: 1e-4 });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toBe(
        "OptimkitTestSixteen: epsilon = 1e-8 underflows in this backend's 16-bit floats; using 0.0001 instead",
      );
    } finally {
      warn.mockRestore();
    }
  });
});
