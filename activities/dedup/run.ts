/**
 * dedup as map-reduce steps, one module each, each bounded by one partition (or one reducer's
 * share of the band buckets), each memoized in the artifact store. The dedupWorkflow runs every
 * step as an activity (partitions and reducers in parallel); `runDedup` runs the same functions
 * one after the other in one process (the `kiln dedup` command, the single-activity dedupStage).
 *
 *   plan.ts        plan: stage fingerprint and folder (a committed manifest ends here), partitions,
 *                  reducers
 *   signatures.ts  sign(p): per input file, content hash, MinHash signature, rank key of every row;
 *                  band keys (and the content hash as one more "band") shuffled into one file per reducer
 *   buckets.ts     bucket(k): per reducer, sort its band keys; documents sharing a key become candidate edges
 *   verify.ts      verify(p), optional: per partition, candidate pairs whose signatures agree on >= threshold
 *   cluster.ts     cluster: union-find over exact and (verified) near edges; per cluster the best-ranked
 *                  file is kept; drop lists per partition; _DETAILS.json
 *   filter.ts      filter(p): per input file, the kept rows written (a file that loses nothing is copied)
 *   commit.ts      commit: the manifest
 *
 * A document is (partition, row); partitions are the input's Parquet files sorted by URI. The
 * intermediate files are in workFiles.ts, the records passed between steps in edges.ts.
 */
import type { StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { bucketReducer } from './buckets.js';
import { clusterDuplicates } from './cluster.js';
import { commitDedup } from './commit.js';
import { filterPartition } from './filter.js';
import { planDedup, type DedupInput, type DedupPlan } from './plan.js';
import { signPartition } from './signatures.js';
import { verifyPartition } from './verify.js';

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
