/**
 * dedup: exact (content hash) and near (MinHash LSH, The Stack's parameters) deduplication over
 * every document of the input, all languages together, one file kept per duplicate cluster
 * (permissive licence, then stars, then path). The work is map-reduce (./run.ts, one module per
 * step): the pipeline runs it as the dedupWorkflow child workflow, one activity per partition or
 * reducer; `dedupStage` runs the same steps in one activity or process (`kiln dedup`, benchmarks).
 */
import type { StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { defaultStore, type StageDeps } from '../support/stageIo.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { bucketReducer } from './buckets.js';
import { clusterDuplicates } from './cluster.js';
import { commitDedup, type DedupSummaries } from './commit.js';
import { filterPartition } from './filter.js';
import { planDedup, type DedupInput, type DedupPlan, type DedupStart } from './plan.js';
import { runDedup, type DedupProgress } from './run.js';
import { signPartition } from './signatures.js';
import { verifyPartition } from './verify.js';

export { DEFAULT_DEDUP_PARAMS, resolveDedupParams, type DedupParams } from './params.js';
export type { DedupInput, DedupPlan, DedupStart } from './plan.js';
export type { DedupProgress } from './run.js';
export type { DedupSummaries } from './commit.js';

/** All of dedup in one activity (or process, outside Temporal). */
export async function dedupStage(input: DedupInput, deps?: StageDeps & { onProgress?: (p: DedupProgress) => void }): Promise<StageResult> {
  const store = await defaultStore(deps);
  let progress: DedupProgress = { phase: 'signatures', done: 0, total: 0 };
  return withHeartbeat(
    () =>
      runDedup(store, input, (p) => {
        progress = p;
        deps?.onProgress?.(p);
      }),
    () => progress,
  );
}

/** One activity per map-reduce step, for the dedupWorkflow (data task queue). */
export function createDedupActivities(deps?: StageDeps) {
  const step =
    <A extends unknown[], T>(f: (store: ArtifactStore, ...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      const store = await defaultStore(deps);
      return withHeartbeat(() => f(store, ...args));
    };
  return {
    dedupPlan: step((store, input: DedupInput): Promise<DedupStart> => planDedup(store, input)),
    dedupSignatures: step((store, plan: DedupPlan, partition: number) => signPartition(store, plan, partition)),
    dedupBuckets: step((store, plan: DedupPlan, reducer: number) => bucketReducer(store, plan, reducer)),
    dedupVerify: step((store, plan: DedupPlan, partition: number) => verifyPartition(store, plan, partition)),
    dedupCluster: step((store, plan: DedupPlan) => clusterDuplicates(store, plan)),
    dedupFilter: step((store, plan: DedupPlan, partition: number) => filterPartition(store, plan, partition)),
    dedupCommit: step((store, plan: DedupPlan, summaries: DedupSummaries) => commitDedup(store, plan, summaries)),
  };
}

export type DedupActivities = ReturnType<typeof createDedupActivities>;
