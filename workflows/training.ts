/**
 * trainingRun: a gang of N node activities, one per GPU worker, joined by torchrun's static
 * rendezvous. Placement: each rank's claim on the shared GPU queue is taken by a distinct worker,
 * which names its own queue; the node then runs there. Rank 0 reports its address by signal; the
 * other ranks read it by query. If any node is lost, the rest are killed and the whole gang
 * restarts from the last complete checkpoint, bounded and with backoff. `pause` checkpoints and
 * stops the gang; `resume` restarts it. Before the history grows large the gang checkpoints and
 * the run continues as new, carrying its status.
 */
import { ApplicationFailure, condition, continueAsNew, metricMeter, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { ErrorType } from '../contracts/errors.js';
import { describeFailure, describeGangFailure, isDrain, isFatal, type NodeFailure } from '../contracts/failures.js';
import type { TrainingRunInput, TrainingRunResult, TrainNodeResult } from '../contracts/training.js';
import type { TrainingStatus } from '../contracts/workflows.js';
import { runGang } from './gang.js';
import { latestCheckpoint, latestCheckpointBounded, trainingReport } from './trainingProxies.js';
import { TrainingTracker } from './trainingTracker.js';

/** Release 0.4.0: the checkpoint lookup after a gang ends is bounded (trainingProxies.ts). */
const LOOKUP_PATCH = 'checkpoint-lookup-bounded';

export async function trainingRun(input: TrainingRunInput): Promise<TrainingRunResult> {
  const tracker = new TrainingTracker(input);
  const { status } = tracker;
  for (;;) {
    if (tracker.continuing || tracker.historyIsLong()) {
      status.gang = status.paused ? 'paused' : 'restarting';
      status.stopMode = undefined;
      tracker.report();
      await continueAsNew<typeof trainingRun>({ ...input, startPaused: status.paused, carried: { status } });
    }
    if (status.paused) {
      status.gang = 'paused';
      tracker.report();
      await condition(() => !status.paused || tracker.historyIsLong());
      if (status.paused) continue; // signals piled up while paused: continue as new first
    }
    status.attempts += 1;
    status.gang = 'starting';
    status.stopMode = undefined;
    status.placement = undefined;
    tracker.claims.clear();
    const { settled, failures } = await runGang(tracker, input, status.attempts);

    const rank0 = settled[0];
    if (rank0?.status === 'fulfilled' && rank0.value.status === 'done' && failures.length === 0) {
      return finish(tracker, input, rank0.value);
    }
    const lookup = patched(LOOKUP_PATCH) ? latestCheckpointBounded : latestCheckpoint;
    const latest = await lookup({ checkpointsUri: input.checkpointsUri });
    if (latest) {
      status.lastCheckpoint = latest.uri;
      status.lastCheckpointStep = latest.step;
    }
    // Stopped on purpose (pause, continue-as-new): the loop's top waits or continues as new.
    if ((status.paused || tracker.continuing) && failures.length === 0) continue;
    await restartAfter(tracker, failures, input.maxGangRestarts);
  }
}

/** Rank 0 finished: the run's result, with its report. */
async function finish(tracker: TrainingTracker, input: TrainingRunInput, result: TrainNodeResult): Promise<TrainingRunResult> {
  const { status } = tracker;
  Object.assign(status, { step: result.step, loss: result.finalLoss ?? status.loss, gang: 'done', stopMode: undefined });
  status.lastCheckpoint = result.checkpoint ?? status.lastCheckpoint;
  tracker.publishStep(true);
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

/** A gang that failed: end the run (a fatal error, the restart budget spent) or wait out the backoff. */
async function restartAfter(tracker: TrainingTracker, failures: NodeFailure[], maxGangRestarts: number): Promise<void> {
  const { status } = tracker;
  status.gang = 'restarting';
  // Any node's fatal error ends the run, even when another node's loss was noticed first.
  const fatal = failures.find((f) => isFatal(f.error));
  if (fatal) throw fatal.error;
  status.gangRestarts += 1;
  // Exported by the worker running this workflow (workers/observability.ts); the SDK skips it on
  // replay and it adds no command, so it needs no patch.
  metricMeter.createCounter('kiln_gang_restarts_total', 'restarts', 'Gang restarts of a training run (crashes and drains).').add(1, { run: workflowInfo().workflowId });
  status.lastError = describeGangFailure(failures);
  // A worker shut down on purpose (maintenance, preemption) is not a failure: the budget is for crashes.
  if (isDrain(failures)) status.drains = (status.drains ?? 0) + 1;
  const crashes = status.gangRestarts - (status.drains ?? 0);
  if (crashes > maxGangRestarts) {
    throw ApplicationFailure.create({
      type: ErrorType.GangRestartsExhausted,
      message: `Training gang failed ${crashes} times (train.maxGangRestarts = ${maxGangRestarts}); last error: ${status.lastError}`,
      nonRetryable: true,
    });
  }
  tracker.report();
  // Backoff: 2 s, 4 s, 8 s ... by crashes (a drain waits 2 s), capped at one minute. A pause
  // meanwhile holds the next gang.
  await sleep(Math.min(60_000, 1000 * 2 ** Math.max(1, crashes)));
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
