/**
 * One node of a training gang: fetch shards, meet the other nodes (rank 0 publishes its address
 * through the training workflow, the others read it by query: gangLink.ts), run torchrun
 * (launch.ts), turn the trainer's JSON lines into heartbeats and progress signals, and upload
 * every checkpoint it writes (events.ts).
 *
 * Stopping (stop.ts): a cancellation asks the training workflow how (`stopMode`): for a pause or
 * a continue-as-new the trainer gets SIGTERM and checkpoints (exit 75); after a lost peer it is
 * killed at once (it cannot checkpoint without that peer). Worker shutdown (SIGTERM/Ctrl-C of
 * the worker) checkpoints too, then fails the node so the workflow restarts the gang elsewhere.
 * Rank 0 watches the trainer: no event for too long means a hung gang (watchdog.ts).
 *
 * Fencing (fence.ts, selfFence.ts): rank 0 raises the run's fence before it picks the checkpoint
 * to resume from, and every commit checks it; a node that cannot reach the server for longer than
 * its heartbeat timeout (the server has replaced it by now) stops its trainer and commits nothing.
 */
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ErrorType, transient } from '../../contracts/errors.js';
import type { NodeTimings, TrainNodeInput, TrainNodeResult } from '../../contracts/training.js';
import type { TrainProgress } from '../../contracts/workflows.js';
import { EXIT_STOPPED, runPythonTool, type ToolEvent, type ToolRun } from '../../lib/pythonTool.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { TrainerEvents } from './events.js';
import { CommitGuard, raiseFence } from './fence.js';
import { meetGang, signalProgress, stopModeOf } from './gangLink.js';
import { localResume, localRunDir, localShards, prepareAttemptDir, torchrunCommand } from './launch.js';
import { TrainerStop } from './stop.js';
import { startWatchdog, TrainerLiveness } from './watchdog.js';
import { fenceNode, probeServer } from './selfFence.js';
import { gangKey, type NodeSlot } from './nodeSlot.js';

export { stallLimitMs } from './watchdog.js';

export interface NodeDeps {
  client: Client;
  /** Address other nodes reach this one at (KILN_NODE_ADDR; 127.0.0.1 on one machine). */
  nodeAddr: string;
  /** This worker's id: its own task queue is `llm-gpu/<workerId>`. */
  workerId?: string;
  /** Aborted when the worker starts shutting down (SIGTERM, Ctrl-C). */
  shutdownSignal?: AbortSignal;
  /** How long the trainer may take to checkpoint and exit once asked (ms). Default 60 s. */
  stopGraceMs?: number;
  /** One gang per worker: the node holds it while it runs (shared with the claim; nodeSlot.ts). */
  slot?: NodeSlot;
}

export function createTrainNode(deps: NodeDeps) {
  const stopGraceMs = deps.stopGraceMs ?? 60_000;

  return async function trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    const key = gangKey(input.trainingWorkflowId, input.attempt);
    deps.slot?.occupy(key);
    try {
      return await runNode(input);
    } finally {
      deps.slot?.release(key);
    }
  };

  async function runNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    const ctx = Context.current();
    const timings = startTimings(ctx.info.currentAttemptScheduledTimestampMs);
    const progress: TrainProgress = { step: 0, totalSteps: Number(input.trainer.train.steps), attempt: input.attempt };
    const details = () => ({ rank: input.rank, attempt: input.attempt, worker: deps.workerId, ...progress });

    // Heartbeats every second from this process: they prove the worker alive. Whether the
    // trainer is alive is rank 0's watchdog's business (below).
    return withHeartbeat(async () => {
      const dataDir = await timed(timings, 'shardsMs', () => localShards(input.shardsDir));
      const runDir = localRunDir(input);
      // Raised before rank 0 reads the latest checkpoint: an older gang's later commits are refused.
      const fence = input.rank === 0 ? await raiseFence(input.checkpointsUri, { attempt: input.attempt, workflowId: input.trainingWorkflowId, worker: deps.workerId }) : undefined;
      const guard = new CommitGuard(input.checkpointsUri, fence);
      const meeting = await timed(timings, 'rendezvousMs', () => meetGang(deps, input));
      const resume = await timed(timings, 'resumeDownloadMs', () => localResume(meeting, runDir));
      const { configPath, outDir } = prepareAttemptDir(runDir, input);
      const command = torchrunCommand(input, meeting, { configPath, dataDir, outDir, resume });

      const events = new TrainerEvents(input, progress, meeting.checkpoint ?? undefined, {
        heartbeat: () => ctx.heartbeat(details()),
        signalProgress: async () => void (await signalProgress(deps.client, input, progress)),
        // The store's message names the URI and the cause, never credentials.
        uploadRetry: (err, attempt, delayMs) => ctx.log.warn(`checkpoint upload failed (try ${attempt}), retrying in ${delayMs / 1000} s: ${(err as Error).message}`),
      }, guard);
      const liveness = new TrainerLiveness(Date.now());
      const onEvent = (e: ToolEvent) => {
        const now = Date.now();
        liveness.observe(e, now);
        events.fold(e, now);
      };
      // The run's W&B id and name, and a folder for its curves that outlives the attempt folders
      // (python/kiln_trainer/tracking.py).
      const tracking = { KILN_RUN_ID: input.runKey.slice(0, 16), KILN_RUN_NAME: input.trainingWorkflowId, KILN_TRACKING_DIR: join(runDir, 'tracking') };
      const env = { KILN_NODE_RANK: String(input.rank), ...tracking };
      const stop = new TrainerStop({ command, onEvent, fatalType: ErrorType.TrainerFatal, env }, stopGraceMs);

      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason; // cancelled while meeting: nothing to stop
      const unlisten = stop.listen(deps.shutdownSignal, ctx.cancellationSignal, () => stopModeOf(deps.client, input));
      const unfence = fenceNode(ctx, probeServer(deps.client), guard, stop);
      const stopWatchdog =
        input.rank === 0
          ? startWatchdog(liveness, input.stallTimeoutSeconds ?? 120, { stopping: () => stop.stopping, step: () => progress.step, onStall: (why) => stop.stall(why) })
          : () => undefined;
      let run: ToolRun;
      try {
        run = await runPythonTool('kiln_trainer.train', [], stop.toolOpts);
      } finally {
        stopWatchdog();
        unlisten();
        unfence();
        const exitedAt = Date.now();
        Object.assign(timings, liveness.timings(exitedAt));
        // Steps after the last checkpoint are kept too: the report shows them as lost work.
        await events.settle();
        timings.uploadWaitMs = Date.now() - exitedAt;
        timings.activityMs = Date.now() - timings.startedAt;
      }
      if (!stop.fenced) await events.uploads; // an upload failure is worth a retry of the gang
      return nodeResult({ input, workerId: deps.workerId, run, stop, events, step: progress.step, cancellation: ctx.cancellationSignal, timings });
    }, details, 1000);
  }
}

interface NodeEnding {
  input: TrainNodeInput;
  workerId: string | undefined;
  run: ToolRun;
  stop: TrainerStop;
  events: TrainerEvents;
  /** The last step the trainer reported. */
  step: number;
  cancellation: AbortSignal;
  timings: NodeTimings;
}

/** The node's result, from how its trainer ended; or the error that tells the training workflow what went wrong. */
function nodeResult({ input, workerId, run, stop, events, step, cancellation, timings }: NodeEnding): TrainNodeResult {
  const { final, lastUploaded } = events;
  const where = `Node ${input.rank} (attempt ${input.attempt}${workerId ? `, worker ${workerId}` : ''})`;
  if (stop.fenced) throw transient(ErrorType.NodeFenced, `${where} fenced itself: ${stop.fenced}; it stopped its trainer at step ${step} and commits no more checkpoints.`);
  if (stop.stalled) throw transient(ErrorType.NodeHung, `${where} is hung: ${stop.stalled}; killed it.`);
  if (run.exitCode === 0 && (input.rank !== 0 || final?.event === 'done')) {
    return { rank: input.rank, status: 'done', step: Number(final?.step ?? step), finalLoss: num(final?.final_loss), checkpoint: lastUploaded, timings };
  }
  if (stop.shuttingDown) {
    throw transient(ErrorType.NodeShutdown, `${where}: its worker is shutting down; the trainer stopped at step ${step} (last checkpoint ${lastUploaded ?? 'none'}).`);
  }
  if (final?.event === 'stopped' || (cancellation.aborted && run.exitCode !== 0)) {
    if (cancellation.aborted) throw cancellation.reason;
    return { rank: input.rank, status: 'stopped', step: Number(final?.step ?? step), checkpoint: lastUploaded, timings };
  }
  throw transient(
    ErrorType.NodeFailed,
    `${where} failed: torchrun exited with code ${run.exitCode}${run.exitCode === EXIT_STOPPED ? ' (stopped)' : ''}.\n${run.stderrTail}`,
  );
}

/** The node's timings as the activity starts; each phase fills its own. */
function startTimings(scheduledAt: number): NodeTimings {
  const startedAt = Date.now();
  return {
    startedAt,
    pickupMs: Math.max(0, startedAt - scheduledAt),
    shardsMs: 0, rendezvousMs: 0, resumeDownloadMs: 0, trainerStartMs: 0, trainerLoopMs: 0, trainerWallMs: 0, uploadWaitMs: 0, activityMs: 0,
  };
}

/** Runs one phase and records how long it took. */
async function timed<T>(timings: NodeTimings, phase: 'shardsMs' | 'rendezvousMs' | 'resumeDownloadMs', work: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const result = await work();
  timings[phase] = Date.now() - t;
  return result;
}

function num(x: unknown): number | undefined {
  return x === undefined || x === null ? undefined : Number(x);
}
