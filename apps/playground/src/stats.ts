/** The statistics of the report: means and spreads over seeds, and runs that coincide. */

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The sample standard deviation (n − 1); NaN for fewer than two values. */
export function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

export interface Summary {
  mean: number;
  std: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  return { mean: mean(values), std: standardDeviation(values), n: values.length };
}

/** `mean ± std` with `digits` decimals (`mean` alone for one value), after scaling by `scale`. */
export function formatSummary(s: Summary, digits: number, scale = 1, unit = ''): string {
  if (!Number.isFinite(s.mean)) return 'n/a';
  const m = (s.mean * scale).toFixed(digits);
  return Number.isFinite(s.std) ? `${m} ± ${(s.std * scale).toFixed(digits)}${unit}` : `${m}${unit}`;
}

/**
 * The standard error of a mean test accuracy: over seeds when there are several, else the binomial
 * error of one run on `testCount` digits, √(p(1 − p)/n).
 */
export function accuracyStandardError(s: Summary, testCount: number): number {
  if (s.n >= 2 && Number.isFinite(s.std)) return s.std / Math.sqrt(s.n);
  return Math.sqrt((s.mean * (1 - s.mean)) / testCount);
}

/**
 * Whether `a` is within noise of `best`: their difference is less than twice the standard error of
 * the difference (about a 95 % interval for independent means).
 */
export function withinNoise(best: Summary, a: Summary, testCount: number): boolean {
  const se = Math.hypot(accuracyStandardError(best, testCount), accuracyStandardError(a, testCount));
  return best.mean - a.mean <= 2 * se;
}

/** A named series, for {@link coinciding}. */
export interface Series {
  name: string;
  values: readonly number[];
}

/** The largest relative difference of two series (Infinity if their lengths differ or one is not finite). */
export function maxRelativeDifference(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return Number.POSITIVE_INFINITY;
    worst = Math.max(worst, Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y), 1e-12));
  }
  return worst;
}

/**
 * Groups of series that coincide: each series joins the first group whose first member differs
 * from it by at most `tolerance` (by `difference`: the largest relative difference at any point). Only groups of two or more are
 * returned, each with the largest difference measured inside it.
 */
export function coinciding(
  series: readonly Series[],
  tolerance: number,
  difference: (a: readonly number[], b: readonly number[]) => number = maxRelativeDifference,
): { names: string[]; maxDifference: number }[] {
  const groups: { head: Series; names: string[]; maxDifference: number }[] = [];
  for (const s of series) {
    let joined = false;
    for (const g of groups) {
      const d = difference(g.head.values, s.values);
      if (d <= tolerance) {
        g.names.push(s.name);
        g.maxDifference = Math.max(g.maxDifference, d);
        joined = true;
        break;
      }
    }
    if (!joined) groups.push({ head: s, names: [s.name], maxDifference: 0 });
  }
  return groups
    .filter((g) => g.names.length > 1)
    .map(({ names, maxDifference }) => ({ names, maxDifference }));
}

/** Bytes for people: `n B` below 1 KiB, else KiB with one decimal; `n/a` when not measured. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (bytes < 1024) return `${bytes} B`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
