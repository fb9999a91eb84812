/**
 * What a node says to and asks of its training workflow: the rendezvous (rank 0 publishes its
 * address and the checkpoint to resume from, the others read it by query), progress signals,
 * and how the gang is being stopped.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  statusQuery,
  type Rendezvous,
  type TrainingStatus,
  type TrainProgress,
} from '../../contracts/workflows.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import { freePort } from '../../lib/ports.js';
import { latestCheckpoint } from './checkpoints.js';

export interface GangLinkDeps {
  client: Client;
  /** Address other nodes reach this one at. */
  nodeAddr: string;
}

/** Rank 0 publishes the gang's meeting point; the other ranks wait until they can read it. */
export function meetGang(deps: GangLinkDeps, input: TrainNodeInput): Promise<Rendezvous> {
  return input.rank === 0 ? publishRendezvous(deps, input) : awaitRendezvous(deps.client, input);
}

async function publishRendezvous(deps: GangLinkDeps, input: TrainNodeInput): Promise<Rendezvous> {
  const latest = await latestCheckpoint({ checkpointsUri: input.checkpointsUri });
  const meeting: Rendezvous = { attempt: input.attempt, addr: deps.nodeAddr, port: await freePort(), checkpoint: latest?.uri ?? null };
  await deps.client.workflow.getHandle(input.trainingWorkflowId).signal(rendezvousSignal, meeting);
  return meeting;
}

async function awaitRendezvous(client: Client, input: TrainNodeInput): Promise<Rendezvous> {
  const handle = client.workflow.getHandle(input.trainingWorkflowId);
  const signal = Context.current().cancellationSignal;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const meeting = await handle.query(rendezvousQuery, input.attempt).catch(() => null);
    if (meeting) return meeting;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * History length past which a node stops signalling progress. The training run continues as new
 * at 8,000 events; a history beyond this means no workflow worker is reading it (all down), and
 * reports would pile up towards Temporal's hard limit. The node then only heartbeats (the UI
 * still shows its step) until a worker is back and the run has continued as new.
 */
export const PROGRESS_HISTORY_CEILING = 9_500;

/**
 * Tells the training workflow the node's progress; a failed signal is dropped. Only the training
 * run hears it (it continues as new, so its history stays bounded); the pipeline above it learns
 * of gang state changes from the training run itself (trainingRun's reports).
 * Returns whether the report was sent.
 */
export async function signalProgress(client: Client, input: TrainNodeInput, progress: TrainProgress, ceiling = PROGRESS_HISTORY_CEILING): Promise<boolean> {
  const handle = client.workflow.getHandle(input.trainingWorkflowId);
  const length = await handle.describe().then((d) => d.historyLength, () => 0);
  if (length >= ceiling) return false;
  return handle.signal(progressSignal, { ...progress }).then(() => true, () => false);
}

/** Asks the training workflow how its gang is being stopped; `checkpoint` when unsure. */
export async function stopModeOf(client: Client, input: TrainNodeInput): Promise<'checkpoint' | 'kill'> {
  const handle = client.workflow.getHandle(input.trainingWorkflowId);
  const status = (await Promise.race([
    handle.query(statusQuery).catch(() => undefined),
    new Promise((r) => setTimeout(r, 3000).unref()),
  ])) as TrainingStatus | undefined;
  return status?.stopMode ?? 'checkpoint';
}
