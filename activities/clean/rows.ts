/** The clean of a batch of rows: filters in order, then PII redaction and fresh stats columns of what is kept. */
import type { StackRow } from '../../lib/stackSchema.js';
import { languageCounts, recordDrop, type CleanCounts } from './details.js';
import { applyFilters } from './filters.js';
import type { CleanParams } from './params.js';
import type { DropReason, FilterContext } from './reasons.js';
import { redactPii, type PiiType } from './redact.js';
import { computeLineStats, toCleanDoc, type LineStats } from './textStats.js';

/** Filters and redacts rows; counts what it keeps and drops, and why. */
export function cleanRows(rows: StackRow[], params: CleanParams, counts: CleanCounts, ctx: FilterContext = {}): StackRow[] {
  const kept: StackRow[] = [];
  for (const row of rows) {
    counts.rowsIn++;
    let content = row.content ?? '';
    const bytesIn = Buffer.byteLength(content, 'utf8');
    counts.contentBytesIn += bytesIn;
    const path = row.max_stars_repo_path ?? '';
    const lang = row.lang ?? '';
    const perLang = languageCounts(counts, lang);
    perLang.rows_in++;
    perLang.bytes_in += bytesIn;
    const statsStarted = ctx.timings ? performance.now() : 0;
    const doc = toCleanDoc(content, { path, ext: row.ext ?? undefined, lang, bytes: bytesIn });
    if (ctx.timings) ctx.timings.line_stats = (ctx.timings.line_stats ?? 0) + (performance.now() - statsStarted);
    const verdict = applyFilters(doc, params, ctx);
    if (verdict !== 'keep') {
      recordDrop(counts, verdict, { repo: row.max_stars_repo_name ?? '', path, lang, content, bytes: bytesIn }, detailOf(verdict, ctx));
      continue;
    }
    let stats: LineStats = doc.stats;
    if (params.redactPii) {
      const started = ctx.timings ? performance.now() : 0;
      const redacted = redactPii(content);
      if (ctx.timings) ctx.timings.redaction = (ctx.timings.redaction ?? 0) + (performance.now() - started);
      let any = false;
      for (const [type, n] of Object.entries(redacted.counts) as [PiiType, number][]) {
        counts.redactions[type] += n;
        if (n > 0) any = true;
      }
      if (any) {
        counts.documentsRedacted++;
        content = redacted.text;
        stats = computeLineStats(content);
      }
    }
    const size = content === row.content ? bytesIn : Buffer.byteLength(content, 'utf8');
    counts.contentBytesOut += size;
    counts.kept++;
    perLang.kept++;
    perLang.bytes_out += size;
    kept.push({
      ...row,
      content,
      size,
      avg_line_length: stats.avgLineLength,
      max_line_length: stats.maxLineLength,
      alphanum_fraction: stats.alphanumFraction,
    });
  }
  return kept;
}

function detailOf(reason: DropReason, ctx: FilterContext): string | undefined {
  if (reason === 'decontaminated' && ctx.benchmarks?.lastMatch) {
    const m = ctx.benchmarks.lastMatch;
    return `${m.benchmark} ${m.taskId} ${m.kind}, ${Math.round(m.overlap * 100)}% of its ${ctx.benchmarks.n}-grams`;
  }
  return undefined;
}
