/** commit: the dedup stage's manifest, its stats summed from the steps' summaries. */
import { commitStage, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import type { ClusterSummary } from './cluster.js';
import type { FilterSummary } from './filter.js';
import type { DedupPlan } from './plan.js';
import type { SignSummary } from './signatures.js';

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
