/**
 * Tokenizes documents and packs them into fixed-length sequences in MosaicML MDS shards, as
 * plan -> part(i) -> commit (contracts/fanOut.ts).
 *
 * Every input Parquet file is one partition, named `part-NNNNN` by its position in the sorted
 * input list. `shardPart` writes `<stage dir>/{train,val}/<part>/` and records its files in
 * `_parts/<part>.json`; `shardCommit` merges the parts' indexes (streaming's merge_index) into
 * `{train,val}/index.json` and commits the manifest. The output depends on the inputs and the
 * seed only, not on how the parts were spread over workers.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { StagePlan } from '../../contracts/fanOut.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import { commitStage, joinUri, openStage, type StageResult } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { withTempDir } from '../../lib/workdirs.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { STAGE, stageIdentity } from './legacy.js';
import { mergeParts, readPartMarker } from './merge.js';
import { writePart } from './part.js';
import { planParts, type ShardPartPlan, type ShardPartResult } from './tool.js';

export { shardPartStage, shardStage, type ShardFanOut, type ShardPartInput, type ShardStageInput } from './legacy.js';
export { planParts, type ShardPartPlan, type ShardPartResult } from './tool.js';

export interface ShardInput {
  artifactsRoot: string;
  input: StageResult;
  tokenizer: StageResult;
  params: PipelineConfig['shard'];
  seed: number;
}

/** The stage opened and not yet committed (kept in the store; the workflow carries its URI). */
interface ShardPlan {
  stage: string;
  fingerprint: string;
  dir: string;
  params: unknown;
  inputs: unknown[];
  shard: PipelineConfig['shard'];
  seed: number;
  tokenizerUri: string;
  parts: ShardPartPlan[];
}

export interface ShardPlanRef {
  dir: string;
  planUri: string;
}

async function readPlan(ref: ShardPlanRef): Promise<ShardPlan> {
  return JSON.parse(Buffer.from(await store.readBytes(ref.planUri)).toString('utf8')) as ShardPlan;
}

export async function shardPlan(input: ShardInput): Promise<StagePlan<ShardPlanRef>> {
  const parts = planParts(input.input);
  if (parts.length === 0) throw fatal(ErrorType.InvalidInput, `shard: the input stage (${input.input.dir}) has no Parquet files to tokenize`);
  const opened = await openStage(store, input.artifactsRoot, { stage: STAGE, ...stageIdentity(input) });
  if (opened.reused) return { done: opened.reused };
  const { reused: _, ...identity } = opened;
  const plan: ShardPlan = { ...identity, shard: input.params, seed: input.seed, tokenizerUri: String(input.tokenizer.stats.tokenizerUri), parts };
  const ref: ShardPlanRef = { dir: opened.dir, planUri: joinUri(opened.dir, '_parts', 'plan.json') };
  await store.writeBytes(ref.planUri, JSON.stringify(plan));
  return { plan: ref, parts: parts.length };
}

/** One partition, written into the stage's folder (./part.ts). */
export async function shardPart(ref: ShardPlanRef, index: number): Promise<ShardPartResult> {
  const plan = await readPlan(ref);
  const part = plan.parts[index];
  if (!part) throw fatal(ErrorType.InvalidInput, `shard: part ${index} is not in the plan (${plan.parts.length} parts)`);
  return writePart(plan.dir, part, plan.shard, plan.seed, plan.tokenizerUri);
}

/** Merges the parts' indexes and commits the manifest. */
export async function shardCommit(ref: ShardPlanRef): Promise<StageResult> {
  const plan = await readPlan(ref);
  const results = await Promise.all(plan.parts.map(async ({ part }) => {
    const { stats } = await readPartMarker(plan.dir, part);
    return { part, stats };
  }));
  const { shard, seed: _seed, tokenizerUri: _tok, parts: _parts, ...identity } = plan;
  const work = await withHeartbeat(() => withTempDir('shard-merge', (tmp) => mergeParts(plan.dir, results, plan.parts, tmp, shard.seqLen)));
  return commitStage(store, identity, work);
}
