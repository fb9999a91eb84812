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
}

export interface TrainNodeResult {
  rank: number;
  status: 'done' | 'stopped';
  step: number;
  finalLoss?: number;
  checkpoint?: string;
}

export type { Rendezvous };
