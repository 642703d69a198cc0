import { describe, expect, it } from 'vitest';
import { catalog } from './catalog.js';
import {
  LEARNING_RATE_GRID,
  recordedSearch,
  searchLearningRate,
  surfaces,
  trajectory,
  trial,
} from './surfaces.js';

const entry = (name: string) => catalog.find((e) => e.name === name)!;
const bowl = surfaces.find((s) => s.name === 'bowl')!;
const saddle = surfaces.find((s) => s.name === 'saddle')!;

describe('2-D surfaces', () => {
  it('plain gradient descent on the bowl diverges above 2/L = 0.04 and converges below', () => {
    // ½(x² + 50y²): y ← (1 − 50·lr)·y, so |1 − 50·lr| > 1 from lr 0.04 on
    const above = trial(entry('tf-sgd'), bowl, 0.1, 100);
    expect(above.divergedAt).not.toBeNull();
    expect(above.finalDistance).toBe(Number.POSITIVE_INFINITY);
    const below = trial(entry('tf-sgd'), bowl, 0.032, 300);
    expect(below.divergedAt).toBeNull();
    // x ← (1 − 0.032)·x from −4: 4·0.968^t ≤ 0.1 (1 % of the width 10) from t = 114 on
    expect(below.reachedAt).toBe(114);
  });

  it('the search picks the grid rate that reaches the minimum first, and says where divergence starts', () => {
    const result = searchLearningRate(entry('tf-sgd'), bowl, 300);
    expect(LEARNING_RATE_GRID).toContain(result.learningRate);
    expect(result.learningRate).toBe(0.032);
    expect(result.largestStable).toBe(0.032);
    expect(result.smallestDiverging).toBe(0.1);
  });

  it('stops a path that leaves the saddle, which has no minimum', () => {
    const t = trajectory(entry('adam'), saddle, 0.1, 150);
    expect(t.divergedAt).toBeNull();
    expect(t.escapedAt).not.toBeNull();
    expect(Math.abs(t.points[t.points.length - 1]![1])).toBeGreaterThan(1.5);
  });

  it('the recorded search has a grid rate for the optimizers it lists', () => {
    const names = Object.values(recordedSearch).flatMap((perOptimizer) => Object.keys(perOptimizer));
    expect(names.length).toBeGreaterThan(0);
    for (const perOptimizer of Object.values(recordedSearch)) {
      for (const [name, result] of Object.entries(perOptimizer)) {
        expect(LEARNING_RATE_GRID, name).toContain(result.learningRate);
      }
    }
  });
});
