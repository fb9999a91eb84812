/**
 * One node of a training gang: fetch shards, meet the other nodes (rank 0 publishes its address
 * through the training workflow, the others read it by query), run torchrun, turn the trainer's
 * JSON lines into heartbeats and progress signals, and upload every checkpoint it writes.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ErrorType, fatal, transient } from '../../lib/errors.js';
import { readManifest } from '../../lib/manifest.js';
import { pythonExecutable } from '../../lib/python.js';
import { EXIT_STOPPED, runPythonTool, type ToolEvent } from '../../lib/pythonTool.js';
import { store } from '../../lib/storage/index.js';
import { downloadDirOnce } from '../../lib/syncDir.js';
import { freePort } from '../../lib/ports.js';
import { cacheDir } from '../../lib/workdirs.js';
import { progressSignal, rendezvousQuery, rendezvousSignal, type Rendezvous, type TrainProgress } from '../../workflows/definitions.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { downloadCheckpoint, latestCheckpoint, uploadCheckpoint } from './checkpoints.js';
import type { TrainNodeInput, TrainNodeResult } from './types.js';

export interface NodeDeps {
  client: Client;
  /** Address other nodes reach this one at (KILN_NODE_ADDR; 127.0.0.1 on one machine). */
  nodeAddr: string;
}


/** Shards are immutable per stage folder: download once per worker, reuse across attempts. */
async function localShards(shardsDir: string): Promise<string> {
  const manifest = await readManifest(store, shardsDir);
  if (!manifest) throw fatal(ErrorType.NotFound, `No committed shard stage at ${shardsDir} (its _MANIFEST.json is missing).`);
  return downloadDirOnce(shardsDir, cacheDir('shards', manifest.fingerprint.slice(0, 16)));
}

export function createTrainNode(deps: NodeDeps) {
  return async function trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    const ctx = Context.current();
    const progress: TrainProgress = { step: 0, totalSteps: Number(input.trainer.train.steps), attempt: input.attempt };
    const details = () => ({ rank: input.rank, attempt: input.attempt, ...progress });
    const workflows = [input.trainingWorkflowId, input.pipelineWorkflowId].filter((x): x is string => !!x);
    const signalProgress = async () => {
      for (const id of workflows) {
        await deps.client.workflow.getHandle(id).signal(progressSignal, { ...progress }).catch(() => undefined);
      }
    };

    return withHeartbeat(async () => {
      const dataDir = await localShards(input.shardsDir);
      const runDir = cacheDir('train', input.runKey.slice(0, 16), `rank-${input.rank}`);

      const meeting = input.rank === 0 ? await publishRendezvous(input) : await awaitRendezvous(input);
      const resume = meeting.checkpoint ? await downloadCheckpoint(meeting.checkpoint, join(runDir, 'resume')) : undefined;

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

      let uploads: Promise<unknown> = Promise.resolve();
      let lastUploaded: string | undefined = meeting.checkpoint ?? undefined;
      let lastSignal = 0;
      let final: ToolEvent | undefined;
      const onEvent = (e: ToolEvent) => {
        if (e.event === 'step') {
          Object.assign(progress, {
            step: Number(e.step),
            loss: Number(e.loss),
            tokensPerS: e.tokens_per_s === undefined ? undefined : Number(e.tokens_per_s),
          });
          const now = Date.now();
          if (now - lastSignal >= input.progressEverySeconds * 1000 || lastSignal === 0) {
            lastSignal = now;
            void signalProgress();
          }
        } else if (e.event === 'eval') {
          progress.valLoss = Number(e.val_loss);
        } else if (e.event === 'checkpoint') {
          const local = String(e.path);
          // Uploads run one after another, in step order, while training goes on.
          uploads = uploads.then(async () => {
            lastUploaded = await uploadCheckpoint(local, input.checkpointsUri);
            progress.lastCheckpoint = lastUploaded;
            await signalProgress();
          });
        } else if (e.event === 'done' || e.event === 'stopped') {
          final = e;
        }
      };

      const run = await runPythonTool('kiln_trainer.train', [], {
        command: { file: torchrun, args },
        onEvent,
        cancelSignal: ctx.cancellationSignal,
        fatalType: ErrorType.TrainerFatal,
        env: { KILN_NODE_RANK: String(input.rank) },
      });
      await uploads;

      if (run.exitCode === 0 && (input.rank !== 0 || final?.event === 'done')) {
        return { rank: input.rank, status: 'done', step: Number(final?.step ?? progress.step), finalLoss: num(final?.final_loss), checkpoint: lastUploaded };
      }
      if (final?.event === 'stopped' || (ctx.cancellationSignal.aborted && run.exitCode !== 0)) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        return { rank: input.rank, status: 'stopped', step: Number(final?.step ?? progress.step), checkpoint: lastUploaded };
      }
      throw transient(
        ErrorType.NodeFailed,
        `Node ${input.rank} (attempt ${input.attempt}) failed: torchrun exited with code ${run.exitCode}${run.exitCode === EXIT_STOPPED ? ' (stopped)' : ''}.\n${run.stderrTail}`,
      );
    }, details);
  };

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
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function num(x: unknown): number | undefined {
  return x === undefined || x === null ? undefined : Number(x);
}

