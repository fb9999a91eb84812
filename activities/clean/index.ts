/**
 * clean: the filters of filters.ts in their fixed order (first match drops the file), then PII
 * redaction of the kept documents. One output file per input file (same relative path, so the
 * `lang=` partitions stay), The Stack's schema kept. The stats columns (avg_line_length,
 * max_line_length, alphanum_fraction) and `size` are recomputed from the final content: inputs
 * may carry wrong or null values. `hexsha` keeps the source blob id (provenance), even when
 * redaction changed the content. Counts per filter and language go to the manifest stats;
 * samples of what each filter removed go to `_DETAILS.json` in the stage folder.
 */
import { ErrorType, fatal } from '../../lib/errors.js';
import { describeBytes, DETAILS_NAME, joinUri, runStage, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows, type StackRow } from '../../lib/stackSchema.js';
import { defaultStore, parquetOutputs, relativeTo, type StageDeps } from '../support/stageIo.js';
import { withHeartbeat, yieldToEventLoop } from '../support/heartbeat.js';
import { buildBenchmarkIndex, loadBenchmark, type LoadedBenchmark } from './decontaminate.js';
import { cleanCountsStats, cleanDetails, emptyCleanCounts, languageCounts, recordDrop, type CleanCounts } from './details.js';
import {
  applyFilters,
  computeLineStats,
  DEFAULT_CLEAN_PARAMS,
  DROP_REASONS,
  enabledFilters,
  toCleanDoc,
  type CleanParams,
  type DropReason,
  type FilterContext,
  type LineStats,
  type QualityThresholds,
} from './filters.js';
import { redactPii, type PiiType } from './redact.js';
import { SyntaxChecker } from './syntax.js';

export { cleanCountsStats, emptyCleanCounts, type CleanCounts } from './details.js';

const YIELD_EVERY_ROWS = 500;

export interface CleanInput {
  artifactsRoot: string;
  /** The ingest stage's result. */
  input: StageResult;
  /** The config's clean section; missing fields take their defaults. */
  params?: Partial<CleanParams>;
}

type FieldCheck = (value: unknown) => string | null; // null: fine; else what was expected

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const number = (min: number, max = Infinity, integer = false): FieldCheck => (v) =>
  isNum(v) && v >= min && v <= max && (!integer || Number.isInteger(v))
    ? null
    : `${integer ? 'an integer' : 'a number'}${max === Infinity ? ` >= ${min}` : ` in [${min}, ${max}]`}`;
const nullable = (check: FieldCheck): FieldCheck => (v) => (v === null ? null : check(v) && `${check(v)} or null`);
const fraction = number(0, 1);
const stringList = (allowed?: readonly string[]): FieldCheck => (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string' && (!allowed || allowed.includes(x)))
    ? null
    : `a list of ${allowed ? `names from ${allowed.join(', ')}` : 'strings'}`;

const THRESHOLD_CHECKS: Record<keyof QualityThresholds, FieldCheck> = {
  maxLineLength: nullable(number(1, Infinity, true)),
  maxAvgLineLength: nullable(number(0)),
  minAlphanumFraction: nullable(fraction),
  minAlphabeticFraction: nullable(fraction),
  minChars: nullable(number(0, Infinity, true)),
  maxChars: nullable(number(0, Infinity, true)),
};

function checkPerExtension(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'an object of extension -> thresholds';
  for (const [ext, t] of Object.entries(value)) {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return `an object for extension ${JSON.stringify(ext)}`;
    for (const [field, v] of Object.entries(t)) {
      const check = THRESHOLD_CHECKS[field as keyof QualityThresholds];
      if (!check) return `one of ${Object.keys(THRESHOLD_CHECKS).join(', ')} for .${ext} (got the field ${field})`;
      const problem = check(v);
      if (problem) return `${problem} for .${ext}.${field}`;
    }
  }
  return null;
}

const FIELD_CHECKS: Record<keyof CleanParams, FieldCheck> = {
  maxAvgLineLength: number(0),
  maxLineLength: number(1, Infinity, true),
  minAlphanumFraction: fraction,
  minAlphabeticFraction: nullable(fraction),
  perExtension: checkPerExtension,
  generatedMarkerLines: number(0, Infinity, true),
  vendoredDirs: stringList(),
  minifiedAvgLineLength: number(0),
  minifiedMaxWhitespaceFraction: fraction,
  xmlHeaderExemptExtensions: stringList(),
  htmlMinVisibleFraction: fraction,
  htmlMinVisibleChars: number(0, Infinity, true),
  decontaminationBenchmarks: stringList(),
  decontaminationNgram: number(1, 1000, true),
  decontaminationMinOverlap: number(Number.MIN_VALUE, 1),
  syntaxLanguages: stringList(),
  syntaxMaxBytes: number(0, Infinity, true),
  disabledFilters: stringList(DROP_REASONS),
  redactPii: (v) => (typeof v === 'boolean' ? null : 'a boolean'),
};

/** Fields resolved against the defaults; unknown or ill-typed fields fail with the field's name. */
export function resolveCleanParams(params: Partial<CleanParams> = {}): CleanParams {
  const out: CleanParams = { ...DEFAULT_CLEAN_PARAMS };
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const check = FIELD_CHECKS[key as keyof CleanParams];
    if (!check) throw fatal(ErrorType.InvalidConfig, `clean.${key} is not a clean setting.`);
    const problem = check(value);
    if (problem) throw fatal(ErrorType.InvalidConfig, `Expected clean.${key} to be ${problem}, got ${JSON.stringify(value)}.`);
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  // Extensions are matched in lower case, without the dot.
  const bareExtension = (ext: string) => ext.toLowerCase().replace(/^\./, '');
  out.perExtension = Object.fromEntries(Object.entries(out.perExtension).map(([ext, t]) => [bareExtension(ext), t]));
  out.xmlHeaderExemptExtensions = out.xmlHeaderExemptExtensions.map(bareExtension);
  return out;
}

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

/** The syntax checker and benchmark index the params ask for (loading grammars and benchmark files). */
export async function createFilterContext(
  params: CleanParams,
  store: Parameters<typeof loadBenchmark>[1],
): Promise<{ ctx: FilterContext; benchmarks: LoadedBenchmark[] }> {
  const ctx: FilterContext = {};
  let benchmarks: LoadedBenchmark[] = [];
  if (!params.disabledFilters.includes('syntax_error') && params.syntaxLanguages.length > 0) {
    ctx.syntax = await SyntaxChecker.create(params.syntaxLanguages, params.syntaxMaxBytes);
  }
  if (!params.disabledFilters.includes('decontaminated') && params.decontaminationBenchmarks.length > 0) {
    try {
      benchmarks = await Promise.all(params.decontaminationBenchmarks.map((b) => loadBenchmark(b, store)));
      ctx.benchmarks = buildBenchmarkIndex(benchmarks, params.decontaminationNgram, params.decontaminationMinOverlap);
    } catch (err) {
      ctx.syntax?.dispose(); // the parsers live in WebAssembly memory, which no GC frees
      throw err;
    }
  }
  return { ctx, benchmarks };
}

export async function cleanStage(input: CleanInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  const files = parquetOutputs(input.input);
  const { ctx, benchmarks } = await createFilterContext(params, store);
  const timings: Record<string, number> = {};
  ctx.timings = timings;
  // A changed benchmark file must not reuse an earlier result.
  const fingerprintParams = benchmarks.length > 0 ? { ...params, benchmarkSha256: Object.fromEntries(benchmarks.map((b) => [b.name, b.sha256])) } : params;
  try {
    return await runStage({
      store,
      artifactsRoot: input.artifactsRoot,
      stage: 'clean',
      params: fingerprintParams,
      inputs: [{ stage: input.input.stage, fingerprint: input.input.fingerprint }],
      work: async (dir) => {
        const counts = emptyCleanCounts();
        const outputs: ManifestFile[] = [];
        let filesDone = 0;
        let bytesRead = 0;
        let bytesWritten = 0;
        await withHeartbeat(
          async () => {
            for (const uri of files) {
              const bytes = await store.readBytes(uri);
              bytesRead += bytes.byteLength;
              const table = readParquetTable(bytes, uri);
              assertStackSchema(table, uri);
              const rows = tableToRows(table);
              const kept: StackRow[] = [];
              for (let i = 0; i < rows.length; i += YIELD_EVERY_ROWS) {
                kept.push(...cleanRows(rows.slice(i, i + YIELD_EVERY_ROWS), params, counts, ctx));
                await yieldToEventLoop(); // lets heartbeats and cancellation through
              }
              filesDone++;
              if (kept.length > 0) {
                const out = joinUri(dir, relativeTo(input.input.dir, uri));
                const data = writeParquetTable(rowsToTable(kept));
                await store.writeBytes(out, data);
                outputs.push(describeBytes(out, data, kept.length));
                bytesWritten += data.byteLength;
              }
            }
          },
          () => ({ filesDone, files: files.length, kept: counts.kept, dropped: counts.dropped }),
        );
        if (counts.rowsIn > 0 && counts.kept === 0) {
          const reasons = Object.entries(counts.dropReasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`);
          throw fatal(
            ErrorType.InvalidInput,
            `clean dropped all ${counts.rowsIn} rows of ${input.input.dir} (${reasons.join(', ')}): loosen the clean settings or check the input.`,
          );
        }
        const syntax = ctx.syntax?.counts;
        await store.writeBytes(joinUri(dir, DETAILS_NAME), JSON.stringify(cleanDetails(counts, syntax, enabledFilters(params)), null, 2) + '\n');
        return {
          outputs,
          stats: {
            files_read: filesDone,
            ...cleanCountsStats(counts, syntax, ctx.benchmarks?.dropped),
            bytes_read: bytesRead,
            bytes_written: bytesWritten,
            // Seconds per step: line statistics, each filter (over the files that reached it), PII redaction.
            seconds_by_step: Object.fromEntries(Object.entries(timings).map(([k, ms]) => [k, Math.round(ms) / 1000])),
          },
        };
      },
    });
  } finally {
    ctx.syntax?.dispose();
  }
}
