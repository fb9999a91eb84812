/**
 * clean: StarCoder's filters, then PII redaction of the kept documents. One output file per
 * input file (same relative path, so the `lang=` partitions stay), The Stack's schema kept.
 * The stats columns (avg_line_length, max_line_length, alphanum_fraction) and `size` are
 * recomputed from the final content: inputs may carry wrong or null values. `hexsha` keeps the
 * source blob id (provenance), even when redaction changed the content.
 */
import { ErrorType, fatal } from '../../lib/errors.js';
import { describeBytes, joinUri, runStage, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows, type StackRow } from '../../lib/stackSchema.js';
import { defaultStore, type StageDeps } from '../ingest.js';
import { withHeartbeat, yieldToEventLoop } from '../support/heartbeat.js';
import { applyFilters, computeLineStats, DEFAULT_CLEAN_PARAMS, DROP_REASONS, type CleanParams, type DropReason } from './filters.js';
import { emptyPiiCounts, redactPii, type PiiType } from './redact.js';

const YIELD_EVERY_ROWS = 500;

export interface CleanInput {
  artifactsRoot: string;
  /** The ingest stage's result. */
  input: StageResult;
  /** The config's clean section; missing fields take their defaults. */
  params?: Partial<CleanParams>;
}

/** Fields resolved against the defaults; unknown or ill-typed fields fail with the field's name. */
export function resolveCleanParams(params: Partial<CleanParams> = {}): CleanParams {
  const out = { ...DEFAULT_CLEAN_PARAMS };
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_CLEAN_PARAMS)) throw fatal(ErrorType.InvalidConfig, `clean.${key} is not a clean setting.`);
    const expected = typeof DEFAULT_CLEAN_PARAMS[key as keyof CleanParams];
    if (typeof value !== expected || (typeof value === 'number' && !Number.isFinite(value))) {
      throw fatal(ErrorType.InvalidConfig, `Expected clean.${key} to be a ${expected}, got ${JSON.stringify(value)}.`);
    }
    (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** Path of `uri` below `dir` (`lang=python/part-00000.parquet`). */
export function relativeTo(dir: string, uri: string): string {
  const prefix = dir.replace(/\/+$/, '') + '/';
  if (!uri.startsWith(prefix)) throw fatal(ErrorType.InvalidInput, `${uri} is not inside the input stage folder ${dir}.`);
  return uri.slice(prefix.length);
}

/** Parquet outputs of an upstream stage, sorted by URI. */
export function parquetOutputs(input: StageResult): string[] {
  return input.outputs.filter((u) => /\.parquet$/i.test(u)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface CleanCounts {
  rowsIn: number;
  kept: number;
  dropped: number;
  dropReasons: Record<DropReason, number>;
  redactions: Record<PiiType, number>;
  documentsRedacted: number;
  contentBytesIn: number;
  contentBytesOut: number;
}

export function emptyCleanCounts(): CleanCounts {
  return {
    rowsIn: 0,
    kept: 0,
    dropped: 0,
    dropReasons: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    redactions: emptyPiiCounts(),
    documentsRedacted: 0,
    contentBytesIn: 0,
    contentBytesOut: 0,
  };
}

/** The counts as manifest stats (snake_case keys, like every stage's stats). */
export function cleanCountsStats(c: CleanCounts): Record<string, unknown> {
  return {
    rows_in: c.rowsIn,
    kept: c.kept,
    dropped: c.dropped,
    drop_reasons: c.dropReasons,
    redactions: c.redactions,
    documents_redacted: c.documentsRedacted,
    content_bytes_in: c.contentBytesIn,
    content_bytes_out: c.contentBytesOut,
  };
}

/** Filters and redacts rows; counts what it keeps and drops, and why. */
export function cleanRows(rows: StackRow[], params: CleanParams, counts: CleanCounts): StackRow[] {
  const kept: StackRow[] = [];
  for (const row of rows) {
    counts.rowsIn++;
    let content = row.content ?? '';
    counts.contentBytesIn += Buffer.byteLength(content, 'utf8');
    let stats = computeLineStats(content);
    const verdict = applyFilters({ content, stats }, params);
    if (verdict !== 'keep') {
      counts.dropped++;
      counts.dropReasons[verdict]++;
      continue;
    }
    if (params.redactPii) {
      const redacted = redactPii(content);
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
    const size = Buffer.byteLength(content, 'utf8');
    counts.contentBytesOut += size;
    counts.kept++;
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

export async function cleanStage(input: CleanInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  const files = parquetOutputs(input.input);
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'clean',
    params,
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
              kept.push(...cleanRows(rows.slice(i, i + YIELD_EVERY_ROWS), params, counts));
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
      return { outputs, stats: { files_read: filesDone, ...cleanCountsStats(counts), bytes_read: bytesRead, bytes_written: bytesWritten } };
    },
  });
}
