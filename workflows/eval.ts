/**
 * The eval stage as plan -> part(i) -> commit (contracts/fanOut.ts): the plan on the data queue,
 * then for every part its generation on the GPU queue followed by its execution on the data
 * queue (parts overlap: one part runs its programs while the next generates), then the commit.
 * Each part step is memoized by the activities, so a lost worker costs one part.
 */
import type { PipelineConfig } from '../lib/config/types.js';
import type { StageResult } from '../lib/manifest.js';
import { inParallel } from './fanOut.js';
import { dataStage, gpuStage } from './proxies.js';

/** Since release 0.3.0 the pipeline evaluates through evalStages and checks eval.gate before deploy. */
export const MULTI_LANGUAGE_EVAL_PATCH = 'multi-language-eval';

export async function evalStages(input: { artifactsRoot: string; model: StageResult; params: PipelineConfig['eval']; seed: number }): Promise<StageResult> {
  const opened = await dataStage.evalPlan(input);
  if ('done' in opened) return opened.done;
  const { plan } = opened;
  await inParallel(opened.parts, async (i) => {
    await gpuStage.generatePart(plan, i);
    await dataStage.executePart(plan, i);
  });
  return dataStage.evalCommit(plan);
}

/** The gate before deploy, when the config names a baseline (fails the deploy non-retryably). */
export async function checkEvalGate(evaluation: StageResult, gate: PipelineConfig['eval']['gate']): Promise<void> {
  if (!gate?.baseline || typeof evaluation.stats.metricsUri !== 'string') return;
  await dataStage.evalGate({ metricsUri: evaluation.stats.metricsUri, baseline: gate.baseline, maxDropPoints: gate.maxDropPoints });
}
