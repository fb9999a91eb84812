/**
 * StarCoder's basic data filters, datatrove-style: each filter looks at one document and
 * returns 'keep' or the reason it drops it. The line statistics are recomputed from `content`
 * exactly as The Stack computes them in Python: `content.splitlines()`, `len()` in code points,
 * `str.isalnum()` per code point.
 */
import { findGeneratedMarker } from './generated.js';

export const DROP_REASONS = ['avg_line_length', 'max_line_length', 'alphanum_fraction', 'auto_generated'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type Verdict = 'keep' | DropReason;

/** The clean section of the config (configs/schema.json), every field resolved. */
export interface CleanParams {
  /** Drop when the mean line length (code points) is above this; default 100. */
  maxAvgLineLength: number;
  /** Drop when the longest line (code points) is above this; default 1000. */
  maxLineLength: number;
  /** Drop when the share of alphanumeric code points is below this; default 0.25. */
  minAlphanumFraction: number;
  /** First lines searched for auto-generated markers; 0 disables; default 5. */
  generatedMarkerLines: number;
  /** Replace e-mails, IP addresses, keys and passwords in kept documents; default true. */
  redactPii: boolean;
}

export const DEFAULT_CLEAN_PARAMS: CleanParams = {
  maxAvgLineLength: 100,
  maxLineLength: 1000,
  minAlphanumFraction: 0.25,
  generatedMarkerLines: 5,
  redactPii: true,
};

export interface LineStats {
  /** Mean of len(line) over content.splitlines(); 0 when there is no line. */
  avgLineLength: number;
  /** Max of len(line) over content.splitlines(); 0 when there is no line. */
  maxLineLength: number;
  /** Share of code points with str.isalnum(); 0 for empty content. */
  alphanumFraction: number;
}

export interface CleanDoc {
  content: string;
  stats: LineStats;
}

// ---------------------------------------------------------------------------------------------
// Python semantics

/** Line boundaries of Python's str.splitlines (\r\n counts as one). */
export function isLineBoundary(code: number): boolean {
  return (
    code === 0x0a || code === 0x0d || code === 0x0b || code === 0x0c ||
    code === 0x1c || code === 0x1d || code === 0x1e || code === 0x85 ||
    code === 0x2028 || code === 0x2029
  );
}

/** Python's `text.splitlines()[:limit]`. */
export function firstLines(text: string, limit = Infinity): string[] {
  const lines: string[] = [];
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n && lines.length < limit; i++) {
    const c = text.charCodeAt(i);
    if (!isLineBoundary(c)) continue;
    lines.push(text.slice(start, i));
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
    start = i + 1;
  }
  if (start < n && lines.length < limit) lines.push(text.slice(start));
  return lines;
}

/** Python's `text.splitlines()`. */
export function splitlines(text: string): string[] {
  return firstLines(text);
}

const ALNUM_PATTERN = /^[\p{L}\p{N}]$/u;
/** isalnum for every BMP code unit, computed once (\p{L} = isalpha, \p{N} = isnumeric). */
const BMP_ALNUM = (() => {
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (ALNUM_PATTERN.test(String.fromCharCode(c))) table[c] = 1;
  }
  return table;
})();

/** Python's str.isalnum() for one code point. */
export function isAlnumCodePoint(cp: number): boolean {
  if (cp < 0x10000) return BMP_ALNUM[cp] === 1;
  return ALNUM_PATTERN.test(String.fromCodePoint(cp));
}

/** avg_line_length, max_line_length and alphanum_fraction of `content`, in one pass. */
export function computeLineStats(content: string): LineStats {
  const n = content.length;
  let codePoints = 0;
  let alnum = 0;
  let lines = 0;
  let lineSum = 0;
  let lineMax = 0;
  let lineLen = 0; // code points in the current line
  let lineOpen = false; // the current line has at least one character
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i);
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = content.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
      }
    }
    codePoints++;
    if (cp < 0x10000 ? BMP_ALNUM[cp] === 1 : isAlnumCodePoint(cp)) alnum++;
    if (cp < 0x2030 && isLineBoundary(cp)) {
      lines++;
      lineSum += lineLen;
      if (lineLen > lineMax) lineMax = lineLen;
      lineLen = 0;
      lineOpen = false;
      if (cp === 0x0d && content.charCodeAt(i + 1) === 0x0a) {
        i++;
        codePoints++; // the \n of \r\n is a character of the content too
      }
      continue;
    }
    lineLen++;
    lineOpen = true;
  }
  if (lineOpen) {
    lines++;
    lineSum += lineLen;
    if (lineLen > lineMax) lineMax = lineLen;
  }
  return {
    avgLineLength: lines === 0 ? 0 : lineSum / lines,
    maxLineLength: lineMax,
    alphanumFraction: codePoints === 0 ? 0 : alnum / codePoints,
  };
}

export function toCleanDoc(content: string): CleanDoc {
  return { content, stats: computeLineStats(content) };
}

// ---------------------------------------------------------------------------------------------
// Filters, in the order they run

export function filterAvgLineLength(doc: CleanDoc, params: CleanParams): Verdict {
  return doc.stats.avgLineLength > params.maxAvgLineLength ? 'avg_line_length' : 'keep';
}

export function filterMaxLineLength(doc: CleanDoc, params: CleanParams): Verdict {
  return doc.stats.maxLineLength > params.maxLineLength ? 'max_line_length' : 'keep';
}

export function filterAlphanumFraction(doc: CleanDoc, params: CleanParams): Verdict {
  return doc.stats.alphanumFraction < params.minAlphanumFraction ? 'alphanum_fraction' : 'keep';
}

export function filterAutoGenerated(doc: CleanDoc, params: CleanParams): Verdict {
  return findGeneratedMarker(doc.content, params.generatedMarkerLines) === null ? 'keep' : 'auto_generated';
}

export const FILTERS: readonly ((doc: CleanDoc, params: CleanParams) => Verdict)[] = [
  filterAvgLineLength,
  filterMaxLineLength,
  filterAlphanumFraction,
  filterAutoGenerated,
];

/** 'keep', or the reason of the first filter that drops the document. */
export function applyFilters(doc: CleanDoc, params: CleanParams): Verdict {
  for (const filter of FILTERS) {
    const verdict = filter(doc, params);
    if (verdict !== 'keep') return verdict;
  }
  return 'keep';
}
