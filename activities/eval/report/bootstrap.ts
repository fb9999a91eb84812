/**
 * 95% intervals for a mean over problems by the percentile bootstrap: resample the problems with
 * replacement `resamples` times and take the 2.5th and 97.5th percentiles of the resampled means.
 * Seeded (mulberry32), so the same results give the same interval on every run and machine.
 */
import { mulberry32 } from '../../../lib/random.js';

/** The seeded PRNG of the intervals (mulberry32). */
export const seededRandom = mulberry32;

export interface Interval {
  low: number;
  high: number;
}

/** The value at fraction q of sorted values (linear interpolation between neighbours). */
function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** The percentile-bootstrap interval of the mean of `values` (one value per problem). */
export function bootstrapInterval(values: number[], opts: { resamples: number; seed: number; level?: number }): Interval {
  if (values.length === 0) return { low: 0, high: 0 };
  if (!Number.isInteger(opts.resamples) || opts.resamples < 1) throw new RangeError(`Expected \`resamples\` to be a positive integer, got \`${opts.resamples}\`.`);
  const level = opts.level ?? 0.95;
  const random = seededRandom(opts.seed);
  const means: number[] = [];
  for (let r = 0; r < opts.resamples; r++) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(random() * values.length)]!;
    means.push(sum / values.length);
  }
  means.sort((a, b) => a - b);
  return { low: quantile(means, (1 - level) / 2), high: quantile(means, 1 - (1 - level) / 2) };
}
