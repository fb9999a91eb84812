/**
 * dedupWorkflow: the dedup stage as map-reduce over activities on the data task queue (see
 * activities/dedup/run.ts): signatures per partition in parallel, band buckets per reducer
 * in parallel, verification per partition in parallel, one clustering step, filtering per
 * partition in parallel, then the manifest. Every step's output is memoized in the artifact
 * store, so a retried step or a re-run finds its work done. Returns the stage's StageResult.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { DedupActivities, DedupInput } from '../activities/dedup/index.js';
import { nonRetryableErrorTypes } from '../contracts/errors.js';
import type { StageResult } from '../lib/manifest.js';
import { TASK_QUEUES } from '../contracts/workflows.js';
import { inParallel } from './fanOut.js';

const dedup = proxyActivities<DedupActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '4 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes },
});

export async function dedupWorkflow(input: DedupInput): Promise<StageResult> {
  // The fan-out shape of workflows/fanOut.ts with several phases between plan and commit.
  const start = await dedup.dedupPlan(input);
  if (start.done) return start.done;
  const plan = start.plan;
  const partitions = plan.partitions.length;
  const signed = await inParallel(partitions, (p) => dedup.dedupSignatures(plan, p));
  await inParallel(plan.reducers, (k) => dedup.dedupBuckets(plan, k));
  if (plan.params.near && plan.params.verify) await inParallel(partitions, (p) => dedup.dedupVerify(plan, p));
  const cluster = await dedup.dedupCluster(plan);
  const filtered = await inParallel(partitions, (p) => dedup.dedupFilter(plan, p));
  return dedup.dedupCommit(plan, { signed, cluster, filtered });
}
