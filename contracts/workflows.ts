// Signals, queries and the shapes they carry: defined once, imported by workflows, activities
// and clients (kiln CLI, tests). Names are what `temporal workflow signal/query` use.
import type { SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes.js';
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const TASK_QUEUES = {
  workflows: 'llm-pipeline',
  data: 'llm-data',
  gpu: 'llm-gpu',
} as const;

export const STAGES = ['ingest', 'clean', 'dedup', 'tokenizer', 'shard', 'train', 'export', 'eval', 'deploy'] as const;
export type StageName = (typeof STAGES)[number];
export type StageState = 'pending' | 'running' | 'done' | 'reused' | 'failed';

export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss?: number;
  valLoss?: number;
  tokensPerS?: number;
  lastCheckpoint?: string;
  attempt?: number;
}

export type GangState = 'starting' | 'running' | 'stopping' | 'paused' | 'restarting' | 'done';

export interface TrainingStatus extends TrainProgress {
  paused: boolean;
  /** Step of `lastCheckpoint` (where a restart resumes). */
  lastCheckpointStep?: number;
  /** What the gang is doing: `paused` means stopped at a checkpoint, waiting for `resume`. */
  gang?: GangState;
  /** Gang attempts started so far (1 = no restart). */
  attempts: number;
  gangRestarts: number;
  /** Restarts caused by a worker shutting down (SIGTERM, Ctrl-C): not counted against maxGangRestarts. */
  drains?: number;
  firstLoss?: number;
  firstLossStep?: number;
  lastError?: string;
  /**
   * How the current gang is being stopped: `checkpoint` (pause, continue-as-new: the trainer
   * saves and exits) or `kill` (a lost node: the survivors cannot checkpoint, so they are killed).
   */
  stopMode?: 'checkpoint' | 'kill';
  /** The worker each rank of the current gang runs on (placement). */
  placement?: string[];
  /** Placements given up (part of the pool held past placementTimeoutSeconds) and tried again. */
  placementRetries?: number;
  /** Runs of this training workflow so far (continue-as-new keeps the workflow id). */
  runs?: number;
}

export interface PipelineTrainingStatus extends TrainingStatus {
  /** The training run to query for live step and loss (`temporal workflow query --workflow-id <this>`). */
  workflowId?: string;
}

export interface PipelineStatus {
  name: string;
  stage: StageName | 'validate' | 'done' | 'failed';
  stages: Record<StageName, StageState>;
  paused: boolean;
  /** As the training run last reported it (state changes, not every step). */
  train: PipelineTrainingStatus;
  /** Small per-stage stats and locations, filled as stages finish. */
  results: Partial<Record<StageName, { dir?: string; stats?: Record<string, unknown> }>>;
}

/** Rank 0 of a gang tells the training workflow where the other ranks meet it. */
export interface Rendezvous {
  attempt: number;
  addr: string;
  port: number;
  /** The checkpoint every rank resumes from (null: start from scratch). */
  checkpoint: string | null;
}

/** A GPU worker's claim of one rank of a gang: the rank runs on the worker's own task queue. */
export interface WorkerClaim {
  attempt: number;
  rank: number;
  workerId: string;
  taskQueue: string;
}

/** Per-worker task queue of a GPU worker (`llm-gpu/<worker id>`). */
export function gpuWorkerQueue(workerId: string): string {
  return `${TASK_QUEUES.gpu}/${workerId}`;
}

/**
 * Search attributes (register them on the server: cli/stack.ts and the test server do):
 * the pipeline's current stage and the training run's step, for `temporal workflow list --query`.
 */
// Written out (not defineSearchAttributeKey) because workflow code imports only @temporalio/workflow.
export const kilnStageAttribute: SearchAttributeKey<typeof SearchAttributeType.KEYWORD> = { name: 'KilnStage', type: 'KEYWORD' };
export const kilnStepAttribute: SearchAttributeKey<typeof SearchAttributeType.INT> = { name: 'KilnStep', type: 'INT' };
export const SEARCH_ATTRIBUTES = [kilnStageAttribute, kilnStepAttribute];

/** The `temporal` CLI's spelling of a search attribute type (KEYWORD -> Keyword). */
export function searchAttributeCliType(type: string): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const statusQuery = defineQuery<PipelineStatus | TrainingStatus>('status');
export const progressSignal = defineSignal<[TrainProgress]>('progress');
export const rendezvousSignal = defineSignal<[Rendezvous]>('rendezvous');
/**
 * The training run tells the pipeline its status when the gang changes state (started, paused,
 * restarting, continuing as new): a handful of events per run whatever its length, where a
 * signal per step would grow the pipeline's history without bound. Live step and loss: query
 * the training run (`<pipeline id>/train`).
 */
export const trainingSummarySignal = defineSignal<[TrainingStatus]>('trainingSummary');
export const claimSignal = defineSignal<[WorkerClaim]>('claim');
export const rendezvousQuery = defineQuery<Rendezvous | null, [number]>('rendezvous');
