/**
 * Axis scales for the report's charts: "nice" linear ticks (steps of 1, 2 or 5 times a power of
 * ten) and log ticks (powers of ten, with 2 and 5 in between when the range is short).
 */

export interface Scale {
  /** Data value -> pixel position. */
  map(value: number): number;
  ticks: number[];
  domain: [number, number];
  log: boolean;
}

/** [min, max] without spreading (safe for arrays of any length); null when empty. */
export function extent(values: number[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Rounds away binary noise: 0.1 + 0.2 -> 0.3. */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const factor = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return factor * magnitude;
}

/** Nice ticks covering [lo, hi]; the first and last tick bracket the data. */
export function linearTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) / 2;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const first = Math.floor(clean(lo / step)) * step;
  const last = Math.ceil(clean(hi / step)) * step;
  const ticks: number[] = [];
  for (let i = 0; first + i * step <= last + step * 1e-9 && i < 100; i++) ticks.push(clean(first + i * step));
  return ticks;
}

/** Ticks for a log axis over [lo, hi] (both > 0), all inside the range. */
export function logTicks(lo: number, hi: number): number[] {
  const e0 = Math.floor(Math.log10(lo));
  const e1 = Math.ceil(Math.log10(hi));
  const decades = e1 - e0;
  const multipliers = decades <= 1 ? [1, 2, 3, 5] : decades <= 3 ? [1, 2, 5] : [1];
  const every = Math.max(1, Math.ceil(decades / 8));
  const inside = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e++) {
    if ((e - e0) % every !== 0) continue;
    for (const m of multipliers) {
      const v = clean(m * 10 ** e);
      if (inside(v)) ticks.push(v);
    }
  }
  if (ticks.length >= 2) return ticks;
  // Less than a decade and no round number inside: fall back to linear steps inside the range.
  return linearTicks(lo, hi, 4).filter((v) => v > 0 && inside(v));
}

export function linearScale(domain: [number, number], range: [number, number], ticks: number[]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return { map: (v) => r0 + ((v - d0) / span) * (r1 - r0), ticks, domain, log: false };
}

export function logScale(domain: [number, number], range: [number, number], ticks: number[]): Scale {
  const l0 = Math.log10(domain[0]);
  const l1 = Math.log10(domain[1]);
  const span = l1 - l0 || 1;
  const [r0, r1] = range;
  return { map: (v) => r0 + ((Math.log10(v) - l0) / span) * (r1 - r0), ticks, domain, log: true };
}

/** A value axis over data values: nice-rounded ends (linear), or a padded positive range (log). */
export function valueScale(
  values: number[],
  range: [number, number],
  opts: { log?: boolean; includeZero?: boolean; bars?: boolean },
): Scale | null {
  if (opts.log) {
    const positive = values.filter((v) => v > 0 && Number.isFinite(v));
    const range0 = extent(positive);
    if (!range0) return null;
    let [lo, hi] = range0;
    if (opts.bars) {
      // Bars grow from the bottom: start below the smallest bar so that it stays visible.
      lo = Math.min(10 ** Math.floor(Math.log10(lo)), lo / 2);
      hi = hi * 1.25;
    } else {
      const pad = Math.max(Math.log10(hi / lo) * 0.05, 0.05);
      lo = lo / 10 ** pad;
      hi = hi * 10 ** pad;
    }
    return logScale([lo, hi], range, logTicks(lo, hi));
  }
  const finite = values.filter((v) => Number.isFinite(v));
  const range0 = extent(finite);
  if (!range0) return null;
  let [lo, hi] = range0;
  if (opts.includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
    if (lo === 0 && hi === 0) hi = 1; // all zero: an axis from 0 up, not around 0
  }
  const ticks = linearTicks(lo, hi);
  return linearScale([ticks[0], ticks[ticks.length - 1]], range, ticks);
}
