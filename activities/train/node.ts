/**
 * One node of a training gang: fetch shards, meet the other nodes (rank 0 publishes its address
 * through the training workflow, the others read it by query), run torchrun, turn the trainer's
 * JSON lines into heartbeats and progress signals, and upload every checkpoint it writes.
 *
 * Stopping: a cancellation asks the training workflow how (`stopMode`): for a pause or a
 * continue-as-new the trainer gets SIGTERM and checkpoints (exit 75); after a lost peer it is
 * killed at once (it cannot checkpoint without that peer). Worker shutdown (SIGTERM/Ctrl-C of
 * the worker) checkpoints too, then fails the node so the workflow restarts the gang elsewhere.
 * Rank 0 watches the trainer: no event for too long means a hung gang (see stallLimitMs).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ErrorType, fatal, transient } from '../../contracts/errors.js';
import { readManifest } from '../../lib/manifest.js';
import { pythonExecutable } from '../../lib/python.js';
import { EXIT_STOPPED, runPythonTool, type RunToolOptions, type ToolEvent } from '../../lib/pythonTool.js';
import { store } from '../../lib/storage/index.js';
import { downloadDirOnce } from '../../lib/syncDir.js';
import { freePort } from '../../lib/ports.js';
import { cacheDir } from '../../lib/workdirs.js';
import {
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  statusQuery,
  type Rendezvous,
  type TrainingStatus,
  type TrainProgress,
} from '../../contracts/workflows.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { downloadCheckpoint, latestCheckpoint, uploadCheckpoint } from './checkpoints.js';
import { MetricsLog } from './metrics.js';
import type { NodeTimings, TrainNodeInput, TrainNodeResult } from '../../contracts/training.js';

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
}

const STARTUP_ALLOWANCE_MS = 10 * 60_000;
const CHECKPOINT_ALLOWANCE_MS = 30 * 60_000;

/** Shards are immutable per stage folder: download once per worker, reuse across attempts. */
async function localShards(shardsDir: string): Promise<string> {
  const manifest = await readManifest(store, shardsDir);
  if (!manifest) throw fatal(ErrorType.NotFound, `No committed shard stage at ${shardsDir} (its _MANIFEST.json is missing).`);
  return downloadDirOnce(shardsDir, cacheDir('shards', manifest.fingerprint.slice(0, 16)));
}

/**
 * Rank 0 sees an event per step; every step all-reduces across the gang, so silence means some
 * rank is stuck. The limit follows what this run actually does: 4x the longest gap between
 * events seen, never under the configured floor; before the first step it allows 10 minutes
 * (shard downloads, rendezvous, torch start-up). A checkpoint being written (between the
 * trainer's checkpoint_start and checkpoint events: a multi-GB write of a big model) may take
 * 30 minutes, or 4x the longest write so far; writes are not counted as gaps.
 */
export function stallLimitMs(floorSeconds: number, longestGapMs: number, sawStep: boolean, writing?: { longestWriteMs: number }): number {
  const floor = floorSeconds * 1000;
  if (writing) return Math.max(floor, CHECKPOINT_ALLOWANCE_MS, 4 * writing.longestWriteMs);
  return sawStep ? Math.max(floor, 4 * longestGapMs) : Math.max(floor, STARTUP_ALLOWANCE_MS);
}

export function createTrainNode(deps: NodeDeps) {
  const stopGraceMs = deps.stopGraceMs ?? 60_000;

  return async function trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    const ctx = Context.current();
    const startedAt = Date.now();
    const timings: NodeTimings = {
      startedAt,
      pickupMs: Math.max(0, startedAt - ctx.info.currentAttemptScheduledTimestampMs),
      shardsMs: 0, rendezvousMs: 0, resumeDownloadMs: 0, trainerStartMs: 0, trainerLoopMs: 0, trainerWallMs: 0, uploadWaitMs: 0, activityMs: 0,
    };
    const progress: TrainProgress = { step: 0, totalSteps: Number(input.trainer.train.steps), attempt: input.attempt };
    const details = () => ({ rank: input.rank, attempt: input.attempt, worker: deps.workerId, ...progress });
    const workflows = [input.trainingWorkflowId, input.pipelineWorkflowId].filter((x): x is string => !!x);
    const signalProgress = async () => {
      for (const id of workflows) {
        await deps.client.workflow.getHandle(id).signal(progressSignal, { ...progress }).catch(() => undefined);
      }
    };
    const lap = (since: number) => Date.now() - since;

    // Heartbeats every second from this process: they prove the worker alive. Whether the
    // trainer is alive is rank 0's watchdog's business (below).
    return withHeartbeat(async () => {
      let t = Date.now();
      const dataDir = await localShards(input.shardsDir);
      timings.shardsMs = lap(t);
      const runDir = cacheDir('train', input.runKey.slice(0, 16), `rank-${input.rank}`);

      t = Date.now();
      const meeting = input.rank === 0 ? await publishRendezvous(input) : await awaitRendezvous(input);
      timings.rendezvousMs = lap(t);
      t = Date.now();
      const resume = meeting.checkpoint ? await downloadCheckpoint(meeting.checkpoint, join(runDir, 'resume')) : undefined;
      timings.resumeDownloadMs = lap(t);

      const configPath = join(runDir, 'trainer-config.json');
      writeFileSync(configPath, JSON.stringify(input.trainer, null, 2));
      // Earlier attempts' local checkpoints are in the artifact store already: free the disk.
      for (const old of readdirSync(runDir)) if (old.startsWith('attempt-')) rmSync(join(runDir, old), { recursive: true, force: true });
      const outDir = join(runDir, `attempt-${input.attempt}`);
      mkdirSync(outDir, { recursive: true });

      const torchrun = join(dirname(pythonExecutable()), 'torchrun');
      const args = [
        `--nnodes=${input.nodes}`,
        `--nproc-per-node=${input.procsPerNode}`,
        `--node-rank=${input.rank}`,
        `--master-addr=${meeting.addr}`,
        `--master-port=${meeting.port}`,
        '--max-restarts=0',
        '-m',
        'kiln_trainer.train',
        '--config',
        configPath,
        '--data',
        dataDir,
        '--out',
        outDir,
        ...(resume ? ['--resume', resume] : []),
      ];

      const metrics = input.rank === 0 ? new MetricsLog(input.checkpointsUri, input.attempt) : undefined;
      let uploads: Promise<unknown> = Promise.resolve();
      let lastUploaded: string | undefined = meeting.checkpoint ?? undefined;
      let lastSignal = 0;
      let final: ToolEvent | undefined;
      const spawnedAt = Date.now();
      let startEventAt: number | undefined;
      let lastEventAt = spawnedAt;
      let longestGapMs = 0;
      let sawStep = false;
      let writingSince: number | undefined; // a checkpoint write in progress
      let longestWriteMs = 0;

      const onEvent = (e: ToolEvent) => {
        const now = Date.now();
        if (sawStep && writingSince === undefined) longestGapMs = Math.max(longestGapMs, now - lastEventAt);
        lastEventAt = now;
        metrics?.add(e);
        if (e.event === 'checkpoint_start') {
          writingSince = now;
        } else if (writingSince !== undefined && e.event === 'checkpoint') {
          longestWriteMs = Math.max(longestWriteMs, now - writingSince);
          writingSince = undefined;
        }
        if (e.event === 'start') {
          startEventAt ??= now;
        } else if (e.event === 'step') {
          sawStep = true;
          Object.assign(progress, {
            step: Number(e.step),
            loss: Number(e.loss),
            tokensPerS: e.tokens_per_s === undefined ? undefined : Number(e.tokens_per_s),
          });
          if (now - lastSignal >= input.progressEverySeconds * 1000 || lastSignal === 0) {
            lastSignal = now;
            void signalProgress();
          }
        } else if (e.event === 'eval') {
          progress.valLoss = Number(e.val_loss);
        } else if (e.event === 'checkpoint') {
          const local = String(e.path);
          const flushed = metrics?.flush();
          // Uploads run one after another, in step order, while training goes on.
          uploads = uploads.then(async () => {
            lastUploaded = await uploadCheckpoint(local, input.checkpointsUri);
            await flushed;
            progress.lastCheckpoint = lastUploaded;
            ctx.heartbeat(details());
            await signalProgress();
          });
        } else if (e.event === 'done' || e.event === 'stopped') {
          final = e;
        }
      };

      // How the trainer is stopped: SIGTERM, then SIGKILL after killAfterMs (read when stopping).
      const stopTrainer = new AbortController();
      const toolOpts: RunToolOptions = {
        command: { file: torchrun, args },
        onEvent,
        cancelSignal: stopTrainer.signal,
        fatalType: ErrorType.TrainerFatal,
        env: { KILN_NODE_RANK: String(input.rank) },
        killAfterMs: stopGraceMs,
      };
      const stop = (graceMs: number) => {
        if (stopTrainer.signal.aborted) return;
        toolOpts.killAfterMs = graceMs;
        stopTrainer.abort();
      };
      let shuttingDown = false;
      const onShutdown = () => {
        shuttingDown = true;
        stop(stopGraceMs);
      };
      const onCancel = () => void stopModeOf(input).then((mode) => stop(mode === 'kill' ? 0 : stopGraceMs));
      let stalled: string | undefined;
      const watchdog = setInterval(() => {
        if (input.rank !== 0 || stopTrainer.signal.aborted) return;
        const silentMs = Date.now() - lastEventAt;
        const limit = stallLimitMs(input.stallTimeoutSeconds ?? 120, longestGapMs, sawStep, writingSince === undefined ? undefined : { longestWriteMs });
        if (silentMs > limit) {
          stalled = `the trainer emitted no event for ${Math.round(silentMs / 1000)} s (limit ${Math.round(limit / 1000)} s) after step ${progress.step}`;
          stop(0); // a hung gang cannot checkpoint
        }
      }, 1000);
      if (deps.shutdownSignal?.aborted) onShutdown();
      deps.shutdownSignal?.addEventListener('abort', onShutdown, { once: true });
      if (ctx.cancellationSignal.aborted) onCancel();
      ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });

      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason; // cancelled while meeting: nothing to stop
      let run;
      try {
        run = await runPythonTool('kiln_trainer.train', [], toolOpts);
      } finally {
        clearInterval(watchdog);
        deps.shutdownSignal?.removeEventListener('abort', onShutdown);
        ctx.cancellationSignal.removeEventListener('abort', onCancel);
        const exitedAt = Date.now();
        timings.trainerWallMs = exitedAt - spawnedAt;
        timings.trainerStartMs = (startEventAt ?? exitedAt) - spawnedAt;
        timings.trainerLoopMs = startEventAt === undefined ? 0 : lastEventAt - startEventAt;
        // Steps after the last checkpoint are kept too: the report shows them as lost work.
        await Promise.all([uploads.catch(() => undefined), metrics?.flush().catch(() => undefined)]);
        timings.uploadWaitMs = lap(exitedAt);
        timings.activityMs = lap(startedAt);
      }
      await uploads; // an upload failure is worth a retry of the gang

      const where = `Node ${input.rank} (attempt ${input.attempt}${deps.workerId ? `, worker ${deps.workerId}` : ''})`;
      if (stalled) throw transient(ErrorType.NodeHung, `${where} is hung: ${stalled}; killed it.`);
      if (run.exitCode === 0 && (input.rank !== 0 || final?.event === 'done')) {
        return { rank: input.rank, status: 'done', step: Number(final?.step ?? progress.step), finalLoss: num(final?.final_loss), checkpoint: lastUploaded, timings };
      }
      if (shuttingDown) {
        throw transient(ErrorType.NodeShutdown, `${where}: its worker is shutting down; the trainer stopped at step ${progress.step} (last checkpoint ${lastUploaded ?? 'none'}).`);
      }
      if (final?.event === 'stopped' || (ctx.cancellationSignal.aborted && run.exitCode !== 0)) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        return { rank: input.rank, status: 'stopped', step: Number(final?.step ?? progress.step), checkpoint: lastUploaded, timings };
      }
      throw transient(
        ErrorType.NodeFailed,
        `${where} failed: torchrun exited with code ${run.exitCode}${run.exitCode === EXIT_STOPPED ? ' (stopped)' : ''}.\n${run.stderrTail}`,
      );
    }, details, 1000);
  };

  /** Asks the training workflow how its gang is being stopped; `checkpoint` when unsure. */
  async function stopModeOf(input: TrainNodeInput): Promise<'checkpoint' | 'kill'> {
    const handle = deps.client.workflow.getHandle(input.trainingWorkflowId);
    const status = (await Promise.race([
      handle.query(statusQuery).catch(() => undefined),
      new Promise((r) => setTimeout(r, 3000).unref()),
    ])) as TrainingStatus | undefined;
    return status?.stopMode ?? 'checkpoint';
  }

  async function publishRendezvous(input: TrainNodeInput): Promise<Rendezvous> {
    const latest = await latestCheckpoint({ checkpointsUri: input.checkpointsUri });
    const meeting: Rendezvous = { attempt: input.attempt, addr: deps.nodeAddr, port: await freePort(), checkpoint: latest?.uri ?? null };
    await deps.client.workflow.getHandle(input.trainingWorkflowId).signal(rendezvousSignal, meeting);
    return meeting;
  }

  async function awaitRendezvous(input: TrainNodeInput): Promise<Rendezvous> {
    const handle = deps.client.workflow.getHandle(input.trainingWorkflowId);
    const signal = Context.current().cancellationSignal;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const meeting = await handle.query(rendezvousQuery, input.attempt).catch(() => null);
      if (meeting) return meeting;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function num(x: unknown): number | undefined {
  return x === undefined || x === null ? undefined : Number(x);
}
