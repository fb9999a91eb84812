/**
 * llmPipeline: ingest -> clean -> dedup -> tokenizer -> shard -> train -> export -> eval -> deploy.
 * Orchestration only: every side effect is an activity; payloads carry URIs and small stats.
 */
import {
  ApplicationFailure,
  executeChild,
  startChild,
  type ChildWorkflowHandle,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type * as data from '../activities/data.js';
import type * as gpu from '../activities/gpu.js';
import { ConfigError, validateConfig } from '../lib/config/validate.js';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, nonRetryableErrorTypes } from '../contracts/errors.js';
import type { StageResult } from '../lib/manifest.js';
import {
  kilnStageAttribute,
  pauseSignal,
  progressSignal,
  resumeSignal,
  STAGES,
  statusQuery,
  TASK_QUEUES,
  type PipelineStatus,
  type StageName,
} from '../contracts/workflows.js';
import { dedupWorkflow } from './dedup.js';
import { applyProgress } from './progress.js';
import type { PipelineResult } from '../contracts/pipeline.js';
import { trainingRun } from './training.js';

type DataActivities = ReturnType<typeof data.createDataActivities>;
type GpuActivities = ReturnType<typeof gpu.createGpuActivities>;

const retry = { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 8, nonRetryableErrorTypes };

const dataStage = proxyActivities<DataActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '12 hours',
  // Data activities heartbeat while they work: a killed worker is noticed within this.
  heartbeatTimeout: '30 seconds',
  retry,
});

// Reports only read finished stages: fewer retries, since a failed report must not hold up the run.
const reportStage = proxyActivities<DataActivities>({
  taskQueue: TASK_QUEUES.data,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 3 },
});

const gpuStage = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '60 seconds',
  retry,
});

export async function llmPipeline(rawConfig: unknown): Promise<PipelineResult> {
  let config: PipelineConfig;
  try {
    config = validateConfig(rawConfig);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidConfig, message: err.message, nonRetryable: true, details: [{ field: err.field }] });
    }
    throw err;
  }

  const status: PipelineStatus = {
    name: config.name,
    stage: 'validate',
    stages: Object.fromEntries(STAGES.map((s) => [s, 'pending'])) as PipelineStatus['stages'],
    paused: false,
    train: { step: 0, totalSteps: config.train.steps, paused: false, attempts: 0, gangRestarts: 0 },
    results: {},
  };
  const { workflowId } = workflowInfo();
  const trainingWorkflowId = `${workflowId}/train`;
  let training: ChildWorkflowHandle<typeof trainingRun> | undefined;

  setHandler(statusQuery, () => status);
  setHandler(progressSignal, (p) => {
    applyProgress(status.train, p);
    if (p.attempt !== undefined && p.attempt > status.train.attempts) status.train.attempts = p.attempt;
  });
  // Pause and resume are forwarded to the training run; outside training they are remembered
  // and applied when training starts.
  const forward = (paused: boolean) => {
    status.paused = status.train.paused = paused;
    // A child that already finished cannot take signals; that is fine.
    training?.signal(paused ? pauseSignal : resumeSignal).catch(() => undefined);
  };
  setHandler(pauseSignal, () => forward(true));
  setHandler(resumeSignal, () => forward(false));

  async function stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    status.stage = name;
    upsertSearchAttributes([{ key: kilnStageAttribute, value: name }]);
    status.stages[name] = 'running';
    try {
      const result = await run();
      const r = result as Partial<StageResult>;
      status.stages[name] = r.reused ? 'reused' : 'done';
      if (r.dir) status.results[name] = { dir: r.dir, stats: r.stats };
      return result;
    } catch (err) {
      status.stages[name] = 'failed';
      status.stage = 'failed';
      upsertSearchAttributes([{ key: kilnStageAttribute, value: 'failed' }]);
      throw err;
    }
  }

  const run = await dataStage.prepareRun({ config, workflowId });
  const cfg = run.config; // URIs resolved to absolute ones
  const root = cfg.artifacts;

  const ingest = await stage('ingest', () =>
    dataStage.ingestStage({
      artifactsRoot: root,
      source: cfg.ingest.source,
      languages: cfg.ingest.languages,
      maxRowsPerLanguage: cfg.ingest.maxRowsPerLanguage,
      seed: cfg.seed,
      onBadFile: cfg.ingest.onBadFile,
      maxDocumentBytes: cfg.ingest.maxDocumentBytes,
    }),
  );
  // One activity per input file, in parallel over the data workers, then one that adds up the counts.
  const clean = await stage('clean', async () => {
    const opened = await dataStage.cleanPlan({ artifactsRoot: root, input: ingest, params: cfg.clean });
    if ('done' in opened) return opened.done;
    await Promise.all(opened.plan.files.map((_, i) => dataStage.cleanPart(opened.plan, i)));
    return dataStage.cleanCommit(opened.plan);
  });
  // Map-reduce over activities (signatures, band buckets, clustering, filtering) as a child workflow.
  const dedup = await stage('dedup', () =>
    executeChild(dedupWorkflow, {
      workflowId: `${workflowId}/dedup`,
      taskQueue: TASK_QUEUES.workflows,
      args: [{ artifactsRoot: root, input: clean, params: cfg.dedup, seed: cfg.seed }],
    }),
  );
  // The data report only reads the stages above: a failure there is recorded in the result, not fatal.
  const reports: Record<string, string> = await reportStage
    .dataReportStage({ artifactsRoot: root, ingest, clean, dedup, title: `Data report: ${cfg.name}` })
    .then(
      (r) => ({ data: String(r.stats.html) }),
      (err: unknown) => ({ dataError: String((err as { cause?: Error }).cause?.message ?? (err as Error).message ?? err) }),
    );
  const tokenizer = await stage('tokenizer', () =>
    dataStage.tokenizerStage({ artifactsRoot: root, input: dedup, params: cfg.tokenizer, seed: cfg.seed }),
  );
  const shards = await stage('shard', async (): Promise<StageResult> => {
    const shardArgs = { artifactsRoot: root, input: dedup, tokenizer, params: cfg.shard, seed: cfg.seed };
    const first = await dataStage.shardStage(shardArgs);
    if (!('fanOut' in first)) return first;
    // Several partitions: one activity each, in parallel on the data queue, then the merge.
    const parts = await Promise.all(first.parts.map((p) => dataStage.shardPartStage({ ...shardArgs, ...p, dir: first.dir })));
    return (await dataStage.shardStage({ ...shardArgs, parts })) as StageResult;
  });

  const plan = await dataStage.planTraining({ config: cfg, shards, tokenizer });
  const train = await stage('train', async () => {
    const startPaused = status.paused;
    training = await startChild(trainingRun, {
      workflowId: trainingWorkflowId,
      taskQueue: TASK_QUEUES.workflows,
      args: [
        {
          runKey: plan.runKey,
          trainer: plan.trainer,
          shardsDir: shards.dir,
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
    if (status.paused !== startPaused) forward(status.paused); // a signal that came while the child started
    return training.result();
  });
  training = undefined;
  if (train.reportUri) reports.training = train.reportUri; // loss and throughput curves
  Object.assign(status.train, { step: train.steps, loss: train.finalLoss, lastCheckpoint: train.checkpoint, paused: false });

  const exported = await stage('export', () =>
    gpuStage.exportModelStage({ artifactsRoot: root, checkpoint: train.checkpoint, tokenizer }),
  );
  const evaluation = await stage('eval', async () => {
    const samples = await gpuStage.generateSamplesStage({ artifactsRoot: root, model: exported, params: cfg.eval, seed: cfg.seed });
    return dataStage.evalStage({ artifactsRoot: root, samples, params: cfg.eval });
  });
  const deployment = await stage('deploy', () =>
    gpuStage.deployModel({ artifactsRoot: root, model: exported, name: cfg.name, params: cfg.deploy }),
  );
  status.stage = 'done';
  upsertSearchAttributes([{ key: kilnStageAttribute, value: 'done' }]);

  return {
    name: cfg.name,
    artifacts: {
      ingest: ingest.dir,
      clean: clean.dir,
      dedup: dedup.dir,
      tokenizer: tokenizer.dir,
      shards: shards.dir,
      checkpoint: train.checkpoint,
      model: exported.dir,
      eval: evaluation.dir,
      deployment: deployment.recordUri,
      ...(reports.data ? { dataReport: reports.data } : {}),
      ...(train.reportUri ? { trainingReport: train.reportUri } : {}),
    },
    stats: {
      ingest: ingest.stats,
      clean: clean.stats,
      dedup: dedup.stats,
      tokenizer: tokenizer.stats,
      shard: shards.stats,
    },
    train,
    eval: {
      passAtK: evaluation.stats.passAtK as Record<string, number>,
      problems: evaluation.stats.problems as number,
      samplesUri: evaluation.stats.samplesUri as string,
      resultsUri: evaluation.stats.resultsUri as string,
    },
    deployment,
    reports,
  };
}
