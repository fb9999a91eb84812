// Activities of the data (CPU) worker: the data stages, tokenizer, shards, eval execution.
import { cleanCommit, cleanPart, cleanPlan, cleanStage } from './clean/index.js';
import { createDedupActivities, dedupStage } from './dedup/index.js';
import { evalStage } from './evalStage.js';
import { ingestStage } from './ingest.js';
import { planTraining } from './planTraining.js';
import { prepareRun } from './prepareRun.js';
import { dataReportStage } from './report/dataReport.js';
import { shardPartStage, shardStage } from './shard.js';
import { tokenizerStage } from './tokenizer.js';

export function createDataActivities() {
  return { prepareRun, ingestStage, cleanStage, cleanPlan, cleanPart, cleanCommit, dedupStage, tokenizerStage, shardStage, shardPartStage, planTraining, evalStage, dataReportStage, ...createDedupActivities() };
}
