/**
 * The clean stage's filters, datatrove-style: each looks at one document and says whether it
 * drops it; they run in the fixed order of FILTERS and the first that drops a file names the
 * reason. The line statistics are recomputed from `content` exactly as The Stack computes them in
 * Python: `content.splitlines()`, `len()` in code points, `str.isalnum()` per code point.
 *
 * Order (cheap and certain first, the tree-sitter parse last):
 *   vendored_path, auto_generated, generated_path, minified,          (what the file is)
 *   xml_header, max_line_length, avg_line_length, alphanum_fraction,  (StarCoder's quality
 *   alphabetic_fraction, size_window, html_visible_text,               filters, per extension)
 *   decontaminated, syntax_error                                       (benchmarks, parse)
 */
import { findGeneratedMarker } from './generated.js';
import { visibleTextChars } from './html.js';
import { isMinified } from './minified.js';
import { generatedPathReason, vendoredDir } from './paths.js';
import type { BenchmarkIndex } from './decontaminate.js';
import type { SyntaxChecker } from './syntax.js';

export const DROP_REASONS = [
  'vendored_path',
  'auto_generated',
  'generated_path',
  'minified',
  'xml_header',
  'max_line_length',
  'avg_line_length',
  'alphanum_fraction',
  'alphabetic_fraction',
  'size_window',
  'html_visible_text',
  'decontaminated',
  'syntax_error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type Verdict = 'keep' | DropReason;

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

/** The clean section of the config (configs/schema.json), every field resolved. */
export interface CleanParams {
  /** Drop when the mean line length (code points) is above this; default 100. */
  maxAvgLineLength: number;
  /** Drop when the longest line (code points) is above this; default 1000. */
  maxLineLength: number;
  /** Drop when the share of alphanumeric code points is below this; default 0.25. */
  minAlphanumFraction: number;
  /** Drop when the share of alphabetic code points is below this; default null (off). */
  minAlphabeticFraction: number | null;
  /**
   * Per lower-case extension overrides of the quality thresholds, merged field by field over
   * BUILTIN_EXTENSION_THRESHOLDS (StarCoder: JSON/YAML 50..5000 characters and 50% alphabetic,
   * no line-length filters for Markdown).
   */
  perExtension: Record<string, Partial<QualityThresholds>>;
  /** First lines searched for auto-generated markers; 0 disables; default 5. */
  generatedMarkerLines: number;
  /** Directory names whose files are vendored copies (any path segment, case-insensitive). */
  vendoredDirs: string[];
  /** JS/CSS files whose mean line length is above this are minified (GitHub Linguist: 110). */
  minifiedAvgLineLength: number;
  /** ... or whose longest line is >= 500 with whitespace below this share of the characters. */
  minifiedMaxWhitespaceFraction: number;
  /** Extensions the `<?xml version=` header check leaves alone (StarCoder: XSLT). */
  xmlHeaderExemptExtensions: string[];
  /** HTML: the visible text (outside script/style) must be at least this share of the file... */
  htmlMinVisibleFraction: number;
  /** ... and at least this many characters. */
  htmlMinVisibleChars: number;
  /** HumanEval-format benchmark files (jsonl/jsonl.gz URIs, or `humaneval` for the bundled one); [] disables. */
  decontaminationBenchmarks: string[];
  /** n of the whitespace-token n-grams compared with the benchmark prompts and solutions; default 10. */
  decontaminationNgram: number;
  /** Drop when the file holds at least this share of one benchmark text's n-grams; default 0.5. */
  decontaminationMinOverlap: number;
  /** The Stack language names parsed with tree-sitter; [] disables the syntax filter. */
  syntaxLanguages: string[];
  /** Files above this many bytes are not parsed (kept, counted as skipped); bounds parse time. */
  syntaxMaxBytes: number;
  /** Filter names switched off. */
  disabledFilters: string[];
  /** Replace e-mails, IP addresses, keys and passwords in kept documents; default true. */
  redactPii: boolean;
}

const JSON_YAML: Partial<QualityThresholds> = { minAlphabeticFraction: 0.5, minChars: 50, maxChars: 5000 };
const NO_LINE_FILTERS: Partial<QualityThresholds> = { maxLineLength: null, maxAvgLineLength: null };

/** StarCoder's per-extension settings (paper, section 3; bigcode-dataset preprocessing/filtering.py). */
export const BUILTIN_EXTENSION_THRESHOLDS: Readonly<Record<string, Partial<QualityThresholds>>> = {
  json: JSON_YAML,
  yaml: JSON_YAML,
  yml: JSON_YAML,
  md: NO_LINE_FILTERS,
  markdown: NO_LINE_FILTERS,
};

export const DEFAULT_VENDORED_DIRS = ['vendor', 'vendors', '_vendor', 'node_modules', 'bower_components', 'jspm_packages', 'third_party', 'third-party', 'thirdparty', '3rdparty', 'Pods'];

export const DEFAULT_CLEAN_PARAMS: CleanParams = {
  maxAvgLineLength: 100,
  maxLineLength: 1000,
  minAlphanumFraction: 0.25,
  minAlphabeticFraction: null,
  perExtension: {},
  generatedMarkerLines: 5,
  vendoredDirs: DEFAULT_VENDORED_DIRS,
  minifiedAvgLineLength: 110,
  minifiedMaxWhitespaceFraction: 0.05,
  xmlHeaderExemptExtensions: ['xsl', 'xslt'],
  htmlMinVisibleFraction: 0.2,
  htmlMinVisibleChars: 100,
  decontaminationBenchmarks: ['humaneval'],
  decontaminationNgram: 10,
  decontaminationMinOverlap: 0.5,
  syntaxLanguages: ['Python', 'JavaScript', 'TypeScript', 'Go', 'Java'],
  syntaxMaxBytes: 100_000,
  disabledFilters: [],
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

/** LineStats plus the counts the other filters need, from the same single pass. */
export interface DocStats extends LineStats {
  /** len(content) in code points. */
  chars: number;
  /** Code points that are spaces, tabs or line breaks. */
  whitespace: number;
}

export interface CleanDoc {
  content: string;
  stats: DocStats;
  /** Repository path, extension (lower case, no dot) and The Stack language, when known. */
  path?: string;
  ext?: string;
  lang?: string;
  /** UTF-8 size of content, when known. */
  bytes?: number;
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

/** 1 for every BMP code unit (surrogates excepted) that `pattern` matches, computed once. */
function bmpTable(pattern: RegExp): Uint8Array {
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (pattern.test(String.fromCharCode(c))) table[c] = 1;
  }
  return table;
}

const ALNUM_PATTERN = /^[\p{L}\p{N}]$/u;
/** isalnum for every BMP code unit (\p{L} = isalpha, \p{N} = isnumeric). */
const BMP_ALNUM = bmpTable(ALNUM_PATTERN);

/** Python's str.isalnum() for one code point. */
export function isAlnumCodePoint(cp: number): boolean {
  if (cp < 0x10000) return BMP_ALNUM[cp] === 1;
  return ALNUM_PATTERN.test(String.fromCodePoint(cp));
}

const ALPHA_PATTERN = /^\p{L}$/u;
/** isalpha for every BMP code unit (Python: categories Lm, Lt, Lu, Ll, Lo = \p{L}). */
const BMP_ALPHA = bmpTable(ALPHA_PATTERN);

/** Share of code points with str.isalpha(); 0 for empty content. */
export function alphabeticFraction(content: string): number {
  const n = content.length;
  let codePoints = 0;
  let alpha = 0;
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i);
    codePoints++;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = content.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        if (ALPHA_PATTERN.test(String.fromCodePoint(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000))) alpha++;
        continue;
      }
    }
    if (BMP_ALPHA[c] === 1) alpha++;
  }
  return codePoints === 0 ? 0 : alpha / codePoints;
}

/** avg_line_length, max_line_length and alphanum_fraction of `content`. */
export function computeLineStats(content: string): LineStats {
  const s = computeDocStats(content);
  return { avgLineLength: s.avgLineLength, maxLineLength: s.maxLineLength, alphanumFraction: s.alphanumFraction };
}

/** Per BMP code unit: 1 = alphanumeric, 2 = line boundary, 4 = space or tab (one lookup per character). */
const CHAR_CLASS = (() => {
  const table = new Uint8Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    if (BMP_ALNUM[c] === 1) table[c]! |= 1;
    if (isLineBoundary(c)) table[c]! |= 2;
    if (c === 0x20 || c === 0x09) table[c]! |= 4;
  }
  return table;
})();

/** Every statistic of DocStats, in one pass over the UTF-16 code units. */
export function computeDocStats(content: string): DocStats {
  const n = content.length;
  let codePoints = 0;
  let alnum = 0;
  let whitespace = 0;
  let lines = 0;
  let lineSum = 0;
  let lineMax = 0;
  let lineLen = 0; // code points in the current line
  let lineOpen = false; // the current line has at least one character
  for (let i = 0; i < n; i++) {
    const c = content.charCodeAt(i);
    codePoints++;
    let cls: number;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && content.charCodeAt(i + 1) >= 0xdc00 && content.charCodeAt(i + 1) <= 0xdfff) {
      // An astral code point: never a line boundary or a space.
      cls = isAlnumCodePoint(((c - 0xd800) << 10) + (content.charCodeAt(i + 1) - 0xdc00) + 0x10000) ? 1 : 0;
      i++;
    } else {
      cls = CHAR_CLASS[c]!;
    }
    alnum += cls & 1;
    if ((cls & 2) !== 0) {
      whitespace++;
      lines++;
      lineSum += lineLen;
      if (lineLen > lineMax) lineMax = lineLen;
      lineLen = 0;
      lineOpen = false;
      if (c === 0x0d && content.charCodeAt(i + 1) === 0x0a) {
        i++;
        codePoints++; // the \n of \r\n is a character of the content too
        whitespace++;
      }
      continue;
    }
    if ((cls & 4) !== 0) whitespace++;
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
    chars: codePoints,
    whitespace,
  };
}

export function toCleanDoc(content: string, meta: { path?: string; ext?: string; lang?: string; bytes?: number } = {}): CleanDoc {
  const ext = meta.ext ?? extensionOf(meta.path ?? '');
  return { content, stats: computeDocStats(content), ...meta, ext: ext.toLowerCase() };
}

/** Extension of a path without the dot, as The Stack's `ext` (`a/b.min.js` -> `js`; none -> ''). */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1);
}

// ---------------------------------------------------------------------------------------------
// Per-extension thresholds

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

// ---------------------------------------------------------------------------------------------
// Filters, in the order they run

/** What the filters that need more than the document use; absent parts switch their filter off. */
export interface FilterContext {
  syntax?: SyntaxChecker;
  benchmarks?: BenchmarkIndex;
  /** When present, each filter's time (ms, by name) is added here: what each filter costs. */
  timings?: Record<string, number>;
}

export type Filter = (doc: CleanDoc, params: CleanParams, ctx: FilterContext) => Verdict;

export function filterVendoredPath(doc: CleanDoc, params: CleanParams): Verdict {
  return doc.path && vendoredDir(doc.path, params.vendoredDirs) !== null ? 'vendored_path' : 'keep';
}

export function filterAutoGenerated(doc: CleanDoc, params: CleanParams): Verdict {
  return findGeneratedMarker(doc.content, params.generatedMarkerLines) === null ? 'keep' : 'auto_generated';
}

export function filterGeneratedPath(doc: CleanDoc): Verdict {
  return doc.path && generatedPathReason(doc.path) !== null ? 'generated_path' : 'keep';
}

export function filterMinified(doc: CleanDoc, params: CleanParams): Verdict {
  return isMinified(doc, params) ? 'minified' : 'keep';
}

/** StarCoder: `<?xml version=` in the first 100 characters, except XSLT. */
export function filterXmlHeader(doc: CleanDoc, params: CleanParams): Verdict {
  if (doc.ext && params.xmlHeaderExemptExtensions.includes(doc.ext)) return 'keep';
  const head = doc.content.length > 100 ? doc.content.slice(0, 100) : doc.content;
  return head.includes('<?xml version=') ? 'xml_header' : 'keep';
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

const HTML_EXTENSIONS = new Set(['html', 'htm', 'xhtml']);

/** StarCoder: visible text at least 20% of the HTML and at least 100 characters. */
export function filterHtmlVisibleText(doc: CleanDoc, params: CleanParams): Verdict {
  if (doc.lang !== 'HTML' && !(doc.ext && HTML_EXTENSIONS.has(doc.ext))) return 'keep';
  const visibleChars = visibleTextChars(doc.content);
  const fraction = doc.stats.chars === 0 ? 0 : visibleChars / doc.stats.chars;
  return fraction < params.htmlMinVisibleFraction || visibleChars < params.htmlMinVisibleChars ? 'html_visible_text' : 'keep';
}

export function filterDecontaminated(doc: CleanDoc, _params: CleanParams, ctx: FilterContext): Verdict {
  return ctx.benchmarks && ctx.benchmarks.match(doc.content) !== null ? 'decontaminated' : 'keep';
}

export function filterSyntaxError(doc: CleanDoc, _params: CleanParams, ctx: FilterContext): Verdict {
  if (!ctx.syntax || !doc.lang) return 'keep';
  const bytes = doc.bytes ?? Buffer.byteLength(doc.content, 'utf8');
  return ctx.syntax.check(doc.content, doc.lang, doc.ext ?? '', bytes) === 'failed' ? 'syntax_error' : 'keep';
}

/** Every filter, in DROP_REASONS order. */
export const FILTERS: Readonly<Record<DropReason, Filter>> = {
  vendored_path: filterVendoredPath,
  auto_generated: filterAutoGenerated,
  generated_path: filterGeneratedPath,
  minified: filterMinified,
  xml_header: filterXmlHeader,
  max_line_length: filterMaxLineLength,
  avg_line_length: filterAvgLineLength,
  alphanum_fraction: filterAlphanumFraction,
  alphabetic_fraction: filterAlphabeticFraction,
  size_window: filterSizeWindow,
  html_visible_text: filterHtmlVisibleText,
  decontaminated: filterDecontaminated,
  syntax_error: filterSyntaxError,
};

/** The filters `params` leaves switched on, in run order. */
export function enabledFilters(params: CleanParams): DropReason[] {
  return DROP_REASONS.filter((r) => !params.disabledFilters.includes(r));
}

const activeFilters = new WeakMap<CleanParams, [DropReason, Filter][]>();

function filtersFor(params: CleanParams): [DropReason, Filter][] {
  let list = activeFilters.get(params);
  if (!list) {
    list = enabledFilters(params).map((r) => [r, FILTERS[r]]);
    activeFilters.set(params, list);
  }
  return list;
}

/** 'keep', or the reason of the first filter that drops the document. */
export function applyFilters(doc: CleanDoc, params: CleanParams, ctx: FilterContext = {}): Verdict {
  const timings = ctx.timings;
  for (const [name, filter] of filtersFor(params)) {
    if (timings === undefined) {
      const verdict = filter(doc, params, ctx);
      if (verdict !== 'keep') return verdict;
      continue;
    }
    const started = performance.now();
    const verdict = filter(doc, params, ctx);
    timings[name] = (timings[name] ?? 0) + (performance.now() - started);
    if (verdict !== 'keep') return verdict;
  }
  return 'keep';
}
