/**
 * ingest: Parquet in The Stack's schema (one file, a folder of files, or one https:// URL) ->
 * one partition per language, `lang=<folder>/part-NNNNN.parquet`, same schema, zstd.
 *
 * The fingerprint covers the source URI and each file's URI and size (not content hashes: the
 * source may be a multi-terabyte dataset). Bad input fails fast and names the file.
 */
import { ErrorType, fatal } from '../lib/errors.js';
import { describeBytes, joinUri, runStage, type ManifestFile, type StageResult } from '../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../lib/parquet.js';
import { assertStackSchema, langFolder, readStringColumn, rowsToTable, tableToRows, type StackRow } from '../lib/stackSchema.js';
import type { ArtifactStore, ObjectInfo } from '../lib/storage/types.js';
import { withHeartbeat, yieldToEventLoop } from './support/heartbeat.js';

export interface IngestInput {
  artifactsRoot: string;
  /** file:// or s3:// URI of one .parquet file or a folder (all *.parquet below it), or one https:// URL. */
  source: string;
  /** `lang` values to keep, case-insensitive; empty keeps every language. */
  languages: string[];
  /** First rows (in source order) kept per language; null for all. */
  maxRowsPerLanguage: number | null;
  /** Not used: ingest takes rows in source order, so the seed takes no part in its output. */
  seed?: number;
}

export interface StageDeps {
  /** The artifact store (defaults to the scheme-routing store of lib/storage). */
  store?: ArtifactStore;
  /** Part-file limits of ingest (tests use small ones); defaults PART_MAX_ROWS, PART_MAX_CONTENT_BYTES. */
  partLimits?: { rows: number; contentBytes: number };
}

/** A partition is split into a new part file past either limit. */
export const PART_MAX_ROWS = 50_000;
export const PART_MAX_CONTENT_BYTES = 64 * 1024 * 1024;

export async function defaultStore(deps: StageDeps | undefined): Promise<ArtifactStore> {
  return deps?.store ?? (await import('../lib/storage/index.js')).store;
}

/** The Parquet files of a source, sorted by URI, with their sizes. */
export async function listSourceFiles(store: ArtifactStore, source: string): Promise<ObjectInfo[]> {
  const listed = await store.list(source);
  const isParquet = (uri: string) => /\.parquet$/i.test(uri.replace(/[?#].*$/, ''));
  const files = listed.filter((o) => isParquet(o.uri) || (o.uri === source && /^https?:/.test(source)));
  if (files.length === 0) {
    const what = listed.length === 0 ? 'nothing found' : `${listed.length} object(s), none ending in .parquet`;
    throw fatal(ErrorType.NotFound, `no Parquet files at ${source} (${what}).`);
  }
  return files.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}

interface Partition {
  /** `lang` as it first appeared in the data. */
  lang: string;
  folder: string;
  rowsIn: number;
  rowsOut: number;
  pending: StackRow[];
  pendingBytes: number;
  parts: number;
}

export async function ingestStage(input: IngestInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const files = await listSourceFiles(store, input.source);
  const wanted = new Set(input.languages.map((l) => l.toLowerCase()));
  // Non-default part limits change the file layout, so they take part in the fingerprint.
  const params = { languages: input.languages, maxRowsPerLanguage: input.maxRowsPerLanguage, ...(deps?.partLimits ? { partLimits: deps.partLimits } : {}) };
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'ingest',
    params,
    inputs: [{ source: input.source, files: files.map((f) => ({ uri: f.uri, size: f.size })) }],
    work: (dir) => {
      let filesRead = 0;
      return withHeartbeat(
        () => ingestFiles(store, dir, files, wanted, input, deps?.partLimits, () => filesRead++),
        () => ({ filesRead, files: files.length }),
      );
    },
  });
}

async function ingestFiles(
  store: ArtifactStore,
  dir: string,
  files: ObjectInfo[],
  wanted: Set<string>,
  input: IngestInput,
  limits: { rows: number; contentBytes: number } = { rows: PART_MAX_ROWS, contentBytes: PART_MAX_CONTENT_BYTES },
  onFile: () => void,
) {
  const cap = input.maxRowsPerLanguage ?? Infinity;
  const partitions = new Map<string, Partition>();
  const present = new Map<string, number>(); // every lang seen, for the error message
  const outputs: ManifestFile[] = [];
  let rowsIn = 0;
  let rowsWithoutLang = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  let filesRead = 0;

  const flush = async (p: Partition) => {
    if (p.pending.length === 0) return;
    const uri = joinUri(dir, `lang=${p.folder}`, `part-${String(p.parts).padStart(5, '0')}.parquet`);
    const bytes = writeParquetTable(rowsToTable(p.pending));
    await store.writeBytes(uri, bytes);
    outputs.push(describeBytes(uri, bytes, p.pending.length));
    bytesWritten += bytes.byteLength;
    p.parts++;
    p.pending = [];
    p.pendingBytes = 0;
  };
  const allCapped = () =>
    wanted.size > 0 &&
    [...wanted].every((l) => {
      const p = partitions.get(langFolder(l));
      return p !== undefined && p.rowsOut >= cap;
    });

  for (const file of files) {
    if (allCapped()) break;
    const bytes = await store.readBytes(file.uri);
    bytesRead += bytes.byteLength;
    filesRead++;
    onFile();
    // Schema first (no rows decoded), then the lang column; whole rows only where some match.
    assertStackSchema(readParquetTable(bytes, file.uri, { limit: 0 }), file.uri);
    const langs = readStringColumn(readParquetTable(bytes, file.uri, { columns: ['lang'] }), 'lang');
    const selected: number[] = [];
    const selectedPartition: Partition[] = [];
    for (let i = 0; i < langs.length; i++) {
      const lang = langs[i];
      rowsIn++;
      if (lang === null || lang === '') {
        rowsWithoutLang++;
        continue;
      }
      present.set(lang, (present.get(lang) ?? 0) + 1);
      if (wanted.size > 0 && !wanted.has(lang.toLowerCase())) continue;
      const folder = langFolder(lang);
      let p = partitions.get(folder);
      if (!p) {
        p = { lang, folder, rowsIn: 0, rowsOut: 0, pending: [], pendingBytes: 0, parts: 0 };
        partitions.set(folder, p);
      }
      p.rowsIn++;
      if (p.rowsOut >= cap) continue;
      p.rowsOut++;
      selected.push(i);
      selectedPartition.push(p);
    }
    if (selected.length > 0) {
      const rows = tableToRows(readParquetTable(bytes, file.uri), selected);
      for (let k = 0; k < selected.length; k++) {
        const row = rows[k]!;
        const p = selectedPartition[k]!;
        p.pending.push(row);
        p.pendingBytes += row.size ?? row.content?.length ?? 0;
        if (p.pending.length >= limits.rows || p.pendingBytes >= limits.contentBytes) await flush(p);
      }
    }
    await yieldToEventLoop();
  }
  for (const p of partitions.values()) await flush(p);

  const missing = input.languages.filter((l) => !partitions.has(langFolder(l)));
  if (outputs.length === 0 || missing.length > 0) {
    const presentList = [...present.entries()].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} (${n})`);
    const which = wanted.size === 0 ? 'no rows with a language' : `no rows for languages [${(missing.length > 0 ? missing : input.languages).join(', ')}]`;
    throw fatal(
      ErrorType.InvalidInput,
      `${which} in ${input.source}; languages present: ${presentList.length > 0 ? presentList.join(', ') : 'none'}`,
    );
  }

  const perLanguage: Record<string, { rows_in: number; rows_out: number; parts: number }> = {};
  for (const p of [...partitions.values()].sort((a, b) => (a.folder < b.folder ? -1 : 1))) {
    perLanguage[p.lang] = { rows_in: p.rowsIn, rows_out: p.rowsOut, parts: p.parts };
  }
  outputs.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return {
    outputs,
    stats: {
      files_read: filesRead,
      files_listed: files.length,
      rows_in: rowsIn,
      rows_out: outputs.reduce((n, o) => n + (o.rows ?? 0), 0),
      rows_without_lang: rowsWithoutLang,
      per_language: perLanguage,
      bytes_read: bytesRead,
      bytes_written: bytesWritten,
    },
  };
}
