/**
 * trainingRun: a gang of N node activities (one per GPU worker) joined by torchrun's static
 * rendezvous. Rank 0 reports its address by signal; the other ranks read it by query. If any node
 * is lost, the rest are cancelled and the whole gang restarts from the last complete checkpoint,
 * bounded and with backoff. `pause` checkpoints and stops the gang; `resume` restarts it.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainNodeInput, TrainNodeResult, TrainerConfig } from '../activities/train/types.js';
import type * as gpu from '../activities/gpu.js';
import {
  pauseSignal,
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  resumeSignal,
  statusQuery,
  TASK_QUEUES,
  type Rendezvous,
  type TrainingStatus,
} from './definitions.js';
import { ErrorType } from '../lib/errors.js';
import { describeFailure } from './failures.js';

export interface TrainingRunInput {
  runKey: string;
  trainer: TrainerConfig;
  shardsDir: string;
  checkpointsUri: string;
  nodes: number;
  procsPerNode: number;
  maxGangRestarts: number;
  progressEverySeconds: number;
  pipelineWorkflowId?: string;
  /** A pause that reached the pipeline before this run started. */
  startPaused?: boolean;
}

export interface TrainingRunResult {
  steps: number;
  finalLoss?: number;
  firstLoss?: number;
  checkpoint: string;
  attempts: number;
  gangRestarts: number;
}

const { trainNode } = proxyActivities<ReturnType<typeof gpu.createGpuActivities>>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '7 days',
  // A killed worker stops heartbeating: this is how long a lost node goes unnoticed.
  heartbeatTimeout: '30 seconds',
  // The gang is restarted as a whole by this workflow, never one node alone.
  retry: { maximumAttempts: 1 },
  // Wait for the node to checkpoint and stop before the scope counts as cancelled.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

const { latestCheckpoint } = proxyActivities<ReturnType<typeof gpu.createGpuActivities>>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.NotFound, ErrorType.AccessDenied] },
});

export async function trainingRun(input: TrainingRunInput): Promise<TrainingRunResult> {
  const status: TrainingStatus = {
    step: 0,
    totalSteps: Number(input.trainer.train.steps),
    paused: input.startPaused ?? false,
    attempts: 0,
    gangRestarts: 0,
  };
  const rendezvous = new Map<number, Rendezvous>();
  let gang: CancellationScope | undefined;

  setHandler(statusQuery, () => status);
  setHandler(rendezvousSignal, (r) => void rendezvous.set(r.attempt, r));
  setHandler(rendezvousQuery, (attempt) => rendezvous.get(attempt) ?? null);
  setHandler(progressSignal, (p) => {
    if (p.attempt !== undefined && p.attempt !== status.attempts) return; // a late report of an old gang
    if (p.loss !== undefined && (status.firstLossStep === undefined || p.step < status.firstLossStep)) {
      status.firstLoss = p.loss;
      status.firstLossStep = p.step;
    }
    Object.assign(status, { ...p, lastCheckpoint: p.lastCheckpoint ?? status.lastCheckpoint });
  });
  setHandler(pauseSignal, () => {
    if (status.paused) return;
    status.paused = true;
    if (gang) {
      status.gang = 'stopping';
      gang.cancel();
    }
  });
  setHandler(resumeSignal, () => void (status.paused = false));

  const workflowId = workflowInfo().workflowId;
  for (;;) {
    if (status.paused) {
      status.gang = 'paused';
      await condition(() => !status.paused);
    }
    status.attempts += 1;
    status.gang = 'running';
    const attempt = status.attempts;
    const nodeInput = (rank: number): TrainNodeInput => ({
      runKey: input.runKey,
      trainer: input.trainer,
      shardsDir: input.shardsDir,
      checkpointsUri: input.checkpointsUri,
      rank,
      nodes: input.nodes,
      procsPerNode: input.procsPerNode,
      attempt,
      trainingWorkflowId: workflowId,
      pipelineWorkflowId: input.pipelineWorkflowId,
      progressEverySeconds: input.progressEverySeconds,
    });

    gang = new CancellationScope();
    const scope = gang;
    const nodes = Array.from({ length: input.nodes }, (_, rank) => scope.run(() => trainNode(nodeInput(rank))));
    // The first failure cancels the rest; then wait for every node to settle.
    let firstError: unknown;
    const settled = await Promise.allSettled(
      nodes.map((p) =>
        p.catch((err) => {
          if (firstError === undefined && !isCancellation(err)) {
            firstError = err;
            scope.cancel();
          }
          throw err;
        }),
      ),
    );
    gang = undefined;

    const rank0 = settled[0]!;
    if (rank0.status === 'fulfilled' && rank0.value.status === 'done' && firstError === undefined) {
      const result = rank0.value as TrainNodeResult;
      status.step = result.step;
      status.loss = result.finalLoss ?? status.loss;
      status.lastCheckpoint = result.checkpoint ?? status.lastCheckpoint;
      status.gang = 'done';
      return {
        steps: result.step,
        finalLoss: result.finalLoss,
        firstLoss: status.firstLoss,
        checkpoint: result.checkpoint!,
        attempts: status.attempts,
        gangRestarts: status.gangRestarts,
      };
    }
    const latest = await latestCheckpoint({ checkpointsUri: input.checkpointsUri });
    if (latest) status.lastCheckpoint = latest.uri;
    if (status.paused && firstError === undefined) continue; // stopped for a pause: wait for resume
    status.gang = 'restarting';

    // Any node's fatal error ends the run, even when another node's loss was noticed first.
    const fatal = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && isFatal(r.reason));
    if (fatal) throw fatal.reason;
    status.gangRestarts += 1;
    status.lastError = describeFailure(firstError);
    if (status.gangRestarts > input.maxGangRestarts) {
      throw ApplicationFailure.create({
        type: ErrorType.GangRestartsExhausted,
        message: `Training gang failed ${status.gangRestarts} times (train.maxGangRestarts = ${input.maxGangRestarts}); last error: ${status.lastError}`,
        nonRetryable: true,
      });
    }
    // Backoff: 2 s, 4 s, 8 s ... capped at one minute.
    await sleep(Math.min(60_000, 1000 * 2 ** status.gangRestarts));
  }
}

function isFatal(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof ApplicationFailure && cause.nonRetryable === true;
}
