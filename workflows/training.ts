/**
 * trainingRun: a gang of N node activities, one per GPU worker, joined by torchrun's static
 * rendezvous. Placement: each rank's claim on the shared GPU queue is taken by a distinct worker,
 * which names its own queue; the node then runs there. Rank 0 reports its address by signal; the
 * other ranks read it by query. If any node is lost, the rest are killed and the whole gang
 * restarts from the last complete checkpoint, bounded and with backoff. `pause` checkpoints and
 * stops the gang; `resume` restarts it. Before the history grows large the gang checkpoints and
 * the run continues as new, carrying its status.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TrainingRunInput, TrainingRunResult, TrainNodeInput, TrainNodeResult } from '../contracts/training.js';
import type * as gpu from '../activities/gpu.js';
import {
  claimSignal,
  kilnStageAttribute,
  kilnStepAttribute,
  pauseSignal,
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  resumeSignal,
  statusQuery,
  TASK_QUEUES,
  type Rendezvous,
  type TrainingStatus,
  type WorkerClaim,
} from '../contracts/workflows.js';
import { ErrorType } from '../contracts/errors.js';
import { describeFailure, describeGangFailure, isDrain, isFatal, type NodeFailure } from '../contracts/failures.js';
import { applyProgress } from './progress.js';

type GpuActivities = ReturnType<typeof gpu.createGpuActivities>;

const { claimWorker } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '7 days', // a claim waits here until every rank has a worker
  heartbeatTimeout: '15 seconds',
  // A claim lost with its worker is simply taken again by another one.
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/** The node activity on one worker's own queue. */
function nodeOn(taskQueue: string, heartbeatTimeoutSeconds: number) {
  return proxyActivities<GpuActivities>({
    taskQueue,
    // The claiming worker died before its node started: treat as a lost node.
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '7 days',
    // Heartbeats come from the worker every second: this is how long a dead worker goes unnoticed.
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    // The gang is restarted as a whole by this workflow, never one node alone.
    retry: { maximumAttempts: 1 },
    // Wait for the node to checkpoint (or be killed) before the scope counts as cancelled, so the
    // next gang finds its ports, GPUs and folders free.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }).trainNode;
}

const { latestCheckpoint, trainingReport } = proxyActivities<GpuActivities>({
  taskQueue: TASK_QUEUES.gpu,
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: [ErrorType.NotFound, ErrorType.AccessDenied] },
});

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;

export async function trainingRun(input: TrainingRunInput): Promise<TrainingRunResult> {
  const status: TrainingStatus = input.carried?.status ?? {
    step: 0,
    totalSteps: Number(input.trainer.train.steps),
    paused: input.startPaused ?? false,
    attempts: 0,
    gangRestarts: 0,
  };
  status.runs = (status.runs ?? 0) + 1;
  status.paused = input.startPaused ?? status.paused;
  const rendezvous = new Map<number, Rendezvous>();
  const claims = new Map<number, WorkerClaim>();
  let gang: CancellationScope | undefined;
  let continuing = false;
  const maxHistory = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= maxHistory;

  // The step as a search attribute, about 50 times per run (each upsert is a history event).
  const stepStride = Math.max(1, Math.floor(status.totalSteps / 50));
  let publishedStep = -1;
  const publishStep = (force = false) => {
    if (!force && publishedStep >= 0 && status.step - publishedStep < stepStride) return;
    publishedStep = status.step;
    upsertSearchAttributes([{ key: kilnStepAttribute, value: status.step }]);
  };
  upsertSearchAttributes([{ key: kilnStageAttribute, value: 'train' }]);
  publishStep(true);

  /** Stops the running gang: `checkpoint` lets the trainer save first, `kill` does not wait. */
  const stopGang = (mode: 'checkpoint' | 'kill') => {
    if (!gang) return;
    status.gang = 'stopping';
    if (mode === 'kill' || !status.stopMode) status.stopMode = mode;
    gang.cancel();
  };

  setHandler(statusQuery, () => status);
  setHandler(rendezvousSignal, (r) => void rendezvous.set(r.attempt, r));
  setHandler(rendezvousQuery, (attempt) => rendezvous.get(attempt) ?? null);
  setHandler(claimSignal, (c) => {
    if (c.attempt === status.attempts) claims.set(c.rank, c);
  });
  setHandler(progressSignal, (p) => {
    if (p.attempt !== undefined && p.attempt !== status.attempts) return; // a late report of an old gang
    applyProgress(status, p);
    publishStep();
    if (!continuing && historyIsLong()) {
      continuing = true;
      stopGang('checkpoint');
    }
  });
  setHandler(pauseSignal, () => {
    if (status.paused) return;
    status.paused = true;
    stopGang('checkpoint');
  });
  setHandler(resumeSignal, () => void (status.paused = false));

  const workflowId = workflowInfo().workflowId;
  const heartbeatTimeoutSeconds = input.heartbeatTimeoutSeconds ?? 20;
  const finishGraceMs = (input.finishGraceSeconds ?? 120) * 1000;
  for (;;) {
    if (continuing || historyIsLong()) {
      status.gang = status.paused ? 'paused' : 'restarting';
      status.stopMode = undefined;
      await continueAsNew<typeof trainingRun>({ ...input, startPaused: status.paused, carried: { status } });
    }
    if (status.paused) {
      status.gang = 'paused';
      await condition(() => !status.paused || historyIsLong());
      if (status.paused) continue; // signals piled up while paused: continue as new first
    }
    status.attempts += 1;
    status.gang = 'starting';
    status.stopMode = undefined;
    status.placement = undefined;
    claims.clear();
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
      stallTimeoutSeconds: input.stallTimeoutSeconds,
    });
    const ranks = Array.from({ length: input.nodes }, (_, rank) => rank);

    const scope = (gang = new CancellationScope());
    const failures: NodeFailure[] = []; // in the order they arrived
    let settled: PromiseSettledResult<TrainNodeResult>[] = [];
    try {
      settled = await scope.run(async () => {
        // Placement: one claim per rank; claims hold their workers until all ranks have one.
        const placing = new CancellationScope();
        for (const rank of ranks) {
          placing.run(() => claimWorker({ trainingWorkflowId: workflowId, attempt, rank })).catch(() => undefined);
        }
        await condition(() => claims.size === input.nodes);
        placing.cancel();
        status.placement = ranks.map((rank) => claims.get(rank)!.workerId);
        status.gang = 'running';
        // The first failure stops the rest (killed: they cannot checkpoint without the lost node);
        // then wait for every node to settle.
        const nodes = ranks.map((rank) =>
          nodeOn(claims.get(rank)!.taskQueue, heartbeatTimeoutSeconds)(nodeInput(rank)).catch((error) => {
            if (!isCancellation(error)) {
              failures.push({ rank, workerId: claims.get(rank)!.workerId, error });
              if (failures.length === 1) stopGang('kill');
            }
            throw error;
          }),
        );
        // When rank 0 is done the training is: the other ranks' torchrun exits with it. One still
        // running after the grace time is stuck (in a collective, at exit) and is stopped.
        let rank0Done = false;
        nodes[0]!.then((r) => void (rank0Done = r.status === 'done')).catch(() => undefined);
        const stragglers = new CancellationScope();
        stragglers
          .run(async () => {
            await condition(() => rank0Done);
            await sleep(finishGraceMs);
            stopGang('kill');
          })
          .catch(() => undefined);
        const settled = await Promise.allSettled(nodes);
        stragglers.cancel();
        return settled;
      });
    } catch (err) {
      if (!isCancellation(err)) throw err; // stopped while placing: nothing ran
    }
    gang = undefined;

    const rank0 = settled[0];
    if (rank0?.status === 'fulfilled' && rank0.value.status === 'done' && failures.length === 0) {
      const result = rank0.value;
      Object.assign(status, { step: result.step, loss: result.finalLoss ?? status.loss, gang: 'done', stopMode: undefined });
      status.lastCheckpoint = result.checkpoint ?? status.lastCheckpoint;
      publishStep(true);
      const reportUri = await writeReport(input, status);
      return {
        steps: result.step,
        finalLoss: result.finalLoss,
        firstLoss: status.firstLoss,
        checkpoint: result.checkpoint!,
        attempts: status.attempts,
        gangRestarts: status.gangRestarts,
        runs: status.runs ?? 1,
        reportUri,
        timings: result.timings,
      };
    }
    const latest = await latestCheckpoint({ checkpointsUri: input.checkpointsUri });
    if (latest) {
      status.lastCheckpoint = latest.uri;
      status.lastCheckpointStep = latest.step;
    }
    // Stopped on purpose (pause, continue-as-new): the loop's top waits or continues as new.
    if ((status.paused || continuing) && failures.length === 0) continue;
    status.gang = 'restarting';

    // Any node's fatal error ends the run, even when another node's loss was noticed first.
    const fatal = failures.find((f) => isFatal(f.error));
    if (fatal) throw fatal.error;
    status.gangRestarts += 1;
    status.lastError = describeGangFailure(failures);
    // A worker shut down on purpose (maintenance, preemption) is not a failure: the budget is for crashes.
    if (isDrain(failures)) status.drains = (status.drains ?? 0) + 1;
    const crashes = status.gangRestarts - (status.drains ?? 0);
    if (crashes > input.maxGangRestarts) {
      throw ApplicationFailure.create({
        type: ErrorType.GangRestartsExhausted,
        message: `Training gang failed ${crashes} times (train.maxGangRestarts = ${input.maxGangRestarts}); last error: ${status.lastError}`,
        nonRetryable: true,
      });
    }
    // Backoff: 2 s, 4 s, 8 s ... by crashes (a drain waits 2 s), capped at one minute. A pause
    // meanwhile holds the next gang.
    await sleep(Math.min(60_000, 1000 * 2 ** Math.max(1, crashes)));
  }
}

/** The run report; a failure to write it does not fail a finished training run. */
async function writeReport(input: TrainingRunInput, status: TrainingStatus): Promise<string | undefined> {
  try {
    const report = await trainingReport({ checkpointsUri: input.checkpointsUri, title: `Training run ${input.runKey.slice(0, 16)}` });
    return report.reportUri;
  } catch (err) {
    status.lastError = `run report not written: ${describeFailure(err)}`;
    return undefined;
  }
}
