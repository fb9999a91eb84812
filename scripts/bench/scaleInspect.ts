/**
 * What the scale benchmark reads from the Temporal server about its pipelines: where each one
 * stands (status queries, pending activities: how a starved or deadlocked run shows), and how
 * large every workflow's history grew. Part of bench-scale.ts.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { statusQuery, type PipelineStatus, type TrainingStatus } from '../../contracts/workflows.js';

/** One unfinished pipeline as found when the deadline passed. */
export interface StuckRun {
  id: string;
  stage?: string;
  train?: Pick<TrainingStatus, 'step' | 'gang' | 'placement' | 'placementRetries' | 'attempts' | 'gangRestarts' | 'lastError'> & { workflowId?: string };
  /** Pending activities of the pipeline and its training run: type, state, attempts, last failure. */
  pending: string[];
}

const query = <T>(h: WorkflowHandle) => h.query(statusQuery).then((s) => s as T).catch(() => undefined);

async function pendingOf(client: Client, workflowId: string): Promise<string[]> {
  const d = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
  return (d?.raw.pendingActivities ?? []).map(
    (a) => `${workflowId}: ${a.activityType?.name} on ${a.lastWorkerIdentity || '-'} state ${a.state} attempt ${a.attempt}${a.lastFailure?.message ? ` (${a.lastFailure.message.slice(0, 120)})` : ''}`,
  );
}

/** Stage per pipeline (status query); undefined where the query did not answer. */
export async function stagesOf(handles: WorkflowHandle[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const s of await Promise.all(handles.map((h) => query<PipelineStatus>(h)))) {
    const k = s ? (s.stage === 'train' ? `train@${s.train.step ?? 0}` : s.stage) : '?';
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** Where each unfinished pipeline stands: its status, its training run's status, pending activities. */
export async function inspectStuck(client: Client, handles: WorkflowHandle[]): Promise<StuckRun[]> {
  return Promise.all(
    handles.map(async (h) => {
      const s = await query<PipelineStatus>(h);
      const trainId = s?.train.workflowId;
      const t = trainId ? await query<TrainingStatus>(client.workflow.getHandle(trainId)) : undefined;
      const pending = [...(await pendingOf(client, h.workflowId)), ...(trainId ? await pendingOf(client, trainId) : [])];
      const train = t ?? s?.train;
      return {
        id: h.workflowId,
        stage: s?.stage,
        train: train && {
          workflowId: trainId,
          step: train.step,
          gang: train.gang,
          placement: train.placement,
          placementRetries: train.placementRetries,
          attempts: train.attempts,
          gangRestarts: train.gangRestarts,
          lastError: train.lastError,
        },
        pending,
      };
    }),
  );
}

export interface HistorySizes {
  /** Workflow type -> runs, largest history in events and bytes. */
  byType: Record<string, { runs: number; maxEvents: number; maxBytes: number }>;
}

/** Every workflow run on the server (each continue-as-new run counts apart) with its history size. */
export async function historySizes(client: Client): Promise<HistorySizes> {
  const byType: HistorySizes['byType'] = {};
  const runs: { type: string; id: string; runId: string }[] = [];
  for await (const w of client.workflow.list()) runs.push({ type: w.type, id: w.workflowId, runId: w.runId });
  for (const r of runs) {
    const d = await client.workflow.getHandle(r.id, r.runId).describe();
    const info = d.raw.workflowExecutionInfo;
    const t = (byType[r.type] ??= { runs: 0, maxEvents: 0, maxBytes: 0 });
    t.runs++;
    t.maxEvents = Math.max(t.maxEvents, Number(info?.historyLength ?? 0));
    t.maxBytes = Math.max(t.maxBytes, Number(info?.historySizeBytes ?? 0));
  }
  return { byType };
}
