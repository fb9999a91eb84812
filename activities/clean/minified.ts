/**
 * Minified JavaScript and CSS, told by content rather than by name: GitHub Linguist's rule (mean
 * line length above 110), or a long line in text that has almost no whitespace (a bundle behind
 * a short licence header keeps the mean low but not the whitespace share).
 */
import type { CleanParams } from './params.js';
import type { CleanDoc } from './textStats.js';

export const MINIFIABLE_EXTENSIONS = new Set(['js', 'mjs', 'cjs', 'css']);
const MINIFIABLE_LANGS = new Set(['JavaScript', 'CSS']);

/** Lines at least this long count as "long" for the whitespace test. */
export const MINIFIED_LONG_LINE = 500;

export function isMinified(doc: CleanDoc, params: CleanParams): boolean {
  const stats = doc.stats;
  const minifiable = doc.ext ? MINIFIABLE_EXTENSIONS.has(doc.ext) : doc.lang !== undefined && MINIFIABLE_LANGS.has(doc.lang);
  if (!minifiable || stats.chars === 0) return false;
  if (stats.avgLineLength > params.minifiedAvgLineLength) return true;
  return stats.maxLineLength >= MINIFIED_LONG_LINE && stats.whitespace / stats.chars < params.minifiedMaxWhitespaceFraction;
}
