import {
  checkNonNegative,
  checkPositive,
  checkUnitInterval,
  defineOptimizer,
  defineRuleKernel,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import * as tf from '@tensorflow/tfjs-core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };

/** How {@link muon} scales the learning rate of a `rows × cols` matrix. */
export type MuonLearningRateAdjustment = 'original' | 'matchRmsAdamW';

const defaults = {
  /**
   * Step size, ≥ 0. The Muon path scales it by {@link MuonDefaults.adjustLearningRate}.
   *
   * @defaultValue `1e-3`
   */
  learningRate: 1e-3,
  /**
   * Decoupled weight decay, ≥ 0: parameters shrink by `learningRate · weightDecay` per step.
   *
   * @defaultValue `0.1`
   */
  weightDecay: 0.1,
  /**
   * Momentum coefficient, in [0, 1).
   *
   * @defaultValue `0.95`
   */
  momentum: 0.95,
  /**
   * Nesterov momentum: orthogonalise `g + momentum·(m − g)` rather than `m`.
   *
   * @defaultValue `true`
   */
  nesterov: true,
  /**
   * First Newton–Schulz coefficient `a` (of `X`).
   *
   * @defaultValue `3.4445`
   */
  nsCoefficientA: 3.4445,
  /**
   * Second Newton–Schulz coefficient `b` (of `(XXᵀ)X`).
   *
   * @defaultValue `-4.775`
   */
  nsCoefficientB: -4.775,
  /**
   * Third Newton–Schulz coefficient `c` (of `(XXᵀ)²X`).
   *
   * @defaultValue `2.0315`
   */
  nsCoefficientC: 2.0315,
  /**
   * Newton–Schulz iterations, an integer in [1, 100).
   *
   * @defaultValue `5`
   */
  nsSteps: 5,
  /**
   * Lower bound of the Frobenius norm the update is divided by, > 0.
   *
   * @defaultValue `1e-7`
   */
  epsilon: 1e-7,
  /**
   * `'original'` (Keller Jordan's): `learningRate·√max(1, rows/cols)`; `'matchRmsAdamW'` (Moonshot's):
   * `learningRate·0.2·√max(rows, cols)`, an update of AdamW's RMS, so AdamW's learning rate and
   * weight decay carry over.
   *
   * @defaultValue `'original'`
   */
  adjustLearningRate: 'original' as MuonLearningRateAdjustment,
  /**
   * Whether the variables this applies to take the Muon update (2-D only). `false`, in a param group,
   * gives them the AdamW update of KellerJordan/Muon's `MuonWithAuxAdam` instead (embeddings,
   * heads, biases, gains).
   *
   * @defaultValue `true`
   */
  useMuon: true,
  /**
   * AdamW path: decay of the first moment, in [0, 1).
   *
   * @defaultValue `0.9`
   */
  adamBeta1: 0.9,
  /**
   * AdamW path: decay of the second moment, in [0, 1).
   *
   * @defaultValue `0.95`
   */
  adamBeta2: 0.95,
  /**
   * AdamW path: added to the root of the second moment, ≥ 0.
   *
   * @defaultValue `1e-10`
   */
  adamEpsilon: 1e-10,
};

/** Hyperparameters of {@link muon}. */
export type MuonDefaults = typeof defaults;
/** Options of {@link muon}: each numeric one a number or a schedule, plus `paramGroups`. */
export type MuonOptions = OptimizerOptions<MuonDefaults>;
/** A Muon optimizer instance. */
export type Muon = OptimkitOptimizer<MuonDefaults>;

/**
 * Which branch of torch's float32 `lerp(start, end, w)` each blend takes: `start + w·(end − start)`
 * for w < 0.5, else `end − (end − start)·(1 − w)`.
 */
interface LerpFlags {
  nesterov: boolean;
  /** The buffer's weight 1 − μ is below 0.5. */
  bufferLow: boolean;
  /** The Nesterov weight μ is at least 0.5. */
  nesterovHigh: boolean;
}

// m ← lerp(m, g, 1 − μ); the value is u = lerp(g, m, μ) (Nesterov) or m.
const momentumStage = /* @__PURE__ */ defineRuleKernel<
  'momentumBuffer',
  'weight' | 'oneMinusWeight',
  LerpFlags
>({
  name: 'OptimkitMuonMomentum',
  rule: ({ grad, slots, s, op, v }) => {
    const m = slots.momentumBuffer;
    const buffer = v.bufferLow
      ? op.add(m, op.mul(op.sub(grad, m), s.oneMinusWeight))
      : op.sub(grad, op.mul(op.sub(grad, m), s.weight));
    const update = !v.nesterov
      ? buffer
      : v.nesterovHigh
        ? op.sub(buffer, op.mul(op.sub(buffer, grad), s.oneMinusWeight))
        : op.add(grad, op.mul(op.sub(buffer, grad), s.weight));
    return { param: update, slots: { momentumBuffer: buffer } };
  },
});

// p ← p·(1 − lr·wd) − adjustedLr·O, O the orthogonalised update.
const applyStage = /* @__PURE__ */ defineRuleKernel<
  never,
  'shrink' | 'adjustedLearningRate',
  { decay: boolean }
>({
  name: 'OptimkitMuon',
  rule: ({ param, grad, s, op, v }) => {
    const decayed = v.decay ? op.mul(param, s.shrink) : param;
    return { param: op.sub(decayed, op.mul(grad, s.adjustedLearningRate)) };
  },
});

type AdamScalars =
  | 'beta1Weight'
  | 'beta2Weight'
  | 'bias1'
  | 'bias2'
  | 'adamEpsilon'
  | 'shrink'
  | 'learningRate';

// KellerJordan/Muon adam_update: m ← lerp(m, g, 1 − β1), v ← lerp(v, g², 1 − β2),
// p ← p·(1 − lr·wd) − lr·(m/bc1)/(√(v/bc2) + ε).
const adamStage = /* @__PURE__ */ defineRuleKernel<
  'expAvg' | 'expAvgSq',
  AdamScalars,
  { decay: boolean; beta1High: boolean; beta2High: boolean }
>({
  name: 'OptimkitMuon',
  rule: ({ param, grad, slots, s, op, v }) => {
    const lerp = (start: typeof grad, end: typeof grad, weight: typeof grad, high: boolean) =>
      high
        ? op.sub(end, op.mul(op.sub(end, start), op.sub(1, weight)))
        : op.add(start, op.mul(op.sub(end, start), weight));
    const m = lerp(slots.expAvg, grad, s.beta1Weight, v.beta1High);
    const second = lerp(slots.expAvgSq, op.square(grad), s.beta2Weight, v.beta2High);
    const update = op.div(op.div(m, s.bias1), op.add(op.sqrt(op.div(second, s.bias2)), s.adamEpsilon));
    const decayed = v.decay ? op.mul(param, s.shrink) : param;
    return { param: op.sub(decayed, op.mul(update, s.learningRate)), slots: { expAvg: m, expAvgSq: second } };
  },
});

/** The learning-rate factor of a `rows × cols` matrix (torch.optim.Muon's `_adjust_lr`). */
export function muonLearningRateScale(
  adjustment: MuonLearningRateAdjustment,
  rows: number,
  cols: number,
): number {
  return adjustment === 'matchRmsAdamW'
    ? 0.2 * Math.sqrt(Math.max(rows, cols))
    : Math.sqrt(Math.max(1, rows / cols));
}

/**
 * Newton–Schulz orthogonalisation of a matrix, as torch.optim.Muon's `_zeropower_via_newtonschulz`
 * (in float32, where the reference uses bfloat16): a wide matrix (a transposed tall one) is divided
 * by its Frobenius norm (at least `epsilon`), then `X ← aX + (bA + (cA)A)X` with `A = XXᵀ`, `steps`
 * times. The result is close to `UVᵀ` for `G = USVᵀ` (singular values near 1, within about
 * (0.5, 1.5) after 5 steps of the default coefficients). Call it inside `tf.tidy`.
 */
export function newtonSchulz(
  matrix: tf.Tensor2D,
  options: { steps: number; a: number; b: number; c: number; epsilon: number },
): tf.Tensor2D {
  const [rows, cols] = matrix.shape;
  const tall = rows > cols;
  let x: tf.Tensor2D = tall ? tf.transpose(matrix) : matrix;
  x = tf.div(x, tf.maximum(tf.norm(x), options.epsilon));
  for (let i = 0; i < options.steps; i++) {
    const gram = tf.matMul(x, x, false, true);
    // The reference's `b * A + c * A @ A` is `bA + (cA)A`, and `a * X + B @ X` is `aX + BX`.
    const polynomial = tf.add(tf.mul(gram, options.b), tf.matMul(tf.mul(gram, options.c), gram));
    x = tf.add(tf.mul(x, options.a), tf.matMul(polynomial, x));
  }
  return tall ? tf.transpose(x) : x;
}

/** The Muon class (serialization name `OptimkitMuon`). */
export const Muon = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitMuon',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    checkNonNegative('weightDecay', h.weightDecay);
    checkUnitInterval('momentum', h.momentum);
    if (!(Number.isInteger(h.nsSteps) && h.nsSteps >= 1 && h.nsSteps < 100)) {
      throw new RangeError(`Invalid nsSteps: ${h.nsSteps} (an integer in [1, 100))`);
    }
    for (const key of ['nsCoefficientA', 'nsCoefficientB', 'nsCoefficientC'] as const) {
      if (!Number.isFinite(h[key])) throw new RangeError(`Invalid ${key}: ${h[key]}`);
    }
    checkPositive('epsilon', h.epsilon);
    if (h.adjustLearningRate !== 'original' && h.adjustLearningRate !== 'matchRmsAdamW') {
      throw new RangeError(
        `Invalid adjustLearningRate: ${String(h.adjustLearningRate)} (one of 'original', 'matchRmsAdamW')`,
      );
    }
    checkUnitInterval('adamBeta1', h.adamBeta1);
    checkUnitInterval('adamBeta2', h.adamBeta2);
    checkNonNegative('adamEpsilon', h.adamEpsilon);
  },
  slots: (shape, h) => {
    if (!h.useMuon) return { expAvg: 0, expAvgSq: 0 };
    if (shape.length !== 2) {
      throw new RangeError(
        'OptimkitMuon updates 2-D variables only: give the others (biases, gains, embeddings, heads) ' +
          'a param group with useMuon: false, which updates them with AdamW',
      );
    }
    return { momentumBuffer: 0 };
  },
  update({ param, grad, slots, h, step }) {
    const decay = h.weightDecay !== 0;
    const shrink = 1 - h.learningRate * h.weightDecay;
    if (!h.useMuon) {
      const result = adamStage.run({
        param,
        grad,
        slots: { expAvg: slots.expAvg!, expAvgSq: slots.expAvgSq! },
        scalars: {
          beta1Weight: 1 - h.adamBeta1,
          beta2Weight: 1 - h.adamBeta2,
          bias1: 1 - h.adamBeta1 ** step,
          bias2: 1 - h.adamBeta2 ** step,
          adamEpsilon: h.adamEpsilon,
          shrink,
          learningRate: h.learningRate,
        },
        variant: { decay, beta1High: 1 - h.adamBeta1 >= 0.5, beta2High: 1 - h.adamBeta2 >= 0.5 },
        inPlace: true,
      });
      return { param: result.param, slots: definedSlots(result.slots) };
    }
    const momentum = momentumStage.run({
      param: grad,
      grad,
      slots: { momentumBuffer: slots.momentumBuffer! },
      scalars: { weight: h.momentum, oneMinusWeight: 1 - h.momentum },
      variant: { nesterov: h.nesterov, bufferLow: 1 - h.momentum < 0.5, nesterovHigh: h.momentum >= 0.5 },
    });
    const [rows, cols] = param.shape as [number, number];
    const orthogonal = newtonSchulz(momentum.param as tf.Tensor2D, {
      steps: h.nsSteps,
      a: h.nsCoefficientA,
      b: h.nsCoefficientB,
      c: h.nsCoefficientC,
      epsilon: h.epsilon,
    });
    const applied = applyStage.run({
      param,
      grad: orthogonal,
      slots: {},
      scalars: {
        shrink,
        adjustedLearningRate: h.learningRate * muonLearningRateScale(h.adjustLearningRate, rows, cols),
      },
      variant: { decay },
      inPlace: true,
    });
    return { param: applied.param, slots: definedSlots(momentum.slots) };
  },
});

/** The slots a stage returned (a slot a fused kernel updated in place may be missing). */
function definedSlots(slots: Record<string, tf.Tensor | undefined>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(slots)) if (value) out[name] = value;
  return out;
}

/**
 * Muon (MomentUm Orthogonalized by Newton–Schulz), as `torch.optim.Muon`'s code: SGD momentum
 * whose update, for each 2-D variable, is replaced by the nearest (semi-)orthogonal matrix,
 * computed by Newton–Schulz iterations. It is meant for the hidden matrices of a network; give the
 * other variables (embeddings, the output head, biases, gains) a param group with `useMuon: false`,
 * which updates them with AdamW in the same optimizer (KellerJordan/Muon's `MuonWithAuxAdam`).
 *
 * Update rule of a `rows × cols` variable `p` with gradient `g` (torch.optim.Muon, its code, not its
 * docstring: the buffer is an exponential average, `lerp`):
 * ```
 * m ← m + (1 − momentum)·(g − m)                        (torch: buf.lerp_(grad, 1 − momentum))
 * u ← g + momentum·(m − g)   if nesterov, else m         (grad.lerp(buf, momentum))
 * X ← u (transposed if rows > cols);  X ← X / max(‖X‖_F, epsilon)
 * X ← aX + (bA + cA²)X,  A = XXᵀ                         (nsSteps times; a, b, c = nsCoefficientA/B/C)
 * p ← p·(1 − learningRate·weightDecay) − learningRate·scale·X   (X transposed back)
 * scale = √max(1, rows/cols)          ('original')
 *       = 0.2·√max(rows, cols)        ('matchRmsAdamW')
 * ```
 * and, for variables of a group with `useMuon: false` (KellerJordan/Muon `adam_update`, with this
 * group's `learningRate` and `weightDecay`):
 * ```
 * m ← m + (1 − adamBeta1)·(g − m);  v ← v + (1 − adamBeta2)·(g² − v)
 * p ← p·(1 − learningRate·weightDecay) − learningRate·(m/(1 − adamBeta1^t)) / (√(v/(1 − adamBeta2^t)) + adamEpsilon)
 * ```
 * Defaults are torch.optim.Muon's (learning rate 1e-3, weight decay 0.1, momentum 0.95, Nesterov,
 * coefficients (3.4445, −4.7750, 2.0315), 5 steps, epsilon 1e-7, `'original'` scaling) and, for the
 * AdamW path, `MuonWithAuxAdam`'s (betas (0.9, 0.95), epsilon 1e-10). A Muon-path variable that is
 * not 2-D is refused, before anything changes, with an error that names it.
 *
 * The elementwise stages (momentum and Nesterov blend; decay and step; the AdamW path) are rules,
 * fused on every backend optimkit has kernels for; the Newton–Schulz iterations are tfjs `matMul`s
 * in float32 (the reference computes them in bfloat16).
 *
 * Sources: Keller Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024),
 * https://kellerjordan.github.io/posts/muon/; Jingyuan Liu et al., "Muon is Scalable for LLM
 * Training", arXiv:2502.16982 (the `'matchRmsAdamW'` scaling); code: pytorch/pytorch
 * `torch/optim/_muon.py`, KellerJordan/Muon `muon.py`.
 *
 * @example
 * ```ts
 * import { muon } from '@optimkit/muon';
 * // Muon for the hidden matrices, AdamW for embeddings, the head, biases and gains.
 * const optimizer = muon({
 *   learningRate: 0.02,
 *   weightDecay: 0.01,
 *   paramGroups: [
 *     { match: (v) => v.rank !== 2 || /embed|head/.test(v.name), useMuon: false, learningRate: 3e-4, weightDecay: 0 },
 *   ],
 * });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function muon(options: MuonOptions = {}): Muon {
  return new Muon(options);
}
