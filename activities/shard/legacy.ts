/**
 * The shard stage's activities before the common fan-out shape (release 0.1.0): `shardStage`
 * ran the stage, or returned a fan-out plan and later merged the parts that `shardPartStage`
 * wrote. Kept registered so that runs started on 0.1.0 workers, and their recorded histories,
 * still complete; new runs use shardPlan/shardPart/shardCommit (./index.ts). Same files and
 * markers, so both give the same stage folder.
 */
import { join } from 'node:path';
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import { openStage, runStage, type StageResult } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { withTempDir } from '../../lib/workdirs.js';
import { fetchAll, publishDir } from '../nativeStage.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { mergeParts } from './merge.js';
import { writePart } from './part.js';
import { countsOf, planParts, runShardTool, tokenizerFile, toolArgs, type ShardPartPlan, type ShardPartResult } from './tool.js';

export interface ShardStageInput {
  artifactsRoot: string;
  input: StageResult;
  tokenizer: StageResult;
  params: PipelineConfig['shard'];
  seed: number;
  /** Results of shardPartStage, one per planned part: this call merges them. */
  parts?: ShardPartResult[];
}

/** What the first call returns when the stage fans out over several partitions. */
export interface ShardFanOut {
  fanOut: true;
  dir: string;
  parts: ShardPartPlan[];
}

export interface ShardPartInput extends Omit<ShardStageInput, 'parts'>, ShardPartPlan {
  dir: string;
}

export const STAGE = 'shard';

export function stageIdentity({ input, tokenizer, params, seed }: Omit<ShardStageInput, 'parts' | 'artifactsRoot'>) {
  return { params: { ...params, seed }, inputs: [input.fingerprint, tokenizer.fingerprint] };
}

export async function shardStage(input: ShardStageInput): Promise<StageResult | ShardFanOut> {
  const { artifactsRoot, params, seed } = input;
  const identity = stageIdentity(input);
  const plans = planParts(input.input);
  if (plans.length === 0) throw fatal(ErrorType.InvalidInput, `shard: the input stage (${input.input.dir}) has no Parquet files to tokenize`);
  if (!input.parts && plans.length > 1) {
    const { dir, reused } = await openStage(store, artifactsRoot, { stage: STAGE, ...identity });
    return reused ?? { fanOut: true, dir, parts: plans };
  }
  return runStage({
    store,
    artifactsRoot,
    stage: STAGE,
    ...identity,
    work: (dir) =>
      withHeartbeat(() =>
        withTempDir('shard', async (tmp) => {
          if (input.parts) return mergeParts(dir, input.parts, plans, tmp, params.seqLen);
          // One partition: the whole stage here.
          const parquet = await fetchAll(plans.flatMap((p) => p.files), join(tmp, 'in'));
          const out = join(tmp, 'out');
          const tok = await tokenizerFile(String(input.tokenizer.stats.tokenizerUri), tmp);
          const e = await runShardTool(['--input', ...parquet, '--parts', ...plans.map((p) => p.part), '--out', out, ...toolArgs(params, seed, tok)]);
          const outputs = await publishDir(out, dir);
          return { outputs, stats: { ...countsOf(e), parts: plans.length, seqLen: params.seqLen } };
        }),
      ),
  });
}

/** One partition of a fanned-out shard stage, written into the stage's folder. Idempotent. */
export async function shardPartStage(input: ShardPartInput): Promise<ShardPartResult> {
  return writePart(input.dir, input, input.params, input.seed, String(input.tokenizer.stats.tokenizerUri));
}
