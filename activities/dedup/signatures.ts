/**
 * sign(p): per input file, each row's content hash, MinHash signature and rank key; its band
 * keys (and the content hash as one more "band") shuffled into one file per reducer.
 */
import { createHash } from 'node:crypto';
import type { Table } from 'apache-arrow';
import { readParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, forEachUtf8, readListColumn, readNumberColumn, readStringColumn } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized } from '../support/stageIo.js';
import { yieldToEventLoop } from '../support/heartbeat.js';
import { EXACT_BAND } from './edges.js';
import { fmix32, MinHasher } from './minhash.js';
import type { DedupPlan } from './plan.js';
import { licenceClass } from './rank.js';
import { bytesOf, encodeSignatures, U32Builder, workFiles, type PartitionMeta } from './workFiles.js';

export interface SignSummary {
  rows: number;
  signed: number;
  bytesRead: number;
  contentBytes: number;
}

/** A 64-bit key of one band (two 32-bit halves), from its rows' signature values. */
function bandKey(sigs: Int32Array, offset: number, rows: number, band: number, out: Uint32Array): void {
  let h1 = 0x27d4eb2f ^ band;
  let h2 = 0x165667b1 ^ Math.imul(band, 0x9e3779b1);
  for (let r = 0; r < rows; r++) {
    const v = sigs[offset + r]!;
    h1 = Math.imul(h1 ^ v, 0x85ebca6b) ^ (h1 >>> 13);
    h2 = Math.imul(h2 ^ fmix32(v), 0xc2b2ae35) ^ (h2 >>> 16);
  }
  out[0] = fmix32(h1 ^ rows);
  out[1] = fmix32(h2 + rows);
}

export async function signPartition(store: ArtifactStore, plan: DedupPlan, p: number): Promise<SignSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`sign-${p}`), async () => {
    const uri = plan.partitions[p]!;
    const bytes = await store.readBytes(uri);
    assertStackSchema(readParquetTable(bytes, uri, { limit: 0 }), uri);
    const table = readParquetTable(bytes, uri, { columns: ['content', 'max_stars_repo_licenses', 'max_stars_count', 'max_stars_repo_path', 'max_stars_repo_name'] });
    const s = await signRows(table, plan);
    const meta = partitionMeta(table, uri, s.hash);
    if (plan.params.near) await store.writeBytes(files.signatures(p), encodeSignatures(table.numRows, plan.params.numPerm, s.has, s.sigs));
    await store.writeBytes(files.meta(p), JSON.stringify(meta));
    for (let k = 0; k < plan.reducers; k++) await store.writeBytes(files.bands(p, k), bytesOf(s.buckets[k]!.view()));
    return { rows: table.numRows, signed: s.signed, bytesRead: bytes.byteLength, contentBytes: s.contentBytes };
  });
}

/** Every row's content hash and signature; its band-key records [band, key1, key2, row], one builder per reducer. */
async function signRows(table: Table, plan: DedupPlan) {
  const content = table.getChild('content')!; // assertStackSchema checked it
  const rows = table.numRows;
  const { params, reducers } = plan;
  const P = params.numPerm;
  const hasher = new MinHasher(P, params.ngram, plan.seed);
  const sigs = new Int32Array(params.near ? rows * P : 0);
  const has = new Uint8Array(rows);
  const hash: string[] = new Array(rows);
  const buckets = Array.from({ length: reducers }, () => new U32Builder(256));
  const key = new Uint32Array(2);
  let row = 0;
  let signed = 0;
  let contentBytes = 0;
  for (const data of content.data) {
    forEachUtf8(data, (doc) => {
      const text = doc ?? new Uint8Array(0);
      contentBytes += text.byteLength;
      const digest = createHash('sha256').update(text).digest();
      hash[row] = digest.toString('hex', 0, 16);
      if (params.exact) {
        const k1 = digest.readUInt32LE(0);
        buckets[k1 % reducers]!.push4(EXACT_BAND, k1, digest.readUInt32LE(4), row);
      }
      if (params.near && hasher.signInto(text, sigs, row * P)) {
        has[row] = 1;
        signed++;
        for (let b = 0; b < params.bands; b++) {
          bandKey(sigs, row * P + b * params.rows, params.rows, b, key);
          buckets[key[0]! % reducers]!.push4(b, key[0]!, key[1]!, row);
        }
      }
      row++;
    });
    await yieldToEventLoop();
  }
  return { sigs, has, hash, buckets, signed, contentBytes };
}

/** What cluster needs of each row to rank it: licence class, stars, path, repository, content hash. */
function partitionMeta(table: Table, uri: string, hash: string[]): PartitionMeta {
  const allRows = Array.from({ length: table.numRows }, (_, i) => i);
  return {
    uri,
    licence: readListColumn(table.getChild('max_stars_repo_licenses')!, allRows).map(licenceClass),
    stars: readNumberColumn(table.getChild('max_stars_count')!, allRows).map((n) => n ?? -1),
    path: readStringColumn(table, 'max_stars_repo_path').map((s) => s ?? ''),
    repo: readStringColumn(table, 'max_stars_repo_name').map((s) => s ?? ''),
    hash,
  };
}
