// Inline stand-ins for the pipeline's data activities, for workflow tests about training: every
// data stage finds its result committed (as on a re-run), and training is planned for `steps`.
import type { StageResult } from '../../lib/manifest.js';

export function stageResult(stage: string, stats: Record<string, unknown> = {}): StageResult {
  return {
    stage,
    fingerprint: stage.padEnd(64, '0'),
    dir: `file:///a/stages/${stage}/x`,
    manifestUri: `file:///a/stages/${stage}/x/_MANIFEST.json`,
    outputs: [`file:///a/stages/${stage}/x/part-00000.parquet`],
    stats,
    reused: false,
  };
}

export function committedDataStages(runKey: string, steps: number) {
  const done = (stage: string) => async () => ({ done: stageResult(stage) });
  return {
    async prepareRun({ config }: { config: unknown }) {
      return { config, runUri: 'file:///a/runs/x' };
    },
    ingestPlan: done('ingest'),
    cleanPlan: done('clean'),
    dedupPlan: done('dedup'),
    shardPlan: done('shard'),
    async dataReportStage() {
      return stageResult('data-report', { html: 'file:///a/report.html' });
    },
    async tokenizerStage() {
      return stageResult('tokenizer', { vocabSize: 300, tokenizerUri: 'file:///a/tok.json' });
    },
    async planTraining() {
      return { runKey: runKey.repeat(64).slice(0, 64), trainer: { seed: 1, model: {}, train: { steps }, vocabSize: 300, seqLen: 8, eosTokenId: 0 }, checkpointsUri: `file:///a/train/${runKey}/checkpoints` };
    },
    evalPlan: done('eval'),
    async registerPipelineModel() {
      return { version: 'v', created: true };
    },
    async evalStage() {
      return stageResult('eval', { passAtK: { 'pass@1': 0 }, problems: 1, samplesUri: 's', resultsUri: 'r' });
    },
  };
}
