/**
 * The frame every chart shares: palette, margins, title, axes with tick labels, legend, and
 * the "no data" placeholder. Internal to lib/report (svg.ts draws the data on top).
 */
import { formatSi } from './format.js';
import { escapeHtml as esc } from './html.js';
import type { Scale } from './scales.js';

/** Size of a chart (svg.ts re-exports it with the chart options that extend it). */
export interface ChartSize {
  /** Pixels; default 720 x 360. */
  width?: number;
  height?: number;
}

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#000000', '#999999'];
export const BAR_COLOR = '#0072b2';
export const GRID = '#e6e9ed';
export const AXIS = '#59636e';
export const TEXT = '#1f2328';
export const CHAR_WIDTH = 6.6; // average advance of a 12 px sans-serif glyph, for layout estimates
export const MAX_LABEL_CHARS = 18;

/** Pixel coordinates with two decimals at most, and never "-0". */
export function px(value: number): string {
  const r = Math.round(value * 100) / 100;
  return String(r === 0 ? 0 : r);
}

export function truncate(label: string, max = MAX_LABEL_CHARS): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : chars.slice(0, max - 1).join('') + '…';
}

export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export function tickLabel(value: number): string {
  return formatSi(value);
}

export function leftMargin(yTicks: number[]): number {
  const longest = Math.max(1, ...yTicks.map((t) => tickLabel(t).length));
  return Math.round(30 + longest * CHAR_WIDTH + 8);
}

export function open(frame: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}" role="img" aria-label="${esc(title)}" font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" font-size="12" fill="${TEXT}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${frame.width}" height="${frame.height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
  ];
}

export function yAxis(frame: Frame, scale: Scale, label: string): string[] {
  const out: string[] = [];
  const x0 = frame.left;
  const x1 = frame.width - frame.right;
  for (const t of scale.ticks) {
    const y = px(scale.map(t));
    out.push(`<line x1="${px(x0)}" x2="${px(x1)}" y1="${y}" y2="${y}" stroke="${GRID}"/>`);
    out.push(`<text x="${px(x0 - 6)}" y="${y}" dy="0.32em" text-anchor="end" fill="${AXIS}">${esc(tickLabel(t))}</text>`);
  }
  const mid = px((frame.top + frame.height - frame.bottom) / 2);
  out.push(`<text x="14" y="${mid}" transform="rotate(-90 14 ${mid})" text-anchor="middle" fill="${AXIS}">${esc(label)}${scale.log ? ' (log)' : ''}</text>`);
  return out;
}

export function xAxisLine(frame: Frame): string {
  const y = px(frame.height - frame.bottom);
  return `<line x1="${px(frame.left)}" x2="${px(frame.width - frame.right)}" y1="${y}" y2="${y}" stroke="${AXIS}"/>`;
}

export function xTicks(frame: Frame, scale: Scale): string[] {
  const y = frame.height - frame.bottom;
  return scale.ticks.flatMap((t) => {
    const x = px(scale.map(t));
    return [
      `<line x1="${x}" x2="${x}" y1="${px(y)}" y2="${px(y + 5)}" stroke="${AXIS}"/>`,
      `<text x="${x}" y="${px(y + 18)}" text-anchor="middle" fill="${AXIS}">${esc(tickLabel(t))}</text>`,
    ];
  });
}

export function xLabelText(frame: Frame, label: string, log: boolean): string {
  const x = px((frame.left + frame.width - frame.right) / 2);
  return `<text x="${x}" y="${px(frame.height - 8)}" text-anchor="middle" fill="${AXIS}">${esc(label)}${log ? ' (log)' : ''}</text>`;
}

export function noData(frame: Frame): string {
  const x = px((frame.left + frame.width - frame.right) / 2);
  const y = px((frame.top + frame.height - frame.bottom) / 2);
  return `<text x="${x}" y="${y}" text-anchor="middle" fill="${AXIS}" font-style="italic">no data</text>`;
}

/** Legend entries laid out left to right, wrapping; returns the SVG and the rows used. */
export function legend(names: string[], left: number, maxWidth: number, top: number): { svg: string[]; rows: number } {
  const svg: string[] = [];
  let x = left;
  let row = 0;
  names.forEach((name, i) => {
    const text = truncate(name, 32);
    const w = 16 + Array.from(text).length * CHAR_WIDTH + 16;
    if (x > left && x + w > left + maxWidth) {
      row++;
      x = left;
    }
    const y = top + row * 18;
    svg.push(`<rect x="${px(x)}" y="${px(y - 9)}" width="12" height="4" rx="1" fill="${PALETTE[i % PALETTE.length]}"/>`);
    svg.push(`<text x="${px(x + 16)}" y="${px(y)}" dy="-0.1em">${esc(text)}</text>`);
    x += w;
  });
  return { svg, rows: names.length ? row + 1 : 0 };
}

export function size(opts: ChartSize): { width: number; height: number } {
  return { width: Math.max(240, Math.round(opts.width ?? 720)), height: Math.max(180, Math.round(opts.height ?? 360)) };
}
