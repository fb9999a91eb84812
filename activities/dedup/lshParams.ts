/**
 * LSH bands and rows chosen like datasketch's `_optimal_param` (and BigCode's copy of it): over
 * every b in 1..numPerm and r in 1..floor(numPerm / b), the pair minimising
 *   fpWeight * integral_0^t (1 - (1 - s^r)^b) ds + fnWeight * integral_t^1 (1 - s^r)^b ds,
 * the first minimum in that loop order. datasketch integrates with scipy's QUADPACK; the
 * integrands are smooth polynomials in s, so composite Gauss-Legendre on many panels gives the
 * same values to ~1e-12, far below the gaps between candidates.
 */

// 8-point Gauss-Legendre nodes and weights on [-1, 1].
const GL_X = [0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363];
const GL_W = [0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763];
const PANELS = 64;

export function integrate(f: (s: number) => number, from: number, to: number): number {
  if (to <= from) return 0;
  const width = (to - from) / PANELS;
  let sum = 0;
  for (let p = 0; p < PANELS; p++) {
    const mid = from + (p + 0.5) * width;
    const half = width / 2;
    for (let k = 0; k < 4; k++) sum += GL_W[k]! * half * (f(mid - half * GL_X[k]!) + f(mid + half * GL_X[k]!));
  }
  return sum;
}

export function falsePositiveProbability(threshold: number, bands: number, rows: number): number {
  return integrate((s) => 1 - (1 - s ** rows) ** bands, 0, threshold);
}

export function falseNegativeProbability(threshold: number, bands: number, rows: number): number {
  return integrate((s) => (1 - s ** rows) ** bands, threshold, 1);
}

export function optimalBandsRows(threshold: number, numPerm: number, fpWeight = 0.5, fnWeight = 0.5): { bands: number; rows: number } {
  let best = Infinity;
  let opt = { bands: 0, rows: 0 };
  for (let b = 1; b <= numPerm; b++) {
    const maxR = Math.floor(numPerm / b);
    for (let r = 1; r <= maxR; r++) {
      const error = fpWeight * falsePositiveProbability(threshold, b, r) + fnWeight * falseNegativeProbability(threshold, b, r);
      if (error < best) {
        best = error;
        opt = { bands: b, rows: r };
      }
    }
  }
  return opt;
}
