/**
 * ingest's output side: one partition per language, `lang=<folder>/part-NNNNN.parquet`, each part
 * streamed to a local temporary file row group by row group (ParquetStreamWriter) and uploaded to
 * the store when it reaches its row or content limit. Memory stays bounded whatever the input:
 * each language buffers at most one row group, and all languages together at most
 * PENDING_BUDGET_BYTES of content before the largest buffer is written out.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinUri, type ManifestFile } from '../../lib/manifest.js';
import { ParquetStreamWriter, PARQUET_ROW_GROUP_SIZE } from '../../lib/parquet.js';
import { langFolder, rowsToTable, type StackRow } from '../../lib/stackSchema.js';
import { byUri, type ArtifactStore } from '../../lib/storage/types.js';

/** Content bytes of one buffered row group (a row group is also capped at PARQUET_ROW_GROUP_SIZE rows). */
export const ROW_GROUP_MAX_CONTENT_BYTES = 8 * 1024 * 1024;
/** Content bytes buffered over all languages before the largest buffer is flushed. */
export const PENDING_BUDGET_BYTES = 32 * 1024 * 1024;

export interface PartLimits {
  rows: number;
  contentBytes: number;
}

interface OpenPart {
  index: number;
  writer: ParquetStreamWriter;
  localPath: string;
  rows: number;
  contentBytes: number;
}

export interface Partition {
  /** `lang` as it first appeared in the data. */
  lang: string;
  folder: string;
  rowsIn: number;
  rowsOut: number;
  contentBytes: number;
  parts: number;
  /** Source files that gave this language at least one row. */
  sourceFiles: Set<string>;
  pending: StackRow[];
  pendingBytes: number;
  open: OpenPart | undefined;
}

export class PartitionWriter {
  readonly partitions = new Map<string, Partition>();
  readonly outputs: ManifestFile[] = [];
  /** Content bytes of each part written, by URI (the commit needs them when it caps a language). */
  readonly contentBytesOf = new Map<string, number>();
  bytesWritten = 0;
  private pendingTotal = 0;
  private tmp: string | undefined;

  constructor(
    private readonly store: ArtifactStore,
    private readonly dir: string,
    private readonly limits: PartLimits,
  ) {}

  /** The partition of `lang`, created on first use. */
  partition(lang: string): Partition {
    const folder = langFolder(lang);
    let p = this.partitions.get(folder);
    if (!p) {
      p = { lang, folder, rowsIn: 0, rowsOut: 0, contentBytes: 0, parts: 0, sourceFiles: new Set(), pending: [], pendingBytes: 0, open: undefined };
      this.partitions.set(folder, p);
    }
    return p;
  }

  async add(p: Partition, row: StackRow, contentBytes: number, sourceUri: string): Promise<void> {
    p.rowsOut++;
    p.contentBytes += contentBytes;
    p.sourceFiles.add(sourceUri);
    p.pending.push(row);
    p.pendingBytes += contentBytes;
    this.pendingTotal += contentBytes;
    const part = p.open ?? (p.open = await this.openPart(p));
    part.rows++;
    part.contentBytes += contentBytes;
    if (part.rows >= this.limits.rows || part.contentBytes >= this.limits.contentBytes) {
      await this.closePart(p);
    } else if (p.pending.length >= PARQUET_ROW_GROUP_SIZE || p.pendingBytes >= ROW_GROUP_MAX_CONTENT_BYTES) {
      await this.flushRowGroup(p);
    }
    if (this.pendingTotal > PENDING_BUDGET_BYTES) {
      const largest = [...this.partitions.values()].reduce((a, b) => (b.pendingBytes > a.pendingBytes ? b : a));
      await this.flushRowGroup(largest);
    }
  }

  private async openPart(p: Partition): Promise<OpenPart> {
    this.tmp ??= await mkdtemp(join(tmpdir(), 'kiln-ingest-parts-'));
    const localPath = join(this.tmp, `${p.folder.replace(/[^A-Za-z0-9._-]/g, '_')}-${p.parts}.parquet`);
    return { index: p.parts, writer: new ParquetStreamWriter(localPath), localPath, rows: 0, contentBytes: 0 };
  }

  private async flushRowGroup(p: Partition): Promise<void> {
    if (p.pending.length === 0 || !p.open) return;
    const rows = p.pending;
    this.pendingTotal -= p.pendingBytes;
    p.pending = [];
    p.pendingBytes = 0;
    await p.open.writer.write(rowsToTable(rows));
  }

  private async closePart(p: Partition): Promise<void> {
    const part = p.open;
    if (!part) return;
    await this.flushRowGroup(p);
    p.open = undefined;
    const { bytes, sha256, rows } = await part.writer.finish();
    const uri = joinUri(this.dir, `lang=${p.folder}`, `part-${String(part.index).padStart(5, '0')}.parquet`);
    await this.store.upload(part.localPath, uri);
    await rm(part.localPath, { force: true });
    this.outputs.push({ uri, bytes, sha256, rows });
    this.contentBytesOf.set(uri, part.contentBytes);
    this.bytesWritten += bytes;
    p.parts++;
  }

  /** Writes every open part out. */
  async finish(): Promise<void> {
    for (const p of this.partitions.values()) await this.closePart(p);
    this.outputs.sort(byUri);
  }

  /** Removes local temporaries (after finish, or after a failure). */
  async dispose(): Promise<void> {
    for (const p of this.partitions.values()) await p.open?.writer.abort();
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }
}
