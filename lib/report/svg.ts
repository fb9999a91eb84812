/**
 * Charts as standalone SVG strings for kiln's HTML reports: line charts, bar charts and
 * histograms with readable axes (nice ticks, SI suffixes), legends and optional log scales.
 * Pure and deterministic: the same input gives the same bytes (fixed palette, fixed rounding,
 * no ids, no clocks). All text is escaped; non-finite values (and non-positive ones on a log
 * axis) are left out rather than drawn wrong.
 */
import { BAR_COLOR, leftMargin, legend, noData, open, PALETTE, px, size, truncate, xAxisLine, xLabelText, xTicks, yAxis, AXIS, CHAR_WIDTH, type ChartSize, type Frame } from './chartFrame.js';
import { formatSi } from './format.js';
import { escapeHtml as esc } from './html.js';
import { extent, linearScale, linearTicks, logScale, logTicks, valueScale, type Scale } from './scales.js';

export type { ChartSize };

export interface LineChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
  logY?: boolean;
}

export interface BarChartOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  bars: { label: string; value: number }[];
  logY?: boolean;
}

export interface HistogramOptions extends ChartSize {
  title: string;
  xLabel: string;
  yLabel: string;
  bins: { from: number; to: number; count: number }[];
  logX?: boolean;
  logY?: boolean;
}

/**
 * Long series keep, per pixel column, the first, lowest, highest and last point: the drawing
 * looks the same (spikes stay) and the SVG stays small.
 */
function thinToPixels(points: [number, number][], x: Scale): [number, number][] {
  if (points.length <= 2000) return points;
  const out: [number, number][] = [];
  let column = NaN;
  let group: [number, number][] = [];
  const flush = () => {
    if (!group.length) return;
    let lo = group[0];
    let hi = group[0];
    for (const p of group) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    const keep = new Set([group[0], lo, hi, group[group.length - 1]]);
    for (const p of group) if (keep.has(p)) out.push(p);
    group = [];
  };
  for (const p of points) {
    const c = Math.round(x.map(p[0]));
    if (c !== column) {
      flush();
      column = c;
    }
    group.push(p);
  }
  flush();
  return out;
}

/** A linear x axis over [lo, hi], widened to nice ticks about 90 px apart. */
function linearXScale(lo: number, hi: number, range: [number, number]): Scale {
  const ticks = linearTicks(lo, hi, Math.max(3, Math.floor((range[1] - range[0]) / 90)));
  return linearScale([ticks[0], ticks[ticks.length - 1]], range, ticks);
}

/** Lines through (x, y) points, one per series, sorted by x; gaps where a value can't be drawn. */
export function lineChart(opts: LineChartOptions): string {
  const { width, height } = size(opts);
  const names = opts.series.map((s) => s.name);
  const drawable = (p: [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!opts.logY || p[1] > 0);
  const points = opts.series.flatMap((s) => s.points.filter(drawable));
  // The legend spans the chart's width under the title, so its rows are known before the axes.
  const legendOut = legend(names, 12, width - 24, 44);
  const frame: Frame = { width, height, left: 60, right: 20, top: 34 + legendOut.rows * 18 + (legendOut.rows ? 6 : 0), bottom: 44 };
  const range: [number, number] = [height - frame.bottom, frame.top];
  const y = valueScale(points.map((p) => p[1]), range, { log: opts.logY });
  if (y) frame.left = leftMargin(y.ticks);
  const out = open(frame, opts.title);
  out.push(...legendOut.svg);
  if (!y || points.length === 0) {
    out.push(xAxisLine(frame), noData(frame), xLabelText(frame, opts.xLabel, false), '</svg>');
    return out.join('\n');
  }
  const [xMin, xMax] = extent(points.map((p) => p[0]))!;
  const x = linearXScale(xMin, xMax, [frame.left, width - frame.right]);
  out.push(...yAxis(frame, y, opts.yLabel), xAxisLine(frame), ...xTicks(frame, x), xLabelText(frame, opts.xLabel, false));
  opts.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length];
    const sorted = series.points.map((p, k) => ({ p, k })).sort((a, b) => a.p[0] - b.p[0] || a.k - b.k).map((e) => e.p);
    const segments: [number, number][][] = [[]];
    for (const p of sorted) {
      if (drawable(p)) segments[segments.length - 1].push(p);
      else if (segments[segments.length - 1].length) segments.push([]);
    }
    for (let s = 0; s < segments.length; s++) segments[s] = thinToPixels(segments[s], x);
    const markers = sorted.length <= 30;
    out.push(`<g fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"><title>${esc(series.name)}</title>`);
    for (const seg of segments) {
      if (seg.length > 1) out.push(`<path d="${seg.map((p, k) => `${k ? 'L' : 'M'}${px(x.map(p[0]))} ${px(y.map(p[1]))}`).join(' ')}"/>`);
      if (seg.length === 1 || markers) {
        for (const p of seg) out.push(`<circle cx="${px(x.map(p[0]))}" cy="${px(y.map(p[1]))}" r="2.5" fill="${color}" stroke="none"/>`);
      }
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

/** One bar per label, in the given order; value labels on top when there are few bars. */
export function barChart(opts: BarChartOptions): string {
  const { width, height } = size(opts);
  const bars = opts.bars;
  const n = bars.length;
  const plotGuess = width - 80;
  const band = n ? plotGuess / n : plotGuess;
  const labels = bars.map((b) => truncate(b.label));
  const longest = Math.max(1, ...labels.map((l) => Array.from(l).length));
  const rotate = longest * CHAR_WIDTH > band - 4;
  const bottom = rotate ? Math.round(40 + longest * CHAR_WIDTH * 0.72) : 48;
  const frame: Frame = { width, height, left: 60, right: 20, top: 36, bottom };
  const range: [number, number] = [height - bottom, frame.top];
  const values = bars.map((b) => b.value);
  const y = valueScale(values, range, { log: opts.logY, includeZero: !opts.logY, bars: true });
  if (y) frame.left = leftMargin(y.ticks);
  const out = open(frame, opts.title);
  if (!y || n === 0) {
    out.push(xAxisLine(frame), noData(frame), xLabelText(frame, opts.xLabel, false), '</svg>');
    return out.join('\n');
  }
  out.push(...yAxis(frame, y, opts.yLabel));
  const plotWidth = width - frame.left - frame.right;
  const step = plotWidth / n;
  const barWidth = Math.max(1, step * 0.78);
  const base = opts.logY ? height - bottom : y.map(0);
  const labelEvery = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotWidth / 14))));
  bars.forEach((bar, i) => {
    const cx = frame.left + step * (i + 0.5);
    const drawn = Number.isFinite(bar.value) && (!opts.logY || bar.value > 0);
    if (drawn) {
      const top = y.map(bar.value);
      const y0 = Math.min(top, base);
      const h = Math.abs(base - top);
      out.push(`<rect x="${px(cx - barWidth / 2)}" y="${px(y0)}" width="${px(barWidth)}" height="${px(h)}" fill="${BAR_COLOR}"><title>${esc(bar.label)}: ${esc(formatSi(bar.value, 4))}</title></rect>`);
      if (n <= 16) out.push(`<text x="${px(cx)}" y="${px(y0 - 4)}" text-anchor="middle" font-size="11" fill="${AXIS}">${esc(formatSi(bar.value))}</text>`);
    }
    if (i % labelEvery !== 0) return;
    const ly = height - bottom + 16;
    if (rotate) {
      out.push(`<text x="${px(cx)}" y="${px(ly)}" transform="rotate(-40 ${px(cx)} ${px(ly)})" text-anchor="end">${esc(labels[i])}</text>`);
    } else {
      out.push(`<text x="${px(cx)}" y="${px(ly)}" text-anchor="middle">${esc(labels[i])}</text>`);
    }
  });
  out.push(xAxisLine(frame), xLabelText(frame, opts.xLabel, false), '</svg>');
  return out.join('\n');
}

/** Bins drawn at their true [from, to) extent; on a log x axis, bins starting at 0 or below are clamped. */
export function histogram(opts: HistogramOptions): string {
  const { width, height } = size(opts);
  const frame: Frame = { width, height, left: 60, right: 20, top: 36, bottom: 48 };
  const range: [number, number] = [height - frame.bottom, frame.top];
  let bins = opts.bins.filter((b) => Number.isFinite(b.from) && Number.isFinite(b.to) && Number.isFinite(b.count) && b.to > b.from);
  if (opts.logX) {
    bins = bins.filter((b) => b.to > 0);
    const floor = extent(bins.map((b) => (b.from > 0 ? b.from : b.to / 2)))?.[0] ?? 1;
    bins = bins.map((b) => ({ ...b, from: Math.max(b.from, floor) }));
  }
  const y = valueScale(bins.map((b) => b.count), range, { log: opts.logY, includeZero: !opts.logY, bars: true });
  if (y) frame.left = leftMargin(y.ticks);
  const out = open(frame, opts.title);
  if (!y || bins.length === 0) {
    out.push(xAxisLine(frame), noData(frame), xLabelText(frame, opts.xLabel, !!opts.logX), '</svg>');
    return out.join('\n');
  }
  const lo = extent(bins.map((b) => b.from))![0];
  const hi = extent(bins.map((b) => b.to))![1];
  const xRange: [number, number] = [frame.left, width - frame.right];
  const x = opts.logX ? logScale([lo, hi], xRange, logTicks(lo, hi)) : linearXScale(lo, hi, xRange);
  out.push(...yAxis(frame, y, opts.yLabel));
  const base = opts.logY ? height - frame.bottom : y.map(0);
  for (const bin of bins) {
    if (opts.logY && bin.count <= 0) continue;
    const x0 = x.map(bin.from);
    const x1 = x.map(bin.to);
    const top = y.map(bin.count);
    const tip = `${formatSi(bin.from, 4)}–${formatSi(bin.to, 4)}: ${formatSi(bin.count, 6)}`;
    out.push(`<rect x="${px(x0)}" y="${px(Math.min(top, base))}" width="${px(Math.max(0.5, x1 - x0))}" height="${px(Math.abs(base - top))}" fill="${BAR_COLOR}" stroke="#ffffff" stroke-width="0.5"><title>${esc(tip)}</title></rect>`);
  }
  out.push(xAxisLine(frame), ...xTicks(frame, x), xLabelText(frame, opts.xLabel, !!opts.logX), '</svg>');
  return out.join('\n');
}
