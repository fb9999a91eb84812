/**
 * The pipeline's data stages, ingest to shards. Since release 0.2.0 ingest, clean and shard run
 * as plan -> part(i) -> commit (workflows/fanOut.ts). Runs started on 0.1.0 (no `fan-out-stages`
 * marker in their history) keep the calls they were started with, so they replay and finish on
 * new workers; that branch goes once no such run is left (README: shipping a change while runs
 * are in flight).
 */
import { executeChild, patched } from '@temporalio/workflow';
import { TASK_QUEUES } from '../contracts/workflows.js';
import type { PipelineConfig } from '../lib/config/types.js';
import type { StageResult } from '../lib/manifest.js';
import { dedupWorkflow } from './dedup.js';
import { fanOut } from './fanOut.js';
import { dataStage } from './proxies.js';

export const FAN_OUT_PATCH = 'fan-out-stages';

export interface DataStages {
  ingest: () => Promise<StageResult>;
  clean: (ingest: StageResult) => Promise<StageResult>;
  dedup: (clean: StageResult) => Promise<StageResult>;
  tokenizer: (dedup: StageResult) => Promise<StageResult>;
  shard: (dedup: StageResult, tokenizer: StageResult) => Promise<StageResult>;
}

/** The data stages of a run with its resolved config (0.1.0 runs, without the patch marker, keep their old calls). */
export function dataStages(cfg: PipelineConfig, workflowId: string): DataStages {
  const root = cfg.artifacts;
  const current = patched(FAN_OUT_PATCH); // false only when replaying a run started on 0.1.0
  const ingestInput = {
    artifactsRoot: root,
    source: cfg.ingest.source,
    languages: cfg.ingest.languages,
    maxRowsPerLanguage: cfg.ingest.maxRowsPerLanguage,
    seed: cfg.seed,
    onBadFile: cfg.ingest.onBadFile,
    maxDocumentBytes: cfg.ingest.maxDocumentBytes,
    // Absent from 0.1.0 configs' histories: only passed when set, so their inputs replay unchanged.
    ...(current ? { bytesPerPart: cfg.ingest.bytesPerPart } : {}),
  };
  return {
    ingest: () =>
      current
        ? fanOut({ plan: () => dataStage.ingestPlan(ingestInput), part: dataStage.ingestPart, commit: dataStage.ingestCommit })
        : dataStage.ingestStage(ingestInput),
    clean: async (ingest) => {
      const input = { artifactsRoot: root, input: ingest, params: cfg.clean };
      if (current) return fanOut({ plan: () => dataStage.cleanPlan(input), part: dataStage.cleanPart, commit: dataStage.cleanCommit });
      const opened = await dataStage.cleanPlan(input);
      if ('done' in opened) return opened.done;
      await Promise.all(opened.plan.files.map((_, i) => dataStage.cleanPart(opened.plan, i)));
      return dataStage.cleanCommit(opened.plan);
    },
    // Map-reduce over activities (signatures, band buckets, clustering, filtering) as a child workflow.
    dedup: (clean) =>
      executeChild(dedupWorkflow, {
        workflowId: `${workflowId}/dedup`,
        taskQueue: TASK_QUEUES.workflows,
        args: [{ artifactsRoot: root, input: clean, params: cfg.dedup, seed: cfg.seed }],
      }),
    tokenizer: (dedup) => dataStage.tokenizerStage({ artifactsRoot: root, input: dedup, params: cfg.tokenizer, seed: cfg.seed }),
    shard: async (dedup, tokenizer) => {
      const input = { artifactsRoot: root, input: dedup, tokenizer, params: cfg.shard, seed: cfg.seed };
      if (current) return fanOut({ plan: () => dataStage.shardPlan(input), part: dataStage.shardPart, commit: dataStage.shardCommit });
      const first = await dataStage.shardStage(input);
      if (!('fanOut' in first)) return first;
      const parts = await Promise.all(first.parts.map((p) => dataStage.shardPartStage({ ...input, ...p, dir: first.dir })));
      return (await dataStage.shardStage({ ...input, parts })) as StageResult;
    },
  };
}
