/**
 * ingest: Parquet in The Stack's schema (or its older column names) from local files, folders and
 * globs, S3 prefixes, https URLs or the Hugging Face hub (lib/storage/sources.ts) -> one partition
 * per language, `lang=<folder>/part-NNNNN.parquet`, exactly The Stack's schema, zstd.
 *
 * Source files are read row group by row group and parts are written row group by row group, so
 * memory follows the row group, not the file (remote files are spooled to local disk first).
 *
 * Bad input: a file that is not Parquet, lacks a required column, or has a row group that cannot be
 * decoded is skipped and counted (`onBadFile: "skip"`, the default: one broken file of a thousand
 * should not stop a run) or fails the stage naming the file (`"fail"`). Skipped files are listed in
 * `_DETAILS.json` with their reason. Rows whose binary content is not UTF-8 and documents over
 * `maxDocumentBytes` are dropped and counted. A source with no usable row, or without a requested
 * language, fails with the reasons. The fingerprint covers each file's URI, size and content id
 * (hub files) - not content hashes: the source may be a multi-terabyte dataset.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, fatal } from '../contracts/errors.js';
import { DETAILS_NAME, joinUri, runStage, type StageResult } from '../lib/manifest.js';
import { ParquetRowGroups } from '../lib/parquetRowGroups.js';
import { readStringColumn } from '../lib/stackSchema.js';
import { resolveSourceColumns, sourceRowsToStack, type SourceColumns } from '../lib/stackSource.js';
import type { HttpStore } from '../lib/storage/httpStore.js';
import { listSourceFiles, localSource, withoutQuery, type SourceFile } from '../lib/storage/sources.js';
import type { ArtifactStore } from '../lib/storage/types.js';
import { PartitionWriter, type PartLimits } from './ingestPartitions.js';
import { withHeartbeat, yieldToEventLoop } from './support/heartbeat.js';
import { defaultStore, type StageDeps } from './support/stageIo.js';

export type OnBadFile = 'skip' | 'fail';

export interface IngestInput {
  artifactsRoot: string;
  /** Where the Parquet files are: see lib/storage/sources.ts (file://, s3://, https://, hf://; folders and globs). */
  source: string;
  /** `lang` values to keep, case-insensitive; empty keeps every language. */
  languages: string[];
  /** First rows (in source order) kept per language; null for all. */
  maxRowsPerLanguage: number | null;
  /** Not used: ingest takes rows in source order, so the seed takes no part in its output. */
  seed?: number;
  /** A file that cannot be read: "skip" (count it, list it in _DETAILS.json) or "fail". Default "skip". */
  onBadFile?: OnBadFile;
  /** Documents with more content bytes are dropped and counted; null keeps all. Default 10 MiB. */
  maxDocumentBytes?: number | null;
}

export interface IngestProgress {
  filesRead: number;
  files: number;
  rowsIn: number;
  rowsOut: number;
  file?: string;
}

export interface IngestDeps extends StageDeps {
  /** Part-file limits of ingest (tests use small ones); defaults PART_MAX_ROWS, PART_MAX_CONTENT_BYTES. */
  partLimits?: PartLimits;
  /** The HTTP client for https:// and hf:// sources (tests pass short retry delays). */
  http?: HttpStore;
  /** Called as ingest advances (the CLI draws a progress bar). */
  onIngestProgress?: (p: IngestProgress) => void;
}

/** A partition is split into a new part file past either limit. */
export const PART_MAX_ROWS = 50_000;
export const PART_MAX_CONTENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ON_BAD_FILE: OnBadFile = 'skip';
export const DEFAULT_MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;
/** Entries of _DETAILS.json "skipped" kept (the count is always complete). */
const MAX_SKIPPED_LISTED = 1000;


function resolveOptions(input: IngestInput): { onBadFile: OnBadFile; maxDocumentBytes: number | null } {
  const onBadFile = input.onBadFile ?? DEFAULT_ON_BAD_FILE;
  if (onBadFile !== 'skip' && onBadFile !== 'fail') {
    throw fatal(ErrorType.InvalidConfig, `Expected ingest.onBadFile to be "skip" or "fail", got ${JSON.stringify(onBadFile)}.`);
  }
  const maxDocumentBytes = input.maxDocumentBytes === undefined ? DEFAULT_MAX_DOCUMENT_BYTES : input.maxDocumentBytes;
  if (maxDocumentBytes !== null && !(Number.isInteger(maxDocumentBytes) && maxDocumentBytes >= 1)) {
    throw fatal(ErrorType.InvalidConfig, `Expected ingest.maxDocumentBytes to be a positive integer or null, got ${JSON.stringify(maxDocumentBytes)}.`);
  }
  return { onBadFile, maxDocumentBytes };
}

export async function ingestStage(input: IngestInput, deps?: IngestDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const options = resolveOptions(input);
  const files = await listSourceFiles(store, input.source, deps?.http);
  // Non-default part limits change the file layout, so they take part in the fingerprint.
  const params = {
    languages: input.languages,
    maxRowsPerLanguage: input.maxRowsPerLanguage,
    ...options,
    ...(deps?.partLimits ? { partLimits: deps.partLimits } : {}),
  };
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'ingest',
    params,
    inputs: [{ source: input.source, files: files.map((f) => ({ uri: f.uri, size: f.size, ...(f.version ? { version: f.version } : {}) })) }],
    work: (dir) => {
      const run = new IngestRun(store, dir, files, input, options, deps);
      return withHeartbeat(() => run.execute(), () => run.progress());
    },
  });
}

/** A failure that makes a file (or a row group) unusable: the onBadFile policy applies. */
function isBadInput(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && (err.type === ErrorType.InvalidInput || err.type === ErrorType.SchemaMismatch);
}

class IngestRun {
  private readonly writer: PartitionWriter;
  private readonly wanted: Set<string>;
  private readonly cap: number;
  private readonly present = new Map<string, number>(); // every lang seen, for the error message
  private readonly skipped: { uri: string; reason: string }[] = [];
  private filesSkipped = 0;
  private filesEmpty = 0;
  private filesRead = 0;
  private rowGroupsSkipped = 0;
  private rowsInSkippedRowGroups = 0;
  private rowsIn = 0;
  private rowsWithoutLang = 0;
  private rowsInvalidUtf8 = 0;
  private rowsTooLarge = 0;
  private bytesRead = 0;
  private currentFile: string | undefined;
  private firstBadFile: ApplicationFailure | undefined;

  constructor(
    private readonly store: ArtifactStore,
    private readonly dir: string,
    private readonly files: SourceFile[],
    private readonly input: IngestInput,
    private readonly options: { onBadFile: OnBadFile; maxDocumentBytes: number | null },
    private readonly deps: IngestDeps | undefined,
  ) {
    this.writer = new PartitionWriter(store, dir, deps?.partLimits ?? { rows: PART_MAX_ROWS, contentBytes: PART_MAX_CONTENT_BYTES });
    this.wanted = new Set(input.languages.map((l) => l.toLowerCase()));
    this.cap = input.maxRowsPerLanguage ?? Infinity;
  }

  progress(): IngestProgress {
    const rowsOut = [...this.writer.partitions.values()].reduce((n, p) => n + p.rowsOut, 0);
    return { filesRead: this.filesRead, files: this.files.length, rowsIn: this.rowsIn, rowsOut, ...(this.currentFile ? { file: withoutQuery(this.currentFile) } : {}) };
  }

  private allCapped(): boolean {
    if (this.wanted.size === 0 || this.cap === Infinity) return false;
    return [...this.wanted].every((l) => {
      const p = [...this.writer.partitions.values()].find((x) => x.lang.toLowerCase() === l);
      return p !== undefined && p.rowsOut >= this.cap;
    });
  }

  async execute() {
    try {
      for (const file of this.files) {
        if (this.allCapped()) break;
        this.currentFile = file.uri;
        this.deps?.onIngestProgress?.(this.progress());
        await this.ingestFile(file);
        this.filesRead++;
        this.deps?.onIngestProgress?.(this.progress());
      }
      this.currentFile = undefined;
      await this.writer.finish();
    } finally {
      await this.writer.dispose();
    }
    this.checkNotEmpty();
    await this.store.writeBytes(joinUri(this.dir, DETAILS_NAME), JSON.stringify(this.details(), null, 2) + '\n');
    return { outputs: this.writer.outputs, stats: this.stats() };
  }

  /** Applies onBadFile: throw (naming the file) or record the skip. */
  private badFile(uri: string, err: ApplicationFailure, what = 'file'): void {
    if (this.options.onBadFile === 'fail') {
      throw fatal(err.type as ErrorType, `${err.message} (ingest.onBadFile is "fail"; set it to "skip" to skip and count bad ${what}s)`, err.details?.[0]);
    }
    this.firstBadFile ??= err;
    this.recordSkip(uri, err.message);
  }

  private recordSkip(uri: string, reason: string): void {
    // Query strings may hold signatures (presigned URLs): never in the details file.
    if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push({ uri: withoutQuery(uri), reason });
  }

  private async ingestFile(file: SourceFile): Promise<void> {
    const local = await localSource(this.store, file, this.deps?.http ? { http: this.deps.http } : {});
    let reader: ParquetRowGroups | undefined;
    try {
      let cols: SourceColumns;
      try {
        reader = await ParquetRowGroups.open(local.path, file.uri);
        cols = resolveSourceColumns(reader.schema, file.uri);
      } catch (err) {
        if (!isBadInput(err)) throw err;
        this.filesSkipped++;
        this.badFile(file.uri, err);
        return;
      }
      this.bytesRead += file.size;
      if (reader.numRows === 0) {
        this.filesEmpty++;
        this.recordSkip(file.uri, 'empty: the file holds 0 rows');
        return;
      }
      for (let g = 0; g < reader.rowGroupRows.length && !this.allCapped(); g++) {
        try {
          await this.ingestRowGroup(reader, g, cols, file.uri);
        } catch (err) {
          if (!isBadInput(err)) throw err;
          this.rowGroupsSkipped++;
          this.rowsInSkippedRowGroups += reader.rowGroupRows[g] ?? 0;
          this.badFile(file.uri, err, 'row group');
        }
        await yieldToEventLoop();
      }
    } finally {
      await reader?.close();
      await local.release();
    }
  }

  private async ingestRowGroup(reader: ParquetRowGroups, g: number, cols: SourceColumns, uri: string): Promise<void> {
    const langs = readStringColumn(await reader.read(g, [cols.from.lang!]), cols.from.lang!);
    const selected: number[] = [];
    for (let i = 0; i < langs.length; i++) {
      const lang = langs[i];
      if (lang === null || lang === '') continue;
      if (this.wanted.size > 0 && !this.wanted.has(lang.toLowerCase())) continue;
      selected.push(i);
    }
    // Rows are counted only once the row group decoded: a skipped row group counts apart.
    const table = selected.length > 0 ? await reader.read(g, cols.read) : undefined;
    this.rowsIn += langs.length;
    for (const lang of langs) {
      if (lang === null || lang === '') this.rowsWithoutLang++;
      else this.present.set(lang, (this.present.get(lang) ?? 0) + 1);
    }
    if (!table) return;
    const { rows, invalidUtf8 } = sourceRowsToStack(table, cols, selected);
    this.rowsInvalidUtf8 += invalidUtf8.length;
    for (const i of invalidUtf8) this.writer.partition(langs[i]!).rowsIn++;
    for (const row of rows) {
      const p = this.writer.partition(row.lang!);
      p.rowsIn++;
      if (p.rowsOut >= this.cap) continue;
      const bytes = row.content === null ? 0 : Buffer.byteLength(row.content, 'utf8');
      if (this.options.maxDocumentBytes !== null && bytes > this.options.maxDocumentBytes) {
        this.rowsTooLarge++;
        continue;
      }
      await this.writer.add(p, row, bytes, uri);
    }
  }

  private checkNotEmpty(): void {
    const missing = this.input.languages.filter((l) => ![...this.writer.partitions.values()].some((p) => p.lang.toLowerCase() === l.toLowerCase() && p.rowsOut > 0));
    if (this.writer.outputs.length > 0 && missing.length === 0) return;
    // One file, and it is bad: its own error says it best.
    if (this.files.length === 1 && this.firstBadFile) throw this.firstBadFile;
    const presentList = [...this.present.entries()].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} (${n})`);
    const which = this.wanted.size === 0 ? 'no rows with a language' : `no rows for languages [${(missing.length > 0 ? missing : this.input.languages).join(', ')}]`;
    const dropped = [
      this.filesSkipped > 0 ? `${this.filesSkipped} of ${this.files.length} file(s) skipped as unreadable (first: ${this.skipped.find((s) => !s.reason.startsWith('empty:'))?.reason ?? '?'})` : '',
      this.filesEmpty > 0 ? `${this.filesEmpty} file(s) empty` : '',
      this.rowsInvalidUtf8 > 0 ? `${this.rowsInvalidUtf8} row(s) not UTF-8` : '',
      this.rowsTooLarge > 0 ? `${this.rowsTooLarge} row(s) over ingest.maxDocumentBytes (${this.options.maxDocumentBytes})` : '',
    ].filter(Boolean);
    throw fatal(
      ErrorType.InvalidInput,
      `${which} in ${this.input.source}; languages present: ${presentList.length > 0 ? presentList.join(', ') : 'none'}` +
        (dropped.length > 0 ? `; ${dropped.join('; ')}` : ''),
    );
  }

  private perLanguage() {
    return [...this.writer.partitions.values()].filter((p) => p.rowsOut > 0 || p.rowsIn > 0).sort((a, b) => (a.folder < b.folder ? -1 : 1));
  }

  private details() {
    const perLanguage: Record<string, { rows: number; bytes: number; files: number; source_files: number }> = {};
    for (const p of this.perLanguage()) perLanguage[p.lang] = { rows: p.rowsOut, bytes: p.contentBytes, files: p.parts, source_files: p.sourceFiles.size };
    const listed = this.skipped.length;
    const total = this.filesSkipped + this.filesEmpty + this.rowGroupsSkipped;
    return { per_language: perLanguage, skipped: this.skipped, ...(total > listed ? { skipped_not_listed: total - listed } : {}) };
  }

  private stats(): Record<string, unknown> {
    const perLanguage: Record<string, { rows_in: number; rows_out: number; parts: number }> = {};
    for (const p of this.perLanguage()) perLanguage[p.lang] = { rows_in: p.rowsIn, rows_out: p.rowsOut, parts: p.parts };
    return {
      files_listed: this.files.length,
      files_read: this.filesRead - this.filesSkipped,
      files_skipped: this.filesSkipped,
      files_empty: this.filesEmpty,
      row_groups_skipped: this.rowGroupsSkipped,
      rows_in_skipped_row_groups: this.rowsInSkippedRowGroups,
      rows_in: this.rowsIn,
      rows_out: this.writer.outputs.reduce((n, o) => n + (o.rows ?? 0), 0),
      rows_without_lang: this.rowsWithoutLang,
      rows_invalid_utf8: this.rowsInvalidUtf8,
      rows_too_large: this.rowsTooLarge,
      per_language: perLanguage,
      bytes_read: this.bytesRead,
      bytes_written: this.writer.bytesWritten,
    };
  }
}
