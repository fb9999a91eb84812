// Signals, queries and the shapes they carry: defined once, imported by workflows, activities
// and clients (kiln CLI, tests). Names are what `temporal workflow signal/query` use.
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
  /** What the gang is doing: `paused` means stopped at a checkpoint, waiting for `resume`. */
  gang?: GangState;
  /** Gang attempts started so far (1 = no restart). */
  attempts: number;
  gangRestarts: number;
  firstLoss?: number;
  firstLossStep?: number;
  lastError?: string;
}

export interface PipelineStatus {
  name: string;
  stage: StageName | 'validate' | 'done' | 'failed';
  stages: Record<StageName, StageState>;
  paused: boolean;
  train: TrainingStatus;
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

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const statusQuery = defineQuery<PipelineStatus | TrainingStatus>('status');
export const progressSignal = defineSignal<[TrainProgress]>('progress');
export const rendezvousSignal = defineSignal<[Rendezvous]>('rendezvous');
export const rendezvousQuery = defineQuery<Rendezvous | null, [number]>('rendezvous');
