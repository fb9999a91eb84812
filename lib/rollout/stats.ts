/**
 * The statistics a rollout decides with: normal CDF and quantile, Wilson score intervals, the
 * two-proportion z-test and Holm's step-down correction. Pure and deterministic.
 *
 * Why these: acceptance is a binomial outcome per viewed completion, the arms are independent
 * samples, and a rollout window holds hundreds to thousands of views per arm, where the normal
 * approximation behind the z-test is accurate and cheap enough to recompute at every step (a
 * bootstrap would need randomness and thousands of resamples per language for the same answer).
 * Wilson's interval instead of the Wald one: it stays inside [0, 1] and keeps its coverage for
 * small counts and rates near 0 or 1, where a canary's first window lives.
 */

/** Standard normal CDF, through erfc below. */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  return 0.5 * erfc(-z / Math.SQRT2);
}

// Numerical Recipes' erfc (Chebyshev fit), fractional error < 1.2e-7 everywhere.
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

// Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

/** The p-quantile of the standard normal distribution, 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`Expected a probability in (0, 1), got ${p}`);
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0]! * q + C[1]!) * q + C[2]!) * q + C[3]!) * q + C[4]!) * q + C[5]!) / ((((D[0]! * q + D[1]!) * q + D[2]!) * q + D[3]!) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0]! * r + A[1]!) * r + A[2]!) * r + A[3]!) * r + A[4]!) * r + A[5]!) * q) / (((((B[0]! * r + B[1]!) * r + B[2]!) * r + B[3]!) * r + B[4]!) * r + 1);
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for `successes` out of `trials` at confidence `level` (two-sided). */
export function wilsonInterval(successes: number, trials: number, level = 0.95): Interval {
  if (trials <= 0) return { low: 0, high: 1 };
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface ZTest {
  /** Candidate rate minus production rate. */
  diff: number;
  /** (candidate - production) / pooled standard error: > 0 when the candidate does better. */
  z: number;
  /** One-sided p-value of "the candidate is worse" (small when it clearly is). */
  pWorse: number;
  /** One-sided p-value of "the candidate is better". */
  pBetter: number;
}

/** Pooled two-proportion z-test of candidate (k1 of n1) against production (k2 of n2). */
export function twoProportionZTest(k1: number, n1: number, k2: number, n2: number): ZTest {
  if (n1 <= 0 || n2 <= 0) return { diff: 0, z: 0, pWorse: 1, pBetter: 1 };
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const pooled = (k1 + k2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  // Both arms all-accept or all-reject: no evidence of a difference either way.
  if (se === 0) return { diff: p1 - p2, z: 0, pWorse: 1, pBetter: 1 };
  const z = (p1 - p2) / se;
  return { diff: p1 - p2, z, pWorse: normalCdf(z), pBetter: 1 - normalCdf(z) };
}

/**
 * Holm's step-down procedure: which hypotheses to reject at family-wise error rate `alpha`.
 * Uniformly more powerful than Bonferroni and valid under any dependence between the tests
 * (languages share users, so independence is not assumed).
 */
export function holmReject(pValues: number[], alpha: number): boolean[] {
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const reject = pValues.map(() => false);
  const m = pValues.length;
  for (let rank = 0; rank < m; rank++) {
    const { p, i } = order[rank]!;
    if (p > alpha / (m - rank)) break;
    reject[i] = true;
  }
  return reject;
}
