/**
 * What the clean stage counts: rows and bytes per filter and per language, a few samples of what
 * each filter removed, syntax and PII counts. The manifest stats keep the counts (small: they
 * travel in workflow histories); `_DETAILS.json` in the stage folder keeps the samples too
 * (format fixed in the helpers' contract, read by the data report).
 */
import { DROP_REASONS, type DropReason } from './reasons.js';
import { emptyPiiCounts, type PiiType } from './redact.js';
import type { SyntaxLanguageCounts } from './syntax.js';

export const SAMPLES_PER_FILTER = 5;
export const EXCERPT_CHARS = 300;
/** Languages listed by name in the manifest stats (all of them are in _DETAILS.json). */
export const STATS_LANGUAGES = 50;

export interface FilterSample {
  repo: string;
  path: string;
  lang: string;
  size: number;
  excerpt: string;
  /** Why, when the filter knows more than its name (the benchmark task matched...). */
  detail?: string;
}

export interface LanguageCounts {
  rows_in: number;
  bytes_in: number;
  kept: number;
  bytes_out: number;
  dropped_by: Partial<Record<DropReason, number>>;
}

export interface CleanCounts {
  rowsIn: number;
  kept: number;
  dropped: number;
  dropReasons: Record<DropReason, number>;
  dropBytes: Record<DropReason, number>;
  samples: Record<DropReason, FilterSample[]>;
  perLanguage: Record<string, LanguageCounts>;
  redactions: Record<PiiType, number>;
  documentsRedacted: number;
  contentBytesIn: number;
  contentBytesOut: number;
}

function perReason<T>(make: () => T): Record<DropReason, T> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, make()])) as Record<DropReason, T>;
}

export function emptyCleanCounts(): CleanCounts {
  return {
    rowsIn: 0,
    kept: 0,
    dropped: 0,
    dropReasons: perReason(() => 0),
    dropBytes: perReason(() => 0),
    samples: perReason((): FilterSample[] => []),
    perLanguage: {},
    redactions: emptyPiiCounts(),
    documentsRedacted: 0,
    contentBytesIn: 0,
    contentBytesOut: 0,
  };
}

export function languageCounts(counts: CleanCounts, lang: string): LanguageCounts {
  let c = counts.perLanguage[lang];
  if (!c) {
    c = { rows_in: 0, bytes_in: 0, kept: 0, bytes_out: 0, dropped_by: {} };
    counts.perLanguage[lang] = c;
  }
  return c;
}

/** Adds `from`'s numbers into `into`, key by key. */
export function addCounts<K extends string>(into: Partial<Record<K, number>>, from: Partial<Record<K, number>>): void {
  for (const [k, n] of Object.entries(from) as [K, number][]) into[k] = (into[k] ?? 0) + n;
}

/** Adds one file's counts to a total; samples fill up to five per filter in the order added. */
export function addCleanCounts(into: CleanCounts, from: CleanCounts): void {
  into.rowsIn += from.rowsIn;
  into.kept += from.kept;
  into.dropped += from.dropped;
  addCounts(into.dropReasons, from.dropReasons);
  addCounts(into.dropBytes, from.dropBytes);
  for (const reason of DROP_REASONS) {
    into.samples[reason].push(...(from.samples[reason] ?? []).slice(0, SAMPLES_PER_FILTER - into.samples[reason].length));
  }
  for (const [lang, l] of Object.entries(from.perLanguage)) {
    const total = languageCounts(into, lang);
    total.rows_in += l.rows_in;
    total.bytes_in += l.bytes_in;
    total.kept += l.kept;
    total.bytes_out += l.bytes_out;
    addCounts(total.dropped_by, l.dropped_by);
  }
  addCounts(into.redactions, from.redactions);
  into.documentsRedacted += from.documentsRedacted;
  into.contentBytesIn += from.contentBytesIn;
  into.contentBytesOut += from.contentBytesOut;
}

/** Counts one dropped row and keeps it as a sample while the filter has fewer than five. */
export function recordDrop(
  counts: CleanCounts,
  reason: DropReason,
  row: { repo: string; path: string; lang: string; content: string; bytes: number },
  detail?: string,
): void {
  counts.dropped++;
  counts.dropReasons[reason]++;
  counts.dropBytes[reason] += row.bytes;
  const lang = languageCounts(counts, row.lang);
  lang.dropped_by[reason] = (lang.dropped_by[reason] ?? 0) + 1;
  const samples = counts.samples[reason];
  if (samples.length < SAMPLES_PER_FILTER) {
    const sample: FilterSample = { repo: row.repo, path: row.path, lang: row.lang, size: row.bytes, excerpt: excerptOf(row.content) };
    if (detail) sample.detail = detail;
    samples.push(sample);
  }
}

/** The first 300 characters, not cutting a surrogate pair. */
export function excerptOf(content: string): string {
  if (content.length <= EXCERPT_CHARS) return content;
  const end = content.charCodeAt(EXCERPT_CHARS - 1) >= 0xd800 && content.charCodeAt(EXCERPT_CHARS - 1) <= 0xdbff ? EXCERPT_CHARS - 1 : EXCERPT_CHARS;
  return content.slice(0, end);
}

/** Manifest stats: counts only (snake_case keys, like every stage's stats). */
export function cleanCountsStats(c: CleanCounts, syntax?: Record<string, SyntaxLanguageCounts>, decontamination?: Record<string, number>): Record<string, unknown> {
  // The most common languages by name; the tail summed (The Stack has 358 languages).
  const langs = Object.keys(c.perLanguage).sort((a, b) => c.perLanguage[b]!.rows_in - c.perLanguage[a]!.rows_in || (a < b ? -1 : 1));
  const head = new Set(langs.slice(0, STATS_LANGUAGES));
  const perLanguage: Record<string, { rows_in: number; kept: number; dropped_by: Partial<Record<DropReason, number>> }> = {};
  const tail = { rows_in: 0, kept: 0, dropped_by: {} as Partial<Record<DropReason, number>> };
  for (const lang of [...langs].sort()) {
    const l = c.perLanguage[lang]!;
    if (head.has(lang)) {
      perLanguage[lang] = { rows_in: l.rows_in, kept: l.kept, dropped_by: l.dropped_by };
      continue;
    }
    tail.rows_in += l.rows_in;
    tail.kept += l.kept;
    addCounts(tail.dropped_by, l.dropped_by);
  }
  if (langs.length > STATS_LANGUAGES) perLanguage[`(${langs.length - STATS_LANGUAGES} other languages)`] = tail;
  return {
    rows_in: c.rowsIn,
    kept: c.kept,
    dropped: c.dropped,
    drop_reasons: c.dropReasons,
    drop_bytes: c.dropBytes,
    filter_order: DROP_REASONS,
    per_language: perLanguage,
    ...(syntax ? { syntax } : {}),
    ...(decontamination ? { decontaminated_by_benchmark: decontamination } : {}),
    redactions: c.redactions,
    documents_redacted: c.documentsRedacted,
    content_bytes_in: c.contentBytesIn,
    content_bytes_out: c.contentBytesOut,
  };
}

/** The `_DETAILS.json` document (helpers' contract, section 1). */
export function cleanDetails(c: CleanCounts, syntax: Record<string, SyntaxLanguageCounts> = {}, activeFilters: readonly DropReason[] = DROP_REASONS): Record<string, unknown> {
  return {
    filters: activeFilters.map((name) => ({ name, dropped: c.dropReasons[name], dropped_bytes: c.dropBytes[name], samples: c.samples[name] })),
    per_language: c.perLanguage,
    syntax,
    pii: c.redactions,
  };
}
