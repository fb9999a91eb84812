/** Derives the trainer's config and the run's checkpoint folder from the pipeline config. */
import type { PipelineConfig } from '../lib/config/types.js';
import { fingerprintOf } from '../lib/canonicalJson.js';
import { joinUri, type StageResult } from '../lib/manifest.js';
import { CODE_VERSION } from '../lib/version.js';
import { ORCHESTRATOR_TRAIN_KEYS, type TrainerConfig, type TrainerTrainConfig } from '../contracts/training.js';

/** Special token ids fixed by the tokenizer stage (StarCoder order). */
export const EOS_TOKEN_ID = 0;

export interface TrainingPlan {
  runKey: string;
  trainer: TrainerConfig;
  checkpointsUri: string;
}

export async function planTraining(input: { config: PipelineConfig; shards: StageResult; tokenizer: StageResult }): Promise<TrainingPlan> {
  const { config, shards, tokenizer } = input;
  // The orchestrator's knobs change no result: they stay out of the run's identity (changing them
  // still resumes) and out of the trainer's config (the workflow gets them from the pipeline config).
  const orchestrator: readonly string[] = ORCHESTRATOR_TRAIN_KEYS;
  const train = Object.fromEntries(Object.entries(config.train).filter(([key]) => !orchestrator.includes(key))) as TrainerTrainConfig;
  const trainer: TrainerConfig = {
    seed: config.seed,
    model: { ...config.model },
    train,
    vocabSize: Number(tokenizer.stats.vocabSize ?? config.tokenizer.vocabSize),
    seqLen: config.shard.seqLen,
    eosTokenId: EOS_TOKEN_ID,
  };
  // Tracking (W&B, TensorBoard) and activation checkpointing (recompute instead of store) change no
  // result either, but the trainer needs them: out of the identity only, so turning them on resumes.
  const { tracking: _tracking, activationCheckpointing: _recompute, ...identity } = train;
  const runKey = fingerprintOf({ codeVersion: CODE_VERSION, shards: shards.fingerprint, model: config.model, train: identity, seed: config.seed, vocab: trainer.vocabSize });
  return { runKey, trainer, checkpointsUri: joinUri(config.artifacts, 'train', runKey.slice(0, 16), 'checkpoints') };
}
