// A test-only workflow: the pipeline's data stages (ingest to shards) exactly as llmPipeline runs
// them (workflows/dataStages.ts), without training, so a test can compare them across worker counts.
import { workflowInfo } from '@temporalio/workflow';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { dataStages } from '../../workflows/dataStages.js';

export async function dataStagesOnly(cfg: PipelineConfig): Promise<Record<string, StageResult>> {
  const data = dataStages(cfg, workflowInfo().workflowId);
  const ingest = await data.ingest();
  const clean = await data.clean(ingest);
  const dedup = await data.dedup(clean);
  const tokenizer = await data.tokenizer(dedup);
  const shard = await data.shard(dedup, tokenizer);
  return { ingest, clean, dedup, tokenizer, shard };
}
export { dedupWorkflow } from '../../workflows/dedup.js';
