// Activities of the data (CPU) worker: the data stages, tokenizer, shards, eval execution.
import { cleanCommit, cleanPart, cleanPlan, cleanStage } from './clean/index.js';
import { createDedupActivities, dedupStage } from './dedup/index.js';
import { evalStage } from './evalStage.js';
import { evalCommit, evalGate, evalPlan, executePart } from './eval/run/index.js';
import { ingestCommit, ingestPart, ingestPlan, ingestStage } from './ingest/index.js';
import { planTraining } from './planTraining.js';
import { prepareRun } from './prepareRun.js';
import { registerPipelineModel } from './registry.js';
import { createRolloutActivities } from './rollout/index.js';
import { dataReportStage } from './report/dataReport.js';
import { shardCommit, shardPart, shardPartStage, shardPlan, shardStage } from './shard/index.js';
import { tokenizerStage } from './tokenizer.js';

export function createDataActivities() {
  return {
    prepareRun,
    ingestPlan,
    ingestPart,
    ingestCommit,
    shardPlan,
    shardPart,
    shardCommit,
    // Release 0.1.0's single-activity ingest and two-call shard: runs started then still call them.
    ingestStage, cleanStage, cleanPlan, cleanPart, cleanCommit, dedupStage, tokenizerStage, shardStage, shardPartStage, planTraining, evalStage, evalPlan, executePart, evalCommit, evalGate, dataReportStage, ...createDedupActivities(),
    // The model registry and the modelRollout workflow's gateway and registry calls.
    registerPipelineModel, ...createRolloutActivities() };
}
