/**
 * StarCoder's quality filters, with thresholds that may differ per file extension (paper, section
 * 3; bigcode-dataset preprocessing/filtering.py): line lengths, alphanumeric and alphabetic
 * shares, and the size window of JSON and YAML files. null switches a check off.
 */
import type { CleanParams } from './params.js';
import type { Verdict } from './reasons.js';
import { alphabeticFraction, type CleanDoc } from './textStats.js';

/** Thresholds that can differ per file extension; null switches the check off. */
export interface QualityThresholds {
  /** Drop when the longest line (code points) is above this. */
  maxLineLength: number | null;
  /** Drop when the mean line length (code points) is above this. */
  maxAvgLineLength: number | null;
  /** Drop when the share of alphanumeric code points is below this. */
  minAlphanumFraction: number | null;
  /** Drop when the share of alphabetic code points is below this. */
  minAlphabeticFraction: number | null;
  /** Drop when the file has fewer code points than this. */
  minChars: number | null;
  /** Drop when the file has more code points than this. */
  maxChars: number | null;
}

const JSON_YAML: Partial<QualityThresholds> = { minAlphabeticFraction: 0.5, minChars: 50, maxChars: 5000 };
const NO_LINE_FILTERS: Partial<QualityThresholds> = { maxLineLength: null, maxAvgLineLength: null };

/** StarCoder's per-extension settings, under the config's clean.perExtension (merged field by field). */
export const BUILTIN_EXTENSION_THRESHOLDS: Readonly<Record<string, Partial<QualityThresholds>>> = {
  json: JSON_YAML,
  yaml: JSON_YAML,
  yml: JSON_YAML,
  md: NO_LINE_FILTERS,
  markdown: NO_LINE_FILTERS,
};

const resolvedThresholds = new WeakMap<CleanParams, Map<string, QualityThresholds>>();

/** The quality thresholds for files with extension `ext` (lower case). */
export function thresholdsFor(params: CleanParams, ext: string): QualityThresholds {
  let table = resolvedThresholds.get(params);
  if (!table) {
    table = new Map();
    resolvedThresholds.set(params, table);
  }
  let t = table.get(ext);
  if (!t) {
    t = {
      maxLineLength: params.maxLineLength,
      maxAvgLineLength: params.maxAvgLineLength,
      minAlphanumFraction: params.minAlphanumFraction,
      minAlphabeticFraction: params.minAlphabeticFraction,
      minChars: null,
      maxChars: null,
      ...BUILTIN_EXTENSION_THRESHOLDS[ext],
      ...params.perExtension[ext],
    };
    table.set(ext, t);
  }
  return t;
}

export function filterMaxLineLength(doc: CleanDoc, params: CleanParams): Verdict {
  const limit = thresholdsFor(params, doc.ext ?? '').maxLineLength;
  return limit !== null && doc.stats.maxLineLength > limit ? 'max_line_length' : 'keep';
}

export function filterAvgLineLength(doc: CleanDoc, params: CleanParams): Verdict {
  const limit = thresholdsFor(params, doc.ext ?? '').maxAvgLineLength;
  return limit !== null && doc.stats.avgLineLength > limit ? 'avg_line_length' : 'keep';
}

export function filterAlphanumFraction(doc: CleanDoc, params: CleanParams): Verdict {
  const min = thresholdsFor(params, doc.ext ?? '').minAlphanumFraction;
  return min !== null && doc.stats.alphanumFraction < min ? 'alphanum_fraction' : 'keep';
}

export function filterAlphabeticFraction(doc: CleanDoc, params: CleanParams): Verdict {
  const min = thresholdsFor(params, doc.ext ?? '').minAlphabeticFraction;
  return min !== null && alphabeticFraction(doc.content) < min ? 'alphabetic_fraction' : 'keep';
}

/** StarCoder keeps JSON and YAML files of 50 to 5,000 characters only. */
export function filterSizeWindow(doc: CleanDoc, params: CleanParams): Verdict {
  const t = thresholdsFor(params, doc.ext ?? '');
  if (t.minChars === null && t.maxChars === null) return 'keep';
  const chars = doc.stats.chars;
  return (t.minChars !== null && chars < t.minChars) || (t.maxChars !== null && chars > t.maxChars) ? 'size_window' : 'keep';
}
