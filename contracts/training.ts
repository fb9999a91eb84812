// Inputs and outputs of the GPU node activity (shared with the training workflow as types only).
import type { ModelConfig, TrainConfig } from '../lib/config/types.js';
import type { Rendezvous, TrainingStatus } from './workflows.js';

/**
 * The train fields that are the orchestrator's, not the trainer's: the workflow reads them from
 * the pipeline config; planTraining keeps them out of the trainer's config and of the run's
 * identity (changing them changes no result, and a run still resumes).
 */
export const ORCHESTRATOR_TRAIN_KEYS = ['maxGangRestarts', 'progressEverySeconds', 'heartbeatTimeoutSeconds', 'stallTimeoutSeconds'] as const satisfies readonly (keyof TrainConfig)[];
export type OrchestratorTrainKey = (typeof ORCHESTRATOR_TRAIN_KEYS)[number];

/** The trainer's train section: the pipeline's, without the orchestrator's fields. */
export type TrainerTrainConfig = Omit<TrainConfig, OrchestratorTrainKey>;

/**
 * The trainer's own config file (python/kiln_trainer/config.py reads exactly this). A model or
 * train field left out takes configs/schema.json's default, which the trainer reads from the
 * schema too; planTraining writes every field.
 */
export interface TrainerConfig {
  seed: number;
  model: Partial<ModelConfig>;
  train: Partial<TrainerTrainConfig>;
  vocabSize: number;
  seqLen: number;
  eosTokenId: number;
}

export interface TrainNodeInput {
  /** Fingerprint of (shards, trainer config): names the run's checkpoint folder. */
  runKey: string;
  trainer: TrainerConfig;
  shardsDir: string;
  /** Where complete checkpoints live: <root>/train/<runKey>/checkpoints/step_XXXXXXXX/. */
  checkpointsUri: string;
  rank: number;
  nodes: number;
  procsPerNode: number;
  attempt: number;
  /** Workflows told about progress (training run, and the pipeline above it). */
  trainingWorkflowId: string;
  pipelineWorkflowId?: string;
  progressEverySeconds: number;
  /**
   * Trainer liveness (rank 0 only: its events reflect the whole gang, as every step all-reduces):
   * the node fails when no trainer event arrives for max(this, 4 x the longest gap seen so far
   * between events, checkpoint writes included), or for 10 minutes before the first step.
   * Default 120.
   */
  stallTimeoutSeconds?: number;
}

/** Wall-clock phases of one node attempt, for the orchestration-overhead benchmark. */
export interface NodeTimings {
  /** When the activity started on the worker (ms since epoch). */
  startedAt: number;
  /** Scheduled -> started on the worker (task queue pickup). */
  pickupMs: number;
  shardsMs: number;
  rendezvousMs: number;
  resumeDownloadMs: number;
  /** torchrun spawn -> the trainer's `start` event (Python, torch import, process group). */
  trainerStartMs: number;
  /** The trainer's `start` event -> its last event. */
  trainerLoopMs: number;
  /** torchrun spawn -> exit: the trainer's own wall time. */
  trainerWallMs: number;
  /** Waiting, after the trainer exited, for checkpoint and metrics uploads. */
  uploadWaitMs: number;
  /** Started -> result, on the worker. */
  activityMs: number;
}

/** Input of the placement activity: which rank of which gang attempt is being placed. */
export interface ClaimInput {
  trainingWorkflowId: string;
  attempt: number;
  rank: number;
}

export interface TrainNodeResult {
  rank: number;
  status: 'done' | 'stopped';
  step: number;
  finalLoss?: number;
  checkpoint?: string;
  timings?: NodeTimings;
}

export type { Rendezvous };

/** Input of the trainingRun workflow (the pipeline starts it as a child). */
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
  /** A node whose worker sends no heartbeat for this long is lost. Default 20. */
  heartbeatTimeoutSeconds?: number;
  /** Floor of rank 0's trainer-liveness limit (see activities/train/watchdog.ts). Default 120. */
  stallTimeoutSeconds?: number;
  /** Once rank 0 is done, how long the other ranks may take to exit before they are stopped. Default 120. */
  finishGraceSeconds?: number;
  /**
   * A gang that has claimed only part of its workers after this long lets them go and tries again
   * after a random 5-15 s, so that gangs sharing a pool cannot each hold part of it forever. Default 60.
   */
  placementTimeoutSeconds?: number;
  /** Continue as new once the history holds this many events (or the server suggests it). Default 8,000 (10,000 for runs started on 0.1.0). */
  maxHistoryEvents?: number;
  /** What a run that continued as new hands to the next one. */
  carried?: { status: TrainingStatus };
}

export interface TrainingRunResult {
  steps: number;
  finalLoss?: number;
  firstLoss?: number;
  checkpoint: string;
  attempts: number;
  gangRestarts: number;
  /** Workflow runs (1 + continue-as-new count). */
  runs: number;
  /** Loss and throughput curves (HTML with SVG), beside the checkpoints. */
  reportUri?: string;
  /** Rank 0's phases in the last attempt (orchestration overhead). */
  timings?: NodeTimings;
}
