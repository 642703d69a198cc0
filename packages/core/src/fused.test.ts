import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elementwiseEngine, lastElementwiseRun } from './elementwise.js';
import {
  defineOptimizer,
  elementwise,
  fusedKernelName,
  fusedKernelsActive,
  fusedKernelsEnabled,
  type SlotSpec,
  setFusedKernels,
} from './index.js';
import {
  describeFusedEquivalence,
  describeOptimizerConformance,
  recordKernels,
  useBackend,
} from './testing/index.js';

// Heavy ball with decoupled decay, written as a plugin author would: the composite update and the
// same arithmetic over float32 arrays, each tensor op's result rounded with Math.fround.
const FusedHeavyBall = defineOptimizer({
  className: 'OptimkitTestFusedHeavyBall',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.01, momentum: 0.9, weightDecay: 0 },
  validate(h) {
    if (!(h.momentum >= 0 && h.momentum < 1)) throw new RangeError(`Invalid momentum: ${h.momentum}`);
  },
  slots: (): SlotSpec => ({ velocity: 0 }),
  update({ param, grad, slots, h }) {
    const velocity = tf.add(tf.mul(slots.velocity!, h.momentum), grad);
    const decayed = tf.mul(param, 1 - h.learningRate * h.weightDecay);
    return { param: tf.sub(decayed, tf.mul(velocity, h.learningRate)), slots: { velocity } };
  },
  fused({ param, grad, slots, out, h }) {
    const f = Math.fround;
    const momentum = f(h.momentum);
    const decay = f(1 - h.learningRate * h.weightDecay);
    const lr = f(h.learningRate);
    const v0 = slots.velocity!;
    const v1 = out.slots.velocity!;
    for (let i = 0; i < param.length; i++) {
      const v = f(f(v0[i]! * momentum) + grad[i]!);
      v1[i] = v;
      out.param[i] = f(f(param[i]! * decay) - f(v * lr));
    }
  },
});
const fusedHeavyBall = (options?: ConstructorParameters<typeof FusedHeavyBall>[0]) =>
  new FusedHeavyBall(options);

// p ← p − lr·g/(‖g‖ + ε): a fused update with a sum, elementwise kernels and a workspace (which
// holds a copy of the gradient between the two passes, to exercise it).
let seenWorkspace: { length: number; byteOffset: number } | null = null;
const copyAndSquares = elementwise((e) => {
  e.sum(e.mul(e.input(0), e.input(0)));
  return [e.input(0)];
});
const normalizedStep = elementwise((e) => [
  e.sub(e.input(0), e.mul(e.div(e.input(1), e.scalar(0)), e.scalar(1))),
]);
const NormalizedDescent = defineOptimizer({
  className: 'OptimkitTestNormalizedDescent',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1, epsilon: 1e-3 },
  update({ param, grad, h }) {
    const norm = tf.sqrt(tf.sum(tf.square(grad)));
    return { param: tf.sub(param, tf.mul(tf.div(grad, tf.add(norm, h.epsilon)), h.learningRate)) };
  },
  fusedWorkspace: (shape) => shape.reduce((a, b) => a * b, 1) + 3,
  fused({ param, grad, out, workspace, h }) {
    seenWorkspace = { length: workspace.length, byteOffset: workspace.byteOffset };
    const [squares] = copyAndSquares.run(grad.length, [grad], [], [workspace]);
    const norm = Math.fround(Math.sqrt(Math.fround(squares!)));
    normalizedStep.run(
      param.length,
      [param, workspace],
      [Math.fround(norm + Math.fround(h.epsilon)), h.learningRate],
      [out.param],
    );
  },
});

describeFusedEquivalence({
  name: 'normalized-descent test plugin (sums, workspace)',
  create: (options: { learningRate?: number; epsilon?: number }) => new NormalizedDescent(options),
  optionSets: [{}, { learningRate: 0.5, epsilon: 0.1, clipGradValue: 0.3 }],
  bitIdentical: ['cpu'],
});

// A definition whose fused update throws, to check that a failed kernel leaks nothing.
const Failing = defineOptimizer({
  className: 'OptimkitTestFailingFused',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1 },
  slots: { m: 0 },
  update: ({ param, grad, h }) => ({ param: tf.sub(param, tf.mul(grad, h.learningRate)) }),
  fused: () => {
    throw new Error('fused failure');
  },
});

describeFusedEquivalence({
  name: 'heavy-ball test plugin',
  create: fusedHeavyBall,
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

describeOptimizerConformance({
  name: 'fused heavy-ball test plugin',
  create: fusedHeavyBall,
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
    const optimizer = fusedHeavyBall();
    const name = fusedKernelName('OptimkitTestFusedHeavyBall');
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
      const optimizer = fusedHeavyBall();
      const kernels = step(optimizer, [variable]);
      expect(kernels).not.toContain(fusedKernelName('OptimkitTestFusedHeavyBall'));
      optimizer.dispose();
      variable.dispose();
    } finally {
      elementwiseEngine(null);
    }
    expect(fusedKernelsActive()).toBe(true);
  });

  it('are not used by a definition without a fused update', () => {
    const Plain = defineOptimizer({
      className: 'OptimkitTestPlainDescent',
      packageName: '@optimkit/core-tests',
      packageVersion: '0.0.0',
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
});

for (const backend of ['cpu', 'wasm']) {
  describe(`a fused update that throws on ${backend}`, () => {
    let previous = '';
    beforeAll(async () => {
      previous = tf.getBackend();
      await useBackend(backend);
    });
    afterAll(async () => {
      await tf.setBackend(previous);
    });

    it('gives the update an 8-byte aligned workspace of the asked length; kernels run in place on wasm', () => {
      const variable = tf.tidy(() => tf.variable(tf.ones([3, 5])));
      const optimizer = new NormalizedDescent();
      const grads = [{ name: variable.name, tensor: tf.onesLike(variable) }];
      seenWorkspace = null;
      const dataIds = tf.backend().numDataIds();
      optimizer.applyGradients(grads);
      expect(seenWorkspace).not.toBeNull();
      expect(seenWorkspace!.length).toBe(18);
      expect(seenWorkspace!.byteOffset % 8).toBe(0);
      expect(lastElementwiseRun()).toBe(backend === 'wasm' ? 'in place' : 'streamed');
      // The old value was replaced by the new one, and the workspace was freed.
      expect(tf.backend().numDataIds()).toBe(dataIds);
      // ‖g‖ = √15: every element moves by 0.1/(√15 + 0.001).
      const expected = Math.fround(
        1 -
          Math.fround(
            Math.fround(1 / Math.fround(Math.fround(Math.sqrt(15)) + Math.fround(1e-3))) * Math.fround(0.1),
          ),
      );
      expect(Array.from(variable.dataSync())).toEqual(new Array(15).fill(expected));
      optimizer.dispose();
      tf.dispose([variable, grads[0]!.tensor]);
    });

    it('propagates the error and leaks no tensor and no backend memory', () => {
      const variable = tf.variable(tf.ones([4]));
      const optimizer = new Failing();
      const grads = [{ name: variable.name, tensor: tf.onesLike(variable) }];
      // The first call creates the slot; count from a second attempt.
      expect(() => optimizer.applyGradients(grads)).toThrow('fused failure');
      const tensors = tf.memory().numTensors;
      const dataIds = tf.backend().numDataIds();
      expect(() => optimizer.applyGradients(grads)).toThrow('fused failure');
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.backend().numDataIds()).toBe(dataIds);
      expect(Array.from(variable.dataSync())).toEqual([1, 1, 1, 1]);
      optimizer.dispose();
      tf.dispose([variable, grads[0]!.tensor]);
    });
  });
}
