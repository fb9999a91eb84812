/**
 * llmPipeline: ingest -> clean -> dedup -> tokenizer -> shard -> train -> export -> eval -> deploy.
 * Orchestration only: every side effect is an activity; payloads carry URIs and small stats.
 */
import { ApplicationFailure, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors.js';
import type { TrainingPlan } from '../activities/planTraining.js';
import type { PipelineResult } from '../contracts/pipeline.js';
import type { TrainingRunResult } from '../contracts/training.js';
import { TASK_QUEUES } from '../contracts/workflows.js';
import { ConfigError, validateConfig } from '../lib/config/validate.js';
import type { PipelineConfig } from '../lib/config/types.js';
import type { StageResult } from '../lib/manifest.js';
import { dataStages } from './dataStages.js';
import { checkEvalGate, evalStages, MULTI_LANGUAGE_EVAL_PATCH } from './eval.js';
import { PipelineTracker } from './pipelineStatus.js';
import { dataStage, gpuStage, reportStage } from './proxies.js';
import { trainingRun } from './training.js';

/** The config, validated with its defaults filled, or a non-retryable failure naming the field. */
function validated(rawConfig: unknown): PipelineConfig {
  try {
    return validateConfig(rawConfig);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message: err.message, nonRetryable: true, details: [{ field: err.field }] });
    }
    throw err;
  }
}

export async function llmPipeline(rawConfig: unknown): Promise<PipelineResult> {
  const config = validated(rawConfig);
  const tracker = new PipelineTracker(config);
  const { status } = tracker;
  const stage = tracker.stage.bind(tracker);
  const { workflowId } = workflowInfo();

  const run = await dataStage.prepareRun({ config, workflowId });
  const cfg = run.config; // URIs resolved to absolute ones
  const root = cfg.artifacts;
  const data = dataStages(cfg, workflowId);

  const ingest = await stage('ingest', data.ingest);
  const clean = await stage('clean', () => data.clean(ingest));
  const dedup = await stage('dedup', () => data.dedup(clean));
  // The data report only reads the stages above: a failure there is recorded in the result, not fatal.
  const reports: Record<string, string> = await reportStage
    .dataReportStage({ artifactsRoot: root, ingest, clean, dedup, title: `Data report: ${cfg.name}` })
    .then(
      (r) => ({ data: String(r.stats.html) }),
      (err: unknown) => ({ dataError: String((err as { cause?: Error }).cause?.message ?? (err as Error).message ?? err) }),
    );
  const tokenizer = await stage('tokenizer', () => data.tokenizer(dedup));
  const shards = await stage('shard', () => data.shard(dedup, tokenizer));

  const plan = await dataStage.planTraining({ config: cfg, shards, tokenizer });
  const train = await stage('train', () => trainModel(tracker, cfg, plan, shards.dir));
  tracker.training = undefined;
  if (train.reportUri) reports.training = train.reportUri; // loss and throughput curves
  Object.assign(status.train, { step: train.steps, loss: train.finalLoss, lastCheckpoint: train.checkpoint, paused: false });

  const exported = await stage('export', () =>
    gpuStage.exportModelStage({ artifactsRoot: root, checkpoint: train.checkpoint, tokenizer }),
  );
  // Runs started before multi-language eval (no marker) keep the single generate + eval calls.
  const multiLanguageEval = patched(MULTI_LANGUAGE_EVAL_PATCH);
  const evaluation = await stage('eval', async () => {
    if (multiLanguageEval) return evalStages({ artifactsRoot: root, model: exported, params: cfg.eval, seed: cfg.seed });
    const samples = await gpuStage.generateSamplesStage({ artifactsRoot: root, model: exported, params: cfg.eval, seed: cfg.seed });
    return dataStage.evalStage({ artifactsRoot: root, samples, params: cfg.eval });
  });
  if (typeof evaluation.stats.reportUri === 'string') reports.eval = evaluation.stats.reportUri; // per-language pass@k, failures, per-problem table
  const deployment = await stage('deploy', async () => {
    if (multiLanguageEval) await checkEvalGate(evaluation, cfg.eval.gate);
    const deployed = await gpuStage.deployModel({ artifactsRoot: root, model: exported, name: cfg.name, params: cfg.deploy });
    // Release 0.3.0: the deployed engine joins the gateway's routes (first version at weight 1,
    // later ones at 0 until a rollout moves traffic); a worker without a gateway does nothing.
    if (patched(GATEWAY_REGISTER_PATCH) && cfg.gateway?.register !== false) {
      await gpuStage.registerDeployment({ version: deployed.modelVersion, endpoint: deployed.endpoint });
    }
    return deployed;
  });
  // Release 0.3.0: every deployed model becomes a version in the registry, with its lineage and
  // per-language eval scores, for `kiln models` and rollouts. A failure here is reported, not fatal.
  if (patched(REGISTER_MODEL_PATCH)) {
    await dataStage
      .registerPipelineModel({
        artifactsRoot: root,
        name: cfg.name,
        workflowId,
        version: deployment.modelVersion,
        exported,
        tokenizer,
        dataStages: [ingest, clean, dedup, shards],
        train: { steps: train.steps, finalLoss: train.finalLoss, checkpoint: train.checkpoint, ...(train.reportUri ? { reportUri: train.reportUri } : {}) },
        evaluation,
        deployment: { endpoint: deployment.endpoint, recordUri: deployment.recordUri, ...(deployment.engine ? { engine: deployment.engine.kind } : {}) },
      })
      .catch((err: unknown) => void (reports.registryError = String((err as { cause?: Error }).cause?.message ?? (err as Error).message ?? err)));
  }
  tracker.finish('done');

  const stages = { ingest, clean, dedup, tokenizer, shards, exported, evaluation };
  return pipelineResult(cfg.name, stages, train, deployment, reports);
}

const GATEWAY_REGISTER_PATCH = 'gateway-register';
const REGISTER_MODEL_PATCH = 'register-model-version';

/** Release 0.3.0: the training run gets a workflow task timeout long enough to replay its history. */
const TRAINING_TASK_TIMEOUT_PATCH = 'training-task-timeout-60s';

/** Starts the training run as a child (forwarding a pause that came meanwhile) and awaits it. */
async function trainModel(tracker: PipelineTracker, cfg: PipelineConfig, plan: TrainingPlan, shardsDir: string): Promise<TrainingRunResult> {
  const { status } = tracker;
  const { workflowId } = workflowInfo();
  const trainingWorkflowId = `${workflowId}/train`;
  status.train.workflowId = trainingWorkflowId;
  const startPaused = status.paused;
  tracker.training = await startChild(trainingRun, {
    workflowId: trainingWorkflowId,
    taskQueue: TASK_QUEUES.workflows,
    // A training run's history reaches thousands of events before it continues as new; replaying
    // it on a busy worker (after a restart or a cache eviction) can pass the default 10 s task
    // timeout, and a task that always times out never completes. Continue-as-new keeps the value.
    ...(patched(TRAINING_TASK_TIMEOUT_PATCH) ? { workflowTaskTimeout: '60s' } : {}),
    args: [
      {
        runKey: plan.runKey,
        trainer: plan.trainer,
        shardsDir,
        checkpointsUri: plan.checkpointsUri,
        nodes: cfg.train.nodes,
        procsPerNode: cfg.train.procsPerNode,
        maxGangRestarts: cfg.train.maxGangRestarts,
        progressEverySeconds: cfg.train.progressEverySeconds,
        heartbeatTimeoutSeconds: cfg.train.heartbeatTimeoutSeconds,
        stallTimeoutSeconds: cfg.train.stallTimeoutSeconds,
        pipelineWorkflowId: workflowId,
        startPaused,
      },
    ],
  });
  if (status.paused !== startPaused) tracker.forward(status.paused); // a signal that came while the child started
  return tracker.training.result();
}

type Finished = Record<'ingest' | 'clean' | 'dedup' | 'tokenizer' | 'shards' | 'exported' | 'evaluation', StageResult>;

/** What the run hands back: artifact locations, small stats, training, eval and deployment. */
function pipelineResult(name: string, s: Finished, train: TrainingRunResult, deployment: PipelineResult['deployment'], reports: Record<string, string>): PipelineResult {
  return {
    name,
    artifacts: {
      ingest: s.ingest.dir,
      clean: s.clean.dir,
      dedup: s.dedup.dir,
      tokenizer: s.tokenizer.dir,
      shards: s.shards.dir,
      checkpoint: train.checkpoint,
      model: s.exported.dir,
      eval: s.evaluation.dir,
      deployment: deployment.recordUri,
      ...(reports.data ? { dataReport: reports.data } : {}),
      ...(train.reportUri ? { trainingReport: train.reportUri } : {}),
      ...(typeof s.evaluation.stats.reportUri === 'string' ? { evalReport: s.evaluation.stats.reportUri } : {}),
    },
    stats: { ingest: s.ingest.stats, clean: s.clean.stats, dedup: s.dedup.stats, tokenizer: s.tokenizer.stats, shard: s.shards.stats },
    train,
    eval: {
      passAtK: s.evaluation.stats.passAtK as Record<string, number>,
      problems: s.evaluation.stats.problems as number,
      samplesUri: s.evaluation.stats.samplesUri as string,
      resultsUri: s.evaluation.stats.resultsUri as string,
      ...(s.evaluation.stats.languages ? { languages: s.evaluation.stats.languages as NonNullable<PipelineResult['eval']['languages']> } : {}),
      ...(s.evaluation.stats.infilling ? { infilling: s.evaluation.stats.infilling as NonNullable<PipelineResult['eval']['infilling']> } : {}),
      ...(typeof s.evaluation.stats.reportUri === 'string' ? { reportUri: s.evaluation.stats.reportUri, metricsUri: s.evaluation.stats.metricsUri as string } : {}),
    },
    deployment,
    reports,
  };
}
