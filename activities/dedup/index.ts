/**
 * dedup: exact (sha256 of content) then near (MinHash LSH) deduplication over every document of
 * the input, all languages in one pass. Global order: input files sorted by URI, then row order;
 * the first document of each duplicate set is kept. Two passes over the files: signatures from
 * the content column only, then the kept rows are written, one output file per input file.
 */
import { createHash } from 'node:crypto';
import { ErrorType, fatal } from '../../lib/errors.js';
import { describeBytes, joinUri, runStage, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, forEachUtf8, rowsToTable, tableToRows } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { parquetOutputs, relativeTo } from '../clean/index.js';
import { defaultStore, type StageDeps } from '../ingest.js';
import { withHeartbeat, yieldToEventLoop } from '../support/heartbeat.js';
import { clusterSignatures } from './lsh.js';
import { MinHasher } from './minhash.js';

/** The config's dedup section (configs/schema.json), every field resolved. */
export interface DedupParams {
  /** Drop documents whose content is byte-identical to an earlier one; default true. */
  exact: boolean;
  /** Drop near-duplicates found by MinHash LSH; default true. */
  near: boolean;
  /** MinHash permutations; must equal bands * rows; default 256. */
  numPerm: number;
  /** LSH bands; default 32. */
  bands: number;
  /** Signature rows per band; default 8. */
  rows: number;
  /** Shingle size in tokens; default 5. */
  ngram: number;
  /** Estimated Jaccard similarity at or above which a candidate pair is a duplicate; default 0.85. */
  threshold: number;
}

export const DEFAULT_DEDUP_PARAMS: DedupParams = { exact: true, near: true, numPerm: 256, bands: 32, rows: 8, ngram: 5, threshold: 0.85 };

export interface DedupInput {
  artifactsRoot: string;
  /** The clean stage's result. */
  input: StageResult;
  params?: Partial<DedupParams>;
  /** Seeds the MinHash permutations. */
  seed: number;
}

/** Defaults filled in and the rules checked; errors name the field. */
export function resolveDedupParams(params: Partial<DedupParams> = {}): DedupParams {
  const p = { ...DEFAULT_DEDUP_PARAMS };
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_DEDUP_PARAMS)) throw fatal(ErrorType.InvalidConfig, `dedup.${key} is not a dedup setting.`);
    const expected = typeof DEFAULT_DEDUP_PARAMS[key as keyof DedupParams];
    if (typeof value !== expected) throw fatal(ErrorType.InvalidConfig, `Expected dedup.${key} to be a ${expected}, got ${JSON.stringify(value)}.`);
    (p as Record<string, unknown>)[key] = value;
  }
  for (const key of ['numPerm', 'bands', 'rows', 'ngram'] as const) {
    if (!Number.isInteger(p[key]) || p[key] < 1) throw fatal(ErrorType.InvalidConfig, `Expected dedup.${key} to be a positive integer, got ${p[key]}.`);
  }
  if (!(p.threshold >= 0 && p.threshold <= 1)) throw fatal(ErrorType.InvalidConfig, `Expected dedup.threshold to be between 0 and 1, got ${p.threshold}.`);
  if (p.near && p.numPerm !== p.bands * p.rows) {
    throw fatal(
      ErrorType.InvalidConfig,
      `dedup.numPerm must equal dedup.bands * dedup.rows: got numPerm ${p.numPerm}, bands * rows = ${p.bands} * ${p.rows} = ${p.bands * p.rows}.`,
    );
  }
  return p;
}

/** Input files kept in memory between the two passes when they fit in this many bytes. */
const CACHE_LIMIT_BYTES = 512 * 1024 * 1024;

class GrowableI32 {
  data = new Int32Array(1 << 16);
  ensure(size: number): void {
    if (size <= this.data.length) return;
    let len = this.data.length;
    while (len < size) len *= 2;
    const grown = new Int32Array(len);
    grown.set(this.data);
    this.data = grown;
  }
}

export async function dedupStage(input: DedupInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const params = resolveDedupParams(input.params);
  if (!Number.isInteger(input.seed) || input.seed < 0) throw fatal(ErrorType.InvalidConfig, `Expected seed to be a non-negative integer, got ${input.seed}.`);
  const files = parquetOutputs(input.input);
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'dedup',
    params: { ...params, seed: input.seed },
    inputs: [{ stage: input.input.stage, fingerprint: input.input.fingerprint }],
    work: (dir) => {
      const progress = { phase: 'signatures', filesDone: 0, files: files.length };
      return withHeartbeat(() => dedupFiles(store, dir, input.input.dir, files, params, input.seed, progress), () => progress);
    },
  });
}

async function dedupFiles(
  store: ArtifactStore,
  dir: string,
  inputDir: string,
  files: string[],
  params: DedupParams,
  seed: number,
  progress: { phase: string; filesDone: number },
) {
  const hasher = new MinHasher(params.numPerm, params.ngram, seed);
  const P = params.numPerm;
  const sigs = new GrowableI32();
  let hasSig = new Uint8Array(1 << 12);
  const exactDup: number[] = []; // global indices dropped as exact duplicates
  const seen = new Map<string, number>();
  const fileStarts: number[] = [];
  const cache = new Map<string, Uint8Array>();
  let cached = 0;
  let n = 0;
  let bytesRead = 0;

  // Pass 1: hashes and signatures, from the content column only.
  for (const uri of files) {
    const bytes = await store.readBytes(uri);
    bytesRead += bytes.byteLength;
    if (cached + bytes.byteLength <= CACHE_LIMIT_BYTES) {
      cache.set(uri, bytes);
      cached += bytes.byteLength;
    }
    const table = readParquetTable(bytes, uri, { columns: ['content'] });
    const content = table.getChild('content');
    if (!content) throw fatal(ErrorType.SchemaMismatch, `${uri} is not in The Stack's schema: missing column(s) content`);
    fileStarts.push(n);
    for (const data of content.data) {
      forEachUtf8(data, (doc) => {
        const index = n++;
        const text = doc ?? new Uint8Array(0);
        if (index >= hasSig.length) {
          const grown = new Uint8Array(hasSig.length * 2);
          grown.set(hasSig);
          hasSig = grown;
        }
        if (params.exact) {
          const key = createHash('sha256').update(text).digest('base64');
          if (seen.has(key)) {
            exactDup.push(index);
            return; // no signature: never a near-dedup candidate
          }
          seen.set(key, index);
        }
        if (params.near) {
          sigs.ensure((index + 1) * P);
          hasSig[index] = hasher.signInto(text, sigs.data, index * P) ? 1 : 0;
        }
      });
      await yieldToEventLoop();
    }
    progress.filesDone++;
  }
  fileStarts.push(n);
  seen.clear();

  // Near duplicates among the exact-dedup survivors.
  progress.phase = 'clustering';
  const drop = new Uint8Array(n);
  for (const i of exactDup) drop[i] = 1;
  let nearDuplicates = 0;
  let clusters = 0;
  let candidatePairs = 0;
  let verifiedPairs = 0;
  if (params.near && n > 0) {
    const lsh = clusterSignatures(sigs.data, hasSig, n, params);
    candidatePairs = lsh.candidatePairs;
    verifiedPairs = lsh.verifiedPairs;
    const clusterSize = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const root = lsh.roots[i]!;
      if (root === i) continue;
      drop[i] = 1;
      nearDuplicates++;
      clusterSize.set(root, (clusterSize.get(root) ?? 1) + 1);
    }
    clusters = clusterSize.size;
  }

  // Pass 2: write the kept rows, file by file.
  progress.phase = 'writing';
  progress.filesDone = 0;
  const outputs: ManifestFile[] = [];
  let bytesWritten = 0;
  let kept = 0;
  for (let f = 0; f < files.length; f++) {
    const uri = files[f]!;
    const bytes = cache.get(uri) ?? (await store.readBytes(uri));
    cache.delete(uri);
    assertStackSchema(readParquetTable(bytes, uri, { limit: 0 }), uri);
    const keep: number[] = [];
    for (let g = fileStarts[f]!; g < fileStarts[f + 1]!; g++) if (!drop[g]) keep.push(g - fileStarts[f]!);
    kept += keep.length;
    progress.filesDone++;
    if (keep.length === 0) continue;
    const out = joinUri(dir, relativeTo(inputDir, uri));
    // A file that loses no row is copied as is (it is already a kiln Parquet file in this schema).
    const whole = keep.length === fileStarts[f + 1]! - fileStarts[f]!;
    const data = whole ? bytes : writeParquetTable(rowsToTable(tableToRows(readParquetTable(bytes, uri), keep)));
    await store.writeBytes(out, data);
    outputs.push(describeBytes(out, data, keep.length));
    bytesWritten += data.byteLength;
    await yieldToEventLoop();
  }

  return {
    outputs,
    stats: {
      files_read: files.length,
      rows_in: n,
      exact_duplicates: exactDup.length,
      near_duplicates: nearDuplicates,
      clusters,
      kept,
      candidate_pairs: candidatePairs,
      verified_pairs: verifiedPairs,
      bytes_read: bytesRead,
      bytes_written: bytesWritten,
    },
  };
}
