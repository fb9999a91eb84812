/**
 * One part of ingest: a run of consecutive source files (one big file, or several small ones up
 * to the plan's byte budget), read row group by row group into per-language part files under
 * `<stage dir>/_work/p-NNNNN/`. The language cap applies within the part here; the commit applies
 * it across parts, in source order.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { joinUri } from '../../lib/manifest.js';
import { ParquetRowGroups } from '../../lib/parquetRowGroups.js';
import { readStringColumn } from '../../lib/stackSchema.js';
import { resolveSourceColumns, sourceRowsToStack, type SourceColumns } from '../../lib/stackSource.js';
import type { HttpStore } from '../../lib/storage/httpStore.js';
import { localSource, withoutQuery, type SourceFile } from '../../lib/storage/sources.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { yieldToEventLoop } from '../support/heartbeat.js';
import { PartitionWriter } from './partitions.js';
import type { FilePartition, IngestOptions, PartResult } from './types.js';

/** Where part `index` writes its files and its record. */
export function partWorkDir(dir: string, index: number): string {
  return joinUri(dir, '_work', `p-${String(index).padStart(5, '0')}`);
}

/** A failure that makes a file (or a row group) unusable: the onBadFile policy applies. */
function isBadInput(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && (err.type === ErrorType.InvalidInput || err.type === ErrorType.SchemaMismatch);
}

export class PartIngest {
  readonly result: PartResult;
  private currentUri = '';
  private readonly writer: PartitionWriter;
  private readonly wanted: Set<string>;
  private readonly cap: number;

  constructor(
    private readonly store: ArtifactStore,
    dir: string,
    index: number,
    private readonly files: SourceFile[],
    private readonly options: IngestOptions,
    private readonly http?: HttpStore,
    private readonly onFile?: (uri: string, soFar: PartResult) => void,
    /** Only these row groups of the one file (a big file split over several parts). */
    private readonly rowGroups?: [number, number],
  ) {
    this.writer = new PartitionWriter(store, partWorkDir(dir, index), options.partLimits);
    this.wanted = new Set(options.languages.map((l) => l.toLowerCase()));
    this.cap = options.maxRowsPerLanguage ?? Infinity;
    this.result = {
      index,
      files: files.length,
      filesRead: 0,
      filesSkipped: 0,
      filesEmpty: 0,
      bytesRead: 0,
      rowsIn: 0,
      rowsWithoutLang: 0,
      rowsInvalidUtf8: 0,
      rowsTooLarge: 0,
      rowGroupsSkipped: 0,
      rowsInSkippedRowGroups: 0,
      present: {},
      skipped: [],
      partitions: [],
    };
  }

  rowsOut(): number {
    return [...this.writer.partitions.values()].reduce((n, p) => n + p.rowsOut, 0);
  }

  /** Whether this part counts its file (a file split over parts is counted by its first). */
  private countsFile(): boolean {
    return !this.rowGroups || this.rowGroups[0] === 0;
  }

  /** The file being read (for heartbeats), without query strings. */
  current(): string {
    return this.currentUri;
  }

  async run(): Promise<PartResult> {
    try {
      for (const file of this.files) {
        if (this.allCapped()) break;
        this.currentUri = withoutQuery(file.uri);
        this.onFile?.(this.currentUri, this.result);
        await this.readFile(file);
      }
      await this.writer.finish();
    } finally {
      await this.writer.dispose();
    }
    this.result.partitions = this.partitions();
    return this.result;
  }

  private allCapped(): boolean {
    if (this.wanted.size === 0 || this.cap === Infinity) return false;
    return [...this.wanted].every((l) => {
      const p = [...this.writer.partitions.values()].find((x) => x.lang.toLowerCase() === l);
      return p !== undefined && p.rowsOut >= this.cap;
    });
  }

  /** Applies onBadFile: throw (naming the file) or record the skip. */
  private badInput(err: ApplicationFailure, what: 'file' | 'row group'): void {
    if (this.options.onBadFile === 'fail') {
      throw fatal(err.type as ErrorType, `${err.message} (ingest.onBadFile is "fail"; set it to "skip" to skip and count bad ${what}s)`, err.details?.[0]);
    }
    this.result.badInput ??= { type: err.type ?? ErrorType.InvalidInput, message: err.message, ...(err.details?.[0] === undefined ? {} : { details: err.details[0] }) };
    this.result.skipped.push({ uri: this.currentUri, reason: err.message });
  }

  private async readFile(file: SourceFile): Promise<void> {
    const local = await localSource(this.store, file, this.http ? { http: this.http } : {});
    let reader: ParquetRowGroups | undefined;
    try {
      let cols: SourceColumns;
      try {
        reader = await ParquetRowGroups.open(local.path, file.uri);
        cols = resolveSourceColumns(reader.schema, file.uri);
      } catch (err) {
        if (!isBadInput(err)) throw err;
        if (!this.countsFile()) return; // the file's first part counts and reports it
        this.result.filesSkipped++;
        this.result.filesRead++;
        this.badInput(err, 'file');
        return;
      }
      if (this.countsFile()) {
        this.result.filesRead++;
        this.result.bytesRead += file.size;
      }
      if (reader.numRows === 0) {
        if (!this.countsFile()) return;
        this.result.filesEmpty++;
        this.result.skipped.push({ uri: this.currentUri, reason: 'empty: the file holds 0 rows' });
        return;
      }
      const [from, to] = this.rowGroups ?? [0, reader.rowGroupRows.length];
      for (let g = from; g < Math.min(to, reader.rowGroupRows.length) && !this.allCapped(); g++) {
        try {
          await this.readRowGroup(reader, g, cols, file.uri);
        } catch (err) {
          if (!isBadInput(err)) throw err;
          this.result.rowGroupsSkipped++;
          this.result.rowsInSkippedRowGroups += reader.rowGroupRows[g] ?? 0;
          this.badInput(err, 'row group');
        }
        await yieldToEventLoop();
      }
    } finally {
      await reader?.close();
      await local.release();
    }
  }

  private async readRowGroup(reader: ParquetRowGroups, g: number, cols: SourceColumns, uri: string): Promise<void> {
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
    const r = this.result;
    r.rowsIn += langs.length;
    for (const lang of langs) {
      if (lang === null || lang === '') r.rowsWithoutLang++;
      else r.present[lang] = (r.present[lang] ?? 0) + 1;
    }
    if (!table) return;
    const { rows, invalidUtf8 } = sourceRowsToStack(table, cols, selected);
    r.rowsInvalidUtf8 += invalidUtf8.length;
    for (const i of invalidUtf8) this.writer.partition(langs[i]!).rowsIn++;
    for (const row of rows) {
      const p = this.writer.partition(row.lang!);
      p.rowsIn++;
      if (p.rowsOut >= this.cap) continue;
      const bytes = row.content === null ? 0 : Buffer.byteLength(row.content, 'utf8');
      if (this.options.maxDocumentBytes !== null && bytes > this.options.maxDocumentBytes) {
        r.rowsTooLarge++;
        continue;
      }
      await this.writer.add(p, row, bytes, uri);
    }
  }

  private partitions(): FilePartition[] {
    return [...this.writer.partitions.values()]
      .sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0))
      .map((p) => ({
        lang: p.lang,
        folder: p.folder,
        rowsIn: p.rowsIn,
        rowsOut: p.rowsOut,
        contentBytes: p.contentBytes,
        sourceFiles: [...p.sourceFiles].map(withoutQuery),
        parts: this.writer.outputs.filter((o) => o.uri.includes(`/lang=${p.folder}/`)).map((o) => ({ ...o, contentBytes: this.writer.contentBytesOf.get(o.uri) ?? 0 })),
      }));
  }
}
