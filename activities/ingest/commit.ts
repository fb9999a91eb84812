/**
 * The commit of ingest: adds up the parts' records in source-file order, applies the language cap
 * across files (first rows in source order), and moves each part file from `_work/` to its final
 * name, `lang=<folder>/part-NNNNN.parquet`, numbered per language in source order. The layout is
 * the same however the parts were spread over workers. A retried commit finds moved files in
 * place and goes on (ArtifactStore.move).
 */
import type { Table } from 'apache-arrow';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { describeBytes, DETAILS_NAME, joinUri, type ManifestFile, type StageWork } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { readStringColumn } from '../../lib/stackSchema.js';
import { byUri, type ArtifactStore } from '../../lib/storage/types.js';
import type { IngestPlan, PartResult } from './types.js';

/** Entries of _DETAILS.json "skipped" kept (the count is always complete). */
const MAX_SKIPPED_LISTED = 1000;

interface Language {
  lang: string;
  folder: string;
  rowsIn: number;
  rowsOut: number;
  contentBytes: number;
  parts: number;
  sourceFiles: Set<string>;
}

function partName(dir: string, folder: string, n: number): string {
  return joinUri(dir, `lang=${folder}`, `part-${String(n).padStart(5, '0')}.parquet`);
}

function contentBytesOf(table: Table): number {
  return readStringColumn(table, 'content').reduce((n, c) => n + (c === null ? 0 : Buffer.byteLength(c, 'utf8')), 0);
}

/** The first `rows` rows of a part, written under its final name. */
async function truncatePart(store: ArtifactStore, src: string, dst: string, rows: number): Promise<{ file: ManifestFile; contentBytes: number }> {
  const table = readParquetTable(await store.readBytes(src), src, { limit: rows });
  const bytes = writeParquetTable(table);
  await store.writeBytes(dst, bytes);
  await store.remove(src);
  return { file: describeBytes(dst, bytes, table.numRows), contentBytes: contentBytesOf(table) };
}

export async function commitIngest(store: ArtifactStore, plan: IngestPlan, results: PartResult[], onMoved?: (n: number) => void): Promise<StageWork> {
  const cap = plan.options.maxRowsPerLanguage ?? Infinity;
  const languages = new Map<string, Language>();
  const outputs: ManifestFile[] = [];
  let moved = 0;
  const parts = [...results].sort((a, b) => a.index - b.index);
  for (const done of parts) {
    for (const fp of done.partitions) {
      let l = languages.get(fp.folder);
      if (!l) languages.set(fp.folder, (l = { lang: fp.lang, folder: fp.folder, rowsIn: 0, rowsOut: 0, contentBytes: 0, parts: 0, sourceFiles: new Set() }));
      l.rowsIn += fp.rowsIn;
      for (const uri of fp.sourceFiles) l.sourceFiles.add(uri);
      for (const part of fp.parts) {
        const room = cap - l.rowsOut;
        const rows = part.rows ?? 0;
        if (room <= 0) {
          await store.remove(part.uri);
          continue;
        }
        const dst = partName(plan.dir, l.folder, l.parts);
        if (rows <= room) {
          await store.move(part.uri, dst);
          outputs.push({ uri: dst, bytes: part.bytes, sha256: part.sha256, rows });
          l.rowsOut += rows;
          l.contentBytes += part.contentBytes;
        } else {
          const cut = (await store.exists(part.uri)) ? await truncatePart(store, part.uri, dst, room) : await describeCommitted(store, dst);
          outputs.push(cut.file);
          l.rowsOut += cut.file.rows ?? 0;
          l.contentBytes += cut.contentBytes;
        }
        l.parts++;
        onMoved?.(++moved);
      }
    }
  }
  const merged = new Merged(plan, parts, [...languages.values()].sort((a, b) => (a.folder < b.folder ? -1 : 1)), outputs.sort(byUri));
  merged.checkNotEmpty();
  await store.writeBytes(joinUri(plan.dir, DETAILS_NAME), JSON.stringify(merged.details(), null, 2) + '\n');
  return { outputs: merged.outputs, stats: merged.stats() };
}

/** A part that an earlier attempt of this commit already cut: read back what it wrote. */
async function describeCommitted(store: ArtifactStore, uri: string): Promise<{ file: ManifestFile; contentBytes: number }> {
  const bytes = await store.readBytes(uri);
  const table = readParquetTable(bytes, uri);
  return { file: describeBytes(uri, bytes, table.numRows), contentBytes: contentBytesOf(table) };
}

/** The parts' counts added up: the stage's stats, details and its empty-output error. */
class Merged {
  constructor(
    private readonly plan: IngestPlan,
    private readonly files: PartResult[],
    private readonly languages: Language[],
    readonly outputs: ManifestFile[],
  ) {}

  private sum(key: 'filesRead' | 'filesSkipped' | 'filesEmpty' | 'bytesRead' | 'rowsIn' | 'rowsWithoutLang' | 'rowsInvalidUtf8' | 'rowsTooLarge' | 'rowGroupsSkipped' | 'rowsInSkippedRowGroups'): number {
    return this.files.reduce((n, f) => n + f[key], 0);
  }

  private skipped() {
    return this.files.flatMap((f) => f.skipped);
  }

  checkNotEmpty(): void {
    const { languages: wanted, maxDocumentBytes } = this.plan.options;
    const missing = wanted.filter((l) => !this.languages.some((p) => p.lang.toLowerCase() === l.toLowerCase() && p.rowsOut > 0));
    if (this.outputs.length > 0 && missing.length === 0) return;
    // One file, and it is bad: its own error says it best.
    const only = this.plan.files.length === 1 ? this.files[0]!.badInput : undefined;
    if (only) throw fatal(only.type as ErrorType, only.message, only.details);
    const present = new Map<string, number>();
    for (const f of this.files) for (const [lang, n] of Object.entries(f.present)) present.set(lang, (present.get(lang) ?? 0) + n);
    const presentList = [...present.entries()].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} (${n})`);
    const which = wanted.length === 0 ? 'no rows with a language' : `no rows for languages [${(missing.length > 0 ? missing : wanted).join(', ')}]`;
    const filesSkipped = this.sum('filesSkipped');
    const dropped = [
      filesSkipped > 0 ? `${filesSkipped} of ${this.plan.files.length} file(s) skipped as unreadable (first: ${this.skipped().find((s) => !s.reason.startsWith('empty:'))?.reason ?? '?'})` : '',
      this.sum('filesEmpty') > 0 ? `${this.sum('filesEmpty')} file(s) empty` : '',
      this.sum('rowsInvalidUtf8') > 0 ? `${this.sum('rowsInvalidUtf8')} row(s) not UTF-8` : '',
      this.sum('rowsTooLarge') > 0 ? `${this.sum('rowsTooLarge')} row(s) over ingest.maxDocumentBytes (${maxDocumentBytes})` : '',
    ].filter(Boolean);
    throw fatal(
      ErrorType.InvalidInput,
      `${which} in ${this.plan.source}; languages present: ${presentList.length > 0 ? presentList.join(', ') : 'none'}` + (dropped.length > 0 ? `; ${dropped.join('; ')}` : ''),
    );
  }

  private perLanguage(): Language[] {
    return this.languages.filter((p) => p.rowsOut > 0 || p.rowsIn > 0);
  }

  details() {
    const perLanguage: Record<string, { rows: number; bytes: number; files: number; source_files: number }> = {};
    for (const p of this.perLanguage()) perLanguage[p.lang] = { rows: p.rowsOut, bytes: p.contentBytes, files: p.parts, source_files: p.sourceFiles.size };
    const all = this.skipped();
    const skipped = all.slice(0, MAX_SKIPPED_LISTED);
    const total = this.sum('filesSkipped') + this.sum('filesEmpty') + this.sum('rowGroupsSkipped');
    return { per_language: perLanguage, skipped, ...(total > skipped.length ? { skipped_not_listed: total - skipped.length } : {}) };
  }

  stats(): Record<string, unknown> {
    const perLanguage: Record<string, { rows_in: number; rows_out: number; parts: number }> = {};
    for (const p of this.perLanguage()) perLanguage[p.lang] = { rows_in: p.rowsIn, rows_out: p.rowsOut, parts: p.parts };
    return {
      files_listed: this.plan.files.length,
      files_read: this.sum('filesRead') - this.sum('filesSkipped'),
      files_skipped: this.sum('filesSkipped'),
      files_empty: this.sum('filesEmpty'),
      row_groups_skipped: this.sum('rowGroupsSkipped'),
      rows_in_skipped_row_groups: this.sum('rowsInSkippedRowGroups'),
      rows_in: this.sum('rowsIn'),
      rows_out: this.outputs.reduce((n, o) => n + (o.rows ?? 0), 0),
      rows_without_lang: this.sum('rowsWithoutLang'),
      rows_invalid_utf8: this.sum('rowsInvalidUtf8'),
      rows_too_large: this.sum('rowsTooLarge'),
      per_language: perLanguage,
      bytes_read: this.sum('bytesRead'),
      bytes_written: this.outputs.reduce((n, o) => n + o.bytes, 0),
    };
  }
}
