// Inputs and outputs of the GPU node activity (shared with the training workflow as types only).
import type { Rendezvous } from '../../workflows/definitions.js';

/** The trainer's own config file (trainer/kiln_trainer/config.py reads exactly this). */
export interface TrainerConfig {
  seed: number;
  model: Record<string, unknown>;
  train: Record<string, unknown>;
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
