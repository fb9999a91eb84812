/**
 * A streaming distribution of non-negative values in log-spaced buckets: constant memory for
 * any number of values, long tails kept. Quantiles are read from the buckets (within about 3%
 * of the true value: 40 buckets per decade); count, min, max and mean are exact.
 */

const FINE_PER_DECADE = 40;
const ZERO = -Infinity; // bucket of values <= 0

export interface DistributionSummary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface Bin {
  from: number;
  to: number;
  count: number;
}

export class LogDistribution {
  private buckets = new Map<number, number>();
  count = 0;
  min = Infinity;
  max = -Infinity;
  private sum = 0;

  /** Adds one value; null, NaN and infinities are ignored (the caller counts them if it cares). */
  add(value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    const key = value <= 0 ? ZERO : Math.floor(Math.log10(value) * FINE_PER_DECADE + 1e-9);
    this.buckets.set(key, (this.buckets.get(key) ?? 0) + 1);
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  merge(other: LogDistribution): void {
    for (const [k, n] of other.buckets) this.buckets.set(k, (this.buckets.get(k) ?? 0) + n);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  private sortedKeys(): number[] {
    return [...this.buckets.keys()].sort((a, b) => a - b);
  }

  /** The q-quantile (0..1): the geometric middle of its bucket, kept within [min, max]. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    if (q >= 1) return this.max;
    const rank = Math.floor(q * (this.count - 1)); // 0-based rank of the value wanted
    let seen = 0;
    for (const key of this.sortedKeys()) {
      seen += this.buckets.get(key)!;
      if (seen > rank) {
        if (key === ZERO) return Math.min(this.min, 0);
        const mid = 10 ** ((key + 0.5) / FINE_PER_DECADE);
        return Math.min(this.max, Math.max(this.min, Number(mid.toPrecision(3))));
      }
    }
    return this.max;
  }

  summary(): DistributionSummary {
    const empty = this.count === 0;
    return {
      count: this.count,
      min: empty ? null : this.min,
      max: empty ? null : this.max,
      mean: empty ? null : Number((this.sum / this.count).toPrecision(6)),
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
    };
  }

  /**
   * Display bins, `perDecade` to a decade (aligned on powers of ten), from the lowest to the
   * highest non-empty one (empty ones in between included, so gaps show). Values <= 0 go to a
   * bin [0, first edge).
   */
  bins(perDecade = 5): Bin[] {
    if (this.count === 0) return [];
    const ratio = FINE_PER_DECADE / perDecade;
    const coarse = new Map<number, number>();
    let zeros = 0;
    for (const [key, n] of this.buckets) {
      if (key === ZERO) zeros += n;
      else coarse.set(Math.floor(key / ratio), (coarse.get(Math.floor(key / ratio)) ?? 0) + n);
    }
    const edge = (j: number) => Number((10 ** (j / perDecade)).toPrecision(6));
    const keys = [...coarse.keys()].sort((a, b) => a - b);
    const out: Bin[] = [];
    if (keys.length) {
      for (let j = keys[0]; j <= keys[keys.length - 1]; j++) out.push({ from: edge(j), to: edge(j + 1), count: coarse.get(j) ?? 0 });
    }
    if (zeros) out.unshift({ from: 0, to: out.length ? out[0].from : 1, count: zeros });
    return out;
  }
}
