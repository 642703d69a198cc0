/**
 * A test optimizer for the reliability tests (not part of the package): SGD-like with a momentum
 * buffer only while momentum ≠ 0 (as torch.optim.SGD), a second-moment slot that must stay ≥ 0, and
 * an epsilon, the shapes of definition the base must handle.
 */
import { defineOptimizer, type SlotSpec } from './index.js';

/** The optimizer; `decay` is the factor of its second moment, `s ← decay·s + g²`. */
export const Momentum = defineOptimizer({
  className: 'OptimkitTestReliableMomentum',
  packageName: '@optimkit/core-tests',
  packageVersion: '0.0.0',
  defaults: { learningRate: 0.1, momentum: 0, epsilon: 1e-8 },
  slots: (_shape, h): SlotSpec<'square' | 'buffer'> => ({
    square: 0,
    ...(h.momentum !== 0 ? { buffer: 0 } : {}),
  }),
  conditionalSlots: ['buffer'],
  nonNegativeSlots: ['square'],
  epsilons: ['epsilon'],
  variant: (h, _step, shape) => ({ momentum: h.momentum !== 0, rank: shape.length }),
  rule({ param, grad, slots, s, op, v }) {
    const square = op.add(op.mul(slots.square, 0.5), op.mul(grad, grad));
    const scaled = op.div(grad, op.add(op.sqrt(square), s.epsilon));
    if (!v.momentum) return { param: op.sub(param, op.mul(scaled, s.learningRate)), slots: { square } };
    const buffer = op.add(op.mul(slots.buffer, s.momentum), scaled);
    return { param: op.sub(param, op.mul(buffer, s.learningRate)), slots: { square, buffer } };
  },
});
