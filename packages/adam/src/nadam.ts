import {
  checkNonNegative,
  defineOptimizer,
  type OptimizerOptions,
  type OptimkitOptimizer,
} from '@optimkit/core';
import { name as packageName, version as packageVersion } from '../package.json' with { type: 'json' };
import {
  applyWeightDecay,
  decayVariant,
  firstMoment,
  momentScalars,
  secondMoment,
  validateMoments,
} from './shared.js';

const defaults = {
  /**
   * Step size, default `2e-3`.
   *
   * @defaultValue `2e-3`
   */
  learningRate: 2e-3,
  /**
   * Decay of the first moment and scale of μ, in [0, 1), default `0.9`.
   *
   * @defaultValue `0.9`
   */
  beta1: 0.9,
  /**
   * Decay of the second moment, in [0, 1), default `0.999`.
   *
   * @defaultValue `0.999`
   */
  beta2: 0.999,
  /**
   * Added to the bias-corrected `√v`, > 0, default `1e-8`.
   *
   * @defaultValue `1e-8`
   */
  epsilon: 1e-8,
  /**
   * Weight decay, ≥ 0, default `0`.
   *
   * @defaultValue `0`
   */
  weightDecay: 0,
  /**
   * ψ of the μ schedule, ≥ 0, default `4e-3`.
   *
   * @defaultValue `4e-3`
   */
  momentumDecay: 4e-3,
  /**
   * Decay the weights (`p·(1 − lr·wd)`) instead of adding `wd·p` to the gradient, default `false`.
   *
   * @defaultValue `false`
   */
  decoupledWeightDecay: false,
};

/** Hyperparameters of {@link nadam}. */
export type NAdamDefaults = typeof defaults;
/** Options of {@link nadam}: each numeric one a number or a schedule, plus `paramGroups`. */
export type NAdamOptions = OptimizerOptions<NAdamDefaults>;
/** A NAdam optimizer instance. */
export type NAdam = OptimkitOptimizer<NAdamDefaults>;

/** Dozat's momentum schedule μ_t = β₁·(1 − ½·0.96^(t·ψ)). */
function mu(beta1: number, momentumDecay: number, t: number): number {
  return beta1 * (1 - 0.5 * 0.96 ** (t * momentumDecay));
}

/**
 * Below this, `1 − x` is exactly 1 in float64, so a smaller product changes no coefficient: the
 * series stops growing there and every later product reads as 0.
 */
const NEGLIGIBLE = 2 ** -60;
const MAX_SERIES = 8;
/** Prefix products kept per (β₁, ψ); later steps use the closed form (bounded time and memory). */
const MEMO_STEPS = 4096;

/** Prefix products μ_1···μ_t in float64 per (β₁, ψ), multiplied in order from 1, grown on demand. */
const series = new Map<string, { products: number[]; ended: boolean }>();

/** Σ_{i=1..n} q^i / q = (1 − qⁿ)/(1 − q) for q = e^logQ ≤ 1, accurate as q → 1 (n when q = 1). */
function geometricSum(logQ: number, n: number): number {
  return logQ === 0 ? n : Math.expm1(n * logQ) / Math.expm1(logQ);
}

/**
 * log of μ_{k+1}···μ_t for t > k without a loop over the steps:
 * Σ_i [ln β₁ + ln(1 − ½rⁱ)] with r = 0.96^ψ, and ln(1 − x) = −Σ_j xʲ/j, so that the sum over i is
 * geometric for each j and the series in j converges like 2⁻ʲ.
 */
function logProductTail(beta1: number, momentumDecay: number, k: number, t: number): number {
  const n = t - k;
  const logR = momentumDecay * Math.log(0.96);
  let sum = 0;
  for (let j = 1; j <= 200; j++) {
    const term = (0.5 ** j / j) * Math.exp(j * (k + 1) * logR) * geometricSum(j * logR, n);
    sum -= term;
    if (term <= 1e-17 * Math.abs(sum)) break;
  }
  return n * Math.log(beta1) + sum;
}

/**
 * μ_1···μ_t, as PyTorch's running `mu_product`, but in float64 and rebuilt from the step count, so
 * it needs no extra state and a resumed run gets the same bits. The first {@link MEMO_STEPS}
 * products are multiplied in order and memoized; later ones continue from the last in closed
 * form, so no step count costs more time or memory than that.
 */
export function muProduct(beta1: number, momentumDecay: number, t: number): number {
  const key = `${beta1}:${momentumDecay}`;
  let entry = series.get(key);
  if (!entry) {
    // A scheduled β₁ or ψ makes a new series per value: keep only the most recent few.
    if (series.size >= MAX_SERIES) series.delete(series.keys().next().value!);
    entry = { products: [1], ended: false };
    series.set(key, entry);
  }
  const { products } = entry;
  const target = Math.min(t, MEMO_STEPS);
  while (products.length <= target && !entry.ended) {
    const next = products[products.length - 1]! * mu(beta1, momentumDecay, products.length);
    products.push(next);
    if (next < NEGLIGIBLE) entry.ended = true;
  }
  if (t < products.length) return products[t]!;
  if (entry.ended || beta1 === 0) return 0;
  const k = products.length - 1;
  const product = products[k]! * Math.exp(logProductTail(beta1, momentumDecay, k, t));
  return product < NEGLIGIBLE ? 0 : product;
}

/** The NAdam optimizer class (serialization name `OptimkitNAdam`). */
export const NAdam = /* @__PURE__ */ defineOptimizer({
  className: 'OptimkitNAdam',
  packageName,
  packageVersion,
  defaults,
  validate(h) {
    validateMoments(h);
    checkNonNegative('momentumDecay', h.momentumDecay);
  },
  slots: { expAvg: 0, expAvgSq: 0 },
  nonNegativeSlots: ['expAvgSq'],
  epsilons: ['epsilon'],
  variant: decayVariant,
  scalars(h, step) {
    const muT = mu(h.beta1, h.momentumDecay, step);
    const muNext = mu(h.beta1, h.momentumDecay, step + 1);
    const product = muProduct(h.beta1, h.momentumDecay, step);
    return {
      ...momentScalars(h),
      bias2: 1 - h.beta2 ** step,
      gradCoefficient: (h.learningRate * (1 - muT)) / (1 - product),
      momentumCoefficient: (h.learningRate * muNext) / (1 - product * muNext),
    };
  },
  rule({ param, grad, slots, s, op, v }) {
    const decayed = applyWeightDecay(op, param, grad, s, v.decay, v.decoupledWeightDecay);
    const g = decayed.grad;
    const expAvg = firstMoment(op, slots.expAvg, g, s.oneMinusBeta1);
    const expAvgSq = secondMoment(op, slots.expAvgSq, g, s.beta2, s.oneMinusBeta2);
    const denom = op.add(op.sqrt(op.div(expAvgSq, s.bias2)), s.epsilon);
    const p = op.sub(decayed.param, op.mul(op.div(g, denom), s.gradCoefficient));
    return {
      param: op.sub(p, op.mul(op.div(expAvg, denom), s.momentumCoefficient)),
      slots: { expAvg, expAvgSq },
    };
  },
});

/**
 * NAdam, Adam with Nesterov momentum and Dozat's momentum-decay schedule, exactly as PyTorch's
 * `torch.optim.NAdam` (optionally with decoupled weight decay, "NAdamW").
 *
 * Update rule, for a gradient `g` of parameter `p` on this variable's `t`-th update
 * (`t` = 1 on its first), with ψ = momentumDecay:
 * ```
 * p ← p · (1 − learningRate · weightDecay)    if decoupledWeightDecay
 * g ← g + weightDecay · p                     otherwise            (both skipped when 0)
 * μ_t = β₁ · (1 − ½ · 0.96^(t·ψ)),   μ_{t+1} = β₁ · (1 − ½ · 0.96^((t+1)·ψ))
 * Π_t = μ_1 · μ_2 ··· μ_t
 * m ← β₁ · m + (1 − β₁) · g
 * v ← β₂ · v + (1 − β₂) · g²
 * d = √(v / (1 − β₂ᵗ)) + epsilon
 * p ← p − learningRate · (1 − μ_t) / (1 − Π_t) · g / d
 *       − learningRate · μ_{t+1} / (1 − Π_t · μ_{t+1}) · m / d
 * ```
 * With `momentumDecay: 0`, μ is the constant β₁/2 and Π_t = (β₁/2)ᵗ.
 *
 * PyTorch keeps Π_t (`mu_product`) as a float32 tensor per parameter that it multiplies each step.
 * Here it is recomputed in float64 from the variable's step count (multiplied in order and memoized
 * for the first 4096 steps, then in closed form, so no step count costs more; once Π_t < 2⁻⁶⁰,
 * about 60 steps with the default ψ, it no longer changes any coefficient and reads as 0), which
 * needs no extra slot, is exact to float64 and makes a resumed run bit-identical. The price: with a scheduled `beta1` or `momentumDecay`, Π_t
 * uses the current values for every past step, where PyTorch multiplies in each step's μ.
 *
 * @param options.learningRate Step size, default `2e-3`.
 * @param options.beta1 Decay of the first moment and scale of μ, in [0, 1), default `0.9`.
 * @param options.beta2 Decay of the second moment, in [0, 1), default `0.999`.
 * @param options.epsilon Added to the bias-corrected `√v`, > 0, default `1e-8`.
 * @param options.weightDecay Weight decay, ≥ 0, default `0`.
 * @param options.momentumDecay ψ of the μ schedule, ≥ 0, default `4e-3`.
 * @param options.decoupledWeightDecay Decay the weights (`p·(1 − lr·wd)`) instead of adding
 *   `wd·p` to the gradient, default `false`.
 * @param options.paramGroups Per-variable overrides of any of the above.
 *
 * Paper: Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop. This is not
 * Optax's `nadam`, which has a constant β₁ and no μ schedule. `tf.train` has no NAdam.
 *
 * @example
 * ```ts
 * import { nadam } from '@optimkit/adam';
 * const optimizer = nadam({ learningRate: 2e-3, weightDecay: 1e-2, decoupledWeightDecay: true });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * ```
 */
export function nadam(options: NAdamOptions = {}): NAdam {
  return new NAdam(options);
}
