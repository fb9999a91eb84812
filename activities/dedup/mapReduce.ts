/**
 * dedup as map-reduce steps, each bounded by one partition (or one reducer's share of the band
 * buckets), each memoized in the artifact store. The dedupWorkflow runs every step as an
 * activity (partitions and reducers in parallel); `runDedup` runs the same functions one after
 * the other in one process (the `kiln dedup` command, the single-activity dedupStage).
 *
 *   plan        stage fingerprint and folder (a committed manifest ends here), partitions, reducers
 *   sign(p)     per input file: content hash, MinHash signature, rank key of every row; band keys
 *               (and the content hash as one more "band") shuffled into one file per reducer
 *   bucket(k)   per reducer: sort its band keys, documents sharing a key become candidate edges
 *   verify(p)   per partition (optional): candidate pairs whose signatures agree on >= threshold
 *   cluster     union-find over exact and (verified) near edges; per cluster the best-ranked file
 *               is kept; drop lists per partition; _DETAILS.json
 *   filter(p)   per input file: the kept rows written (a file that loses nothing is copied)
 *   commit      the manifest
 *
 * A document is (partition, row); partitions are the input's Parquet files sorted by URI.
 */
import { createHash } from 'node:crypto';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { commitStage, describeBytes, DETAILS_NAME, joinUri, openStage, type ManifestFile, type StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, forEachUtf8, readListColumn, readNumberColumn, readStringColumn, rowsToTable, tableToRows } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized, parquetOutputs, relativeTo } from '../support/stageIo.js';
import { yieldToEventLoop } from '../support/heartbeat.js';
import { fmix32, MinHasher, signatureAgreement } from './minhash.js';
import { resolveDedupParams, type DedupParams } from './params.js';
import { compareRank, licenceClass, type RankKey } from './rank.js';
import {
  bytesOf,
  decodeSignatures,
  encodeSignatures,
  u32Of,
  U32Builder,
  workFiles,
  type PartitionMeta,
  type SignatureFile,
} from './workFiles.js';

export interface DedupInput {
  artifactsRoot: string;
  /** The clean stage's result. */
  input: StageResult;
  params?: Partial<DedupParams>;
  /** Seeds the MinHash permutations. */
  seed: number;
  /** Band-bucket reducers; default from the input's row count. Never changes the result. */
  reducers?: number;
}

export interface DedupPlan {
  dir: string;
  fingerprint: string;
  inputDir: string;
  inputs: unknown[];
  params: DedupParams;
  seed: number;
  partitions: string[];
  reducers: number;
  /** Folder of the intermediate files. */
  work: string;
}

export type DedupStart = { done: StageResult; plan?: undefined } | { plan: DedupPlan; done?: undefined };

/** Band-key records (16 bytes each) a reducer should hold at most, when the count is automatic. */
const RECORDS_PER_REDUCER = 4_000_000;
/** Band id of the exact-duplicate "band" (the content hash). */
const EXACT_BAND = 0xffffffff;
/** With verification, each member of a band bucket is checked against this many members before it. */
const VERIFY_WINDOW = 8;

export async function planDedup(store: ArtifactStore, input: DedupInput): Promise<DedupStart> {
  const params = resolveDedupParams(input.params);
  if (!Number.isInteger(input.seed) || input.seed < 0) throw fatal(ErrorType.InvalidConfig, `Expected seed to be a non-negative integer, got ${input.seed}.`);
  const stageParams = { ...params, seed: input.seed };
  const inputs = [{ stage: input.input.stage, fingerprint: input.input.fingerprint }];
  const { fingerprint, dir, reused } = await openStage(store, input.artifactsRoot, { stage: 'dedup', params: stageParams, inputs });
  if (reused) return { done: reused };
  const partitions = parquetOutputs(input.input);
  let reducers = input.reducers;
  if (reducers !== undefined && !(Number.isInteger(reducers) && reducers >= 1 && reducers <= 4096)) {
    throw fatal(ErrorType.InvalidConfig, `Expected the dedup reducer count to be an integer in 1..4096, got ${reducers}.`);
  }
  if (reducers === undefined) {
    const s = input.input.stats;
    const rows = typeof s.kept === 'number' ? s.kept : typeof s.rows_out === 'number' ? s.rows_out : partitions.length * 100_000;
    reducers = Math.max(1, Math.min(256, Math.ceil((rows * (params.bands + 1)) / RECORDS_PER_REDUCER)));
  }
  return { plan: { dir, fingerprint, inputDir: input.input.dir, inputs, params, seed: input.seed, partitions, reducers, work: joinUri(dir, '_work', `r${reducers}`) } };
}

// ---------------------------------------------------------------------------------------------
// sign(p)

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
    const { params, reducers } = plan;
    const bytes = await store.readBytes(uri);
    assertStackSchema(readParquetTable(bytes, uri, { limit: 0 }), uri);
    const table = readParquetTable(bytes, uri, { columns: ['content', 'max_stars_repo_licenses', 'max_stars_count', 'max_stars_repo_path', 'max_stars_repo_name'] });
    const content = table.getChild('content')!; // assertStackSchema checked it
    const rows = table.numRows;
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
    const allRows = Array.from({ length: rows }, (_, i) => i);
    const meta: PartitionMeta = {
      uri,
      licence: readListColumn(table.getChild('max_stars_repo_licenses')!, allRows).map(licenceClass),
      stars: readNumberColumn(table.getChild('max_stars_count')!, allRows).map((n) => n ?? -1),
      path: readStringColumn(table, 'max_stars_repo_path').map((s) => s ?? ''),
      repo: readStringColumn(table, 'max_stars_repo_name').map((s) => s ?? ''),
      hash,
    };
    if (params.near) await store.writeBytes(files.signatures(p), encodeSignatures(rows, P, has, sigs));
    await store.writeBytes(files.meta(p), JSON.stringify(meta));
    for (let k = 0; k < reducers; k++) await store.writeBytes(files.bands(p, k), bytesOf(buckets[k]!.view()));
    return { rows, signed, bytesRead: bytes.byteLength, contentBytes };
  });
}

// ---------------------------------------------------------------------------------------------
// bucket(k)

export interface BucketSummary {
  records: number;
  /** Band buckets holding two or more documents. */
  sharedBuckets: number;
  edges: number;
}

/** Edge records in files: [partitionA, rowA, partitionB, rowB, kind] with (A) < (B); kind 1 exact, 0 near. */
export const EDGE_WIDTH = 5;

export async function bucketReducer(store: ArtifactStore, plan: DedupPlan, k: number): Promise<BucketSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`bucket-${k}`), async () => {
    // Records of this reducer from every partition: [band, key1, key2, row] + partition.
    const parts: Uint32Array[] = [];
    let total = 0;
    for (let p = 0; p < plan.partitions.length; p++) {
      const r = u32Of(await store.readBytes(files.bands(p, k)));
      parts.push(r);
      total += r.length / 4;
    }
    const band = new Uint32Array(total);
    const k1 = new Uint32Array(total);
    const k2 = new Uint32Array(total);
    const part = new Uint32Array(total);
    const row = new Uint32Array(total);
    let n = 0;
    parts.forEach((r, p) => {
      for (let i = 0; i < r.length; i += 4) {
        band[n] = r[i]!;
        k1[n] = r[i + 1]!;
        k2[n] = r[i + 2]!;
        part[n] = p;
        row[n] = r[i + 3]!;
        n++;
      }
    });
    parts.length = 0;
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    order.sort((a, b) => band[a]! - band[b]! || k1[a]! - k1[b]! || k2[a]! - k2[b]! || part[a]! - part[b]! || row[a]! - row[b]!);

    const edges = new U32Builder(1024);
    const seen = new Set<string>();
    let sharedBuckets = 0;
    const addEdge = (i: number, j: number, kind: number) => {
      // i precedes j in (partition, row) order within a bucket
      const id = `${part[i]},${row[i]},${part[j]},${row[j]},${kind}`;
      if (seen.has(id)) return;
      seen.add(id);
      edges.push(part[i]!, row[i]!, part[j]!, row[j]!, kind);
    };
    for (let start = 0; start < total; ) {
      const s = order[start]!;
      let end = start + 1;
      while (end < total && band[order[end]!] === band[s] && k1[order[end]!] === k1[s] && k2[order[end]!] === k2[s]) end++;
      if (end - start > 1) {
        sharedBuckets++;
        const exact = band[s] === EXACT_BAND;
        // Exact duplicates and unverified candidates: a star from the bucket's first member.
        // Verified candidates: each member against the few before it, so a dissimilar first
        // member does not hide the similar pairs behind it.
        const window = exact || !plan.params.verify ? 0 : VERIFY_WINDOW;
        for (let m = start + 1; m < end; m++) {
          if (window === 0) addEdge(order[start]!, order[m]!, exact ? 1 : 0);
          else for (let q = Math.max(start, m - window); q < m; q++) addEdge(order[q]!, order[m]!, 0);
        }
      }
      start = end;
    }
    const all = edges.view();
    await store.writeBytes(files.edges(k), bytesOf(all));
    if (plan.params.near && plan.params.verify) {
      // Near candidates again, by their first partition, so that verify(p) reads its own only.
      const byPartition = new Map<number, U32Builder>();
      for (let i = 0; i < all.length; i += EDGE_WIDTH) {
        if (all[i + 4] !== 0) continue;
        let out = byPartition.get(all[i]!);
        if (!out) byPartition.set(all[i]!, (out = new U32Builder(64)));
        out.push(all[i]!, all[i + 1]!, all[i + 2]!, all[i + 3]!, 0);
      }
      for (const [p, out] of byPartition) await store.writeBytes(files.nearEdges(p, k), bytesOf(out.view()));
    }
    return { records: total, sharedBuckets, edges: all.length / EDGE_WIDTH };
  });
}

/** Edges in `uris` (by default every reducer's), each pair and kind once. */
async function readEdges(store: ArtifactStore, plan: DedupPlan, uris?: string[]): Promise<Uint32Array> {
  const files = workFiles(plan.work);
  const out = new U32Builder(1024);
  const seen = new Set<string>();
  for (const uri of uris ?? Array.from({ length: plan.reducers }, (_, k) => files.edges(k))) {
    const e = u32Of(await store.readBytes(uri));
    for (let i = 0; i < e.length; i += EDGE_WIDTH) {
      const id = `${e[i]},${e[i + 1]},${e[i + 2]},${e[i + 3]},${e[i + 4]}`;
      if (seen.has(id)) continue; // the same pair from another band
      seen.add(id);
      out.push(e[i]!, e[i + 1]!, e[i + 2]!, e[i + 3]!, e[i + 4]!);
    }
  }
  return out.view();
}

// ---------------------------------------------------------------------------------------------
// verify(p)

export interface VerifySummary {
  checked: number;
  kept: number;
}

export async function verifyPartition(store: ArtifactStore, plan: DedupPlan, p: number): Promise<VerifySummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`verify-${p}`), async () => {
    const mineOnly = (await store.list(files.nearEdgesOf(p))).map((o) => o.uri).sort();
    const edges = await readEdges(store, plan, mineOnly);
    const mine = decodeSignatures(await store.readBytes(files.signatures(p)));
    // Edges grouped by the other endpoint's partition: one other signature file in memory at a time.
    const byOther = new Map<number, number[]>();
    for (let i = 0; i < edges.length; i += EDGE_WIDTH) {
      const q = edges[i + 2]!;
      let list = byOther.get(q);
      if (!list) byOther.set(q, (list = []));
      list.push(i);
    }
    const kept = new U32Builder(256);
    const P = plan.params.numPerm;
    for (const [q, list] of [...byOther].sort((a, b) => a[0] - b[0])) {
      const other: SignatureFile = q === p ? mine : decodeSignatures(await store.readBytes(files.signatures(q)));
      for (const i of list) {
        const ra = edges[i + 1]!;
        const rb = edges[i + 3]!;
        if (signatureAgreement(mine.sigs, ra * P, other.sigs, rb * P, P) >= plan.params.threshold) kept.push(p, ra, q, rb, 0);
      }
      await yieldToEventLoop();
    }
    await store.writeBytes(files.verified(p), bytesOf(kept.view()));
    return { checked: edges.length / EDGE_WIDTH, kept: kept.length / EDGE_WIDTH };
  });
}

// ---------------------------------------------------------------------------------------------
// cluster

export interface ClusterSummary {
  exact_duplicates: number;
  near_duplicates: number;
  /** Clusters holding near duplicates (two or more distinct contents). */
  clusters: number;
  /** Every cluster of two or more files, exact copies included. */
  duplicate_clusters: number;
  candidate_pairs: number;
  verified_pairs: number;
  exact_pairs: number;
}

/** A document's id in the union-find: partition * 2^32 + row. */
const ID_STRIDE = 2 ** 32;
const docId = (p: number, row: number) => p * ID_STRIDE + row;

class MapUnionFind {
  parent = new Map<number, number>();
  find(x: number): number {
    let root = x;
    for (let next = this.parent.get(root); next !== undefined && next !== root; next = this.parent.get(root)) root = next;
    while (x !== root) {
      const next = this.parent.get(x)!;
      this.parent.set(x, root);
      x = next;
    }
    if (!this.parent.has(root)) this.parent.set(root, root);
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(Math.max(ra, rb), Math.min(ra, rb));
  }
}

export async function clusterDuplicates(store: ArtifactStore, plan: DedupPlan): Promise<ClusterSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done('cluster'), async () => {
    // Exact edges and near candidates, read once; exact edges joined first, then the near ones:
    // every candidate, or only the verified pairs (from the verify step's files).
    const edges = await readEdges(store, plan);
    const onlyVerified = plan.params.near && plan.params.verify;
    const uf = new MapUnionFind();
    const join = (e: Uint32Array, i: number) => uf.union(docId(e[i]!, e[i + 1]!), docId(e[i + 2]!, e[i + 3]!));
    let exactPairs = 0;
    for (let i = 0; i < edges.length; i += EDGE_WIDTH) {
      if (edges[i + 4] !== 1) continue;
      exactPairs++;
      join(edges, i);
    }
    const candidatePairs = edges.length / EDGE_WIDTH - exactPairs;
    let nearPairs = candidatePairs;
    if (onlyVerified) {
      nearPairs = 0;
      for (let p = 0; p < plan.partitions.length; p++) {
        const v = u32Of(await store.readBytes(files.verified(p)));
        for (let i = 0; i < v.length; i += EDGE_WIDTH) join(v, i);
        nearPairs += v.length / EDGE_WIDTH;
      }
    } else {
      for (let i = 0; i < edges.length; i += EDGE_WIDTH) if (edges[i + 4] === 0) join(edges, i);
    }

    // Members of each cluster, then their rank keys, read one partition's metadata at a time.
    const members = new Map<number, number[]>();
    const byPartition = new Map<number, number[]>();
    for (const id of uf.parent.keys()) {
      const root = uf.find(id);
      let list = members.get(root);
      if (!list) members.set(root, (list = []));
      list.push(id);
      const p = Math.floor(id / ID_STRIDE);
      let inPartition = byPartition.get(p);
      if (!inPartition) byPartition.set(p, (inPartition = []));
      inPartition.push(id);
    }
    const keys = new Map<number, RankKey & { hash: string }>();
    for (const [p, ids] of byPartition) {
      const meta = JSON.parse(new TextDecoder().decode(await store.readBytes(files.meta(p)))) as PartitionMeta;
      for (const id of ids) {
        const row = id - p * ID_STRIDE;
        keys.set(id, { licence: meta.licence[row]!, stars: meta.stars[row]!, path: meta.path[row]!, repo: meta.repo[row]!, partition: p, row, hash: meta.hash[row]! });
      }
    }

    const drops: number[][] = plan.partitions.map(() => []);
    const sizes = new Map<number, number>();
    const largest: { size: number; kept: { repo: string; path: string }; removed: { repo: string; path: string }[] }[] = [];
    let exact = 0;
    let nearDup = 0;
    let nearClusters = 0;
    for (const ids of members.values()) {
      const ranked = ids.map((id) => keys.get(id)!).sort(compareRank);
      const distinct = new Set(ranked.map((k) => k.hash)).size;
      exact += ranked.length - distinct;
      nearDup += distinct - 1;
      if (distinct > 1) nearClusters++;
      for (const k of ranked.slice(1)) drops[k.partition]!.push(k.row);
      sizes.set(ranked.length, (sizes.get(ranked.length) ?? 0) + 1);
      largest.push({
        size: ranked.length,
        kept: { repo: ranked[0]!.repo, path: ranked[0]!.path },
        removed: ranked.slice(1, 6).map((k) => ({ repo: k.repo, path: k.path })),
      });
    }
    largest.sort((a, b) => b.size - a.size || (a.kept.repo + a.kept.path < b.kept.repo + b.kept.path ? -1 : 1));
    for (let p = 0; p < drops.length; p++) await store.writeBytes(files.drops(p), JSON.stringify(drops[p]!.sort((a, b) => a - b)));
    const details = {
      exact_duplicates: exact,
      near_duplicates: nearDup,
      cluster_sizes: Object.fromEntries([...sizes].sort((a, b) => a[0] - b[0]).map(([s, c]) => [String(s), c])),
      largest_clusters: largest.slice(0, 10),
    };
    await store.writeBytes(joinUri(plan.dir, DETAILS_NAME), JSON.stringify(details, null, 2) + '\n');
    return {
      exact_duplicates: exact,
      near_duplicates: nearDup,
      clusters: nearClusters,
      duplicate_clusters: members.size,
      candidate_pairs: candidatePairs,
      verified_pairs: nearPairs,
      exact_pairs: exactPairs,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// filter(p)

export interface FilterSummary {
  file: ManifestFile | null;
  rowsIn: number;
  kept: number;
  bytesWritten: number;
}

export async function filterPartition(store: ArtifactStore, plan: DedupPlan, p: number): Promise<FilterSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`filter-${p}`), async () => {
    const uri = plan.partitions[p]!;
    const drops = JSON.parse(new TextDecoder().decode(await store.readBytes(files.drops(p)))) as number[];
    const bytes = await store.readBytes(uri);
    const table = readParquetTable(bytes, uri, { limit: 0 });
    assertStackSchema(table, uri);
    const rowsIn = readParquetTable(bytes, uri, { columns: ['hexsha'] }).numRows;
    const dropped = new Set(drops);
    const keep: number[] = [];
    for (let r = 0; r < rowsIn; r++) if (!dropped.has(r)) keep.push(r);
    if (keep.length === 0) return { file: null, rowsIn, kept: 0, bytesWritten: 0 };
    const out = joinUri(plan.dir, relativeTo(plan.inputDir, uri));
    // A file that loses no row is copied as is (it is already a kiln Parquet file in this schema).
    const data = keep.length === rowsIn ? bytes : writeParquetTable(rowsToTable(tableToRows(readParquetTable(bytes, uri), keep)));
    await store.writeBytes(out, data);
    return { file: describeBytes(out, data, keep.length), rowsIn, kept: keep.length, bytesWritten: data.byteLength };
  });
}

// ---------------------------------------------------------------------------------------------
// commit

export interface DedupSummaries {
  signed: SignSummary[];
  cluster: ClusterSummary;
  filtered: FilterSummary[];
}

export async function commitDedup(store: ArtifactStore, plan: DedupPlan, s: DedupSummaries): Promise<StageResult> {
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  const stats = {
    files_read: plan.partitions.length,
    rows_in: sum(s.signed, (x) => x.rows),
    exact_duplicates: s.cluster.exact_duplicates,
    near_duplicates: s.cluster.near_duplicates,
    clusters: s.cluster.clusters,
    duplicate_clusters: s.cluster.duplicate_clusters,
    kept: sum(s.filtered, (x) => x.kept),
    candidate_pairs: s.cluster.candidate_pairs,
    verified_pairs: s.cluster.verified_pairs,
    bands: plan.params.bands,
    rows: plan.params.rows,
    bytes_read: sum(s.signed, (x) => x.bytesRead),
    content_bytes: sum(s.signed, (x) => x.contentBytes),
    bytes_written: sum(s.filtered, (x) => x.bytesWritten),
  };
  const stage = { stage: 'dedup', fingerprint: plan.fingerprint, dir: plan.dir, params: { ...plan.params, seed: plan.seed }, inputs: plan.inputs };
  return commitStage(store, stage, { outputs: s.filtered.flatMap((f) => (f.file ? [f.file] : [])), stats });
}

// ---------------------------------------------------------------------------------------------

export interface DedupProgress {
  phase: 'signatures' | 'buckets' | 'verify' | 'cluster' | 'filter' | 'commit';
  done: number;
  total: number;
}

/** Every step in this process, in order: the same functions the workflow runs as activities. */
export async function runDedup(store: ArtifactStore, input: DedupInput, onProgress?: (p: DedupProgress) => void): Promise<StageResult> {
  const start = await planDedup(store, input);
  return start.done ?? runDedupSteps(store, start.plan, onProgress);
}

/** The steps after the plan, one after the other. */
export async function runDedupSteps(store: ArtifactStore, plan: DedupPlan, onProgress?: (p: DedupProgress) => void): Promise<StageResult> {
  const P = plan.partitions.length;
  const each = async <T>(phase: DedupProgress['phase'], n: number, f: (i: number) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      onProgress?.({ phase, done: i, total: n });
      out.push(await f(i));
    }
    onProgress?.({ phase, done: n, total: n });
    return out;
  };
  const signed = await each('signatures', P, (p) => signPartition(store, plan, p));
  await each('buckets', plan.reducers, (k) => bucketReducer(store, plan, k));
  if (plan.params.near && plan.params.verify) await each('verify', P, (p) => verifyPartition(store, plan, p));
  onProgress?.({ phase: 'cluster', done: 0, total: 1 });
  const cluster = await clusterDuplicates(store, plan);
  const filtered = await each('filter', P, (p) => filterPartition(store, plan, p));
  onProgress?.({ phase: 'commit', done: 0, total: 1 });
  return commitDedup(store, plan, { signed, cluster, filtered });
}
