/**
 * Tokenizes documents and packs them into fixed-length sequences in MosaicML MDS shards.
 *
 * Every input Parquet file is one partition, named `part-NNNNN` by its position in the sorted
 * input list, written to `<stage dir>/{train,val}/<part>/`. With one input file the stage runs in
 * this activity; with several, the first call returns a fan-out plan instead, the workflow runs
 * `shardPartStage` once per partition (in parallel, on the data queue), and a second call with
 * the parts' results merges their indexes (streaming's merge_index) and commits the manifest.
 * The output depends on the inputs and the seed only, not on how the parts were spread.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, fatal } from '../contracts/errors.js';
import { joinUri, openStage, runStage, type ManifestFile, type StageResult } from '../lib/manifest.js';
import { assertSucceeded, runPythonTool, type ToolEvent } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { withTempDir } from '../lib/workdirs.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';
import { fetchAll, publishDir } from './nativeStage.js';
import { memoized } from './support/stageIo.js';

export interface ShardStageInput {
  artifactsRoot: string;
  input: StageResult;
  tokenizer: StageResult;
  params: PipelineConfig['shard'];
  seed: number;
  /** Results of shardPartStage, one per planned part: this call merges them. */
  parts?: ShardPartResult[];
}

export interface ShardPartPlan {
  part: string;
  files: string[];
}

/** What the first call returns when the stage fans out over several partitions. */
export interface ShardFanOut {
  fanOut: true;
  dir: string;
  parts: ShardPartPlan[];
}

export interface ShardPartResult {
  part: string;
  stats: Record<string, number>;
}

export interface ShardPartInput extends Omit<ShardStageInput, 'parts'>, ShardPartPlan {
  dir: string;
}

const SPLITS = ['train', 'val'] as const;
const STAGE = 'shard';

function stageIdentity({ input, tokenizer, params, seed }: ShardStageInput) {
  return { params: { ...params, seed }, inputs: [input.fingerprint, tokenizer.fingerprint] };
}

/** One partition per input Parquet file, named by its position in the sorted list. */
export function planParts(input: StageResult): ShardPartPlan[] {
  return input.outputs
    .filter((u) => u.endsWith('.parquet'))
    .sort()
    .map((uri, i) => ({ part: `part-${String(i).padStart(5, '0')}`, files: [uri] }));
}

function partMarker(dir: string, part: string): string {
  return joinUri(dir, '_parts', `${part}.json`);
}

/** What shardPartStage recorded for a committed part: its result and the files it wrote. */
async function readPartMarker(dir: string, part: string): Promise<ShardPartResult & { outputs: ManifestFile[] }> {
  return JSON.parse(Buffer.from(await store.readBytes(partMarker(dir, part))).toString('utf8'));
}

function toolArgs(params: PipelineConfig['shard'], seed: number, tokenizerJson: string): string[] {
  return [
    '--tokenizer', tokenizerJson,
    '--seq-len', String(params.seqLen),
    '--val-fraction', String(params.valFraction),
    '--fim-rate', String(params.fimRate),
    '--fim-spm-rate', String(params.fimSpmRate ?? 0),
    '--seed', String(seed),
    '--size-limit', String(params.shardSizeLimit),
    ...(params.compression ? ['--compression', params.compression] : []),
  ];
}

/** Counts only (the manifest's stats travel in workflow histories). */
function countsOf(event: ToolEvent): Record<string, number> {
  return Object.fromEntries(Object.entries(event).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

async function runShardTool(args: string[]): Promise<ToolEvent> {
  const run = await runPythonTool('kiln_trainer.shard', args, { fatalType: ErrorType.InvalidInput, cancelSignal: cancellationSignal() });
  assertSucceeded('kiln_trainer.shard', run);
  return [...run.events].reverse().find((x) => x.event === 'shards' || x.event === 'merged') ?? { event: 'shards' };
}

async function tokenizerFile(tokenizer: StageResult, tmp: string): Promise<string> {
  const [path] = await fetchAll([String(tokenizer.stats.tokenizerUri)], join(tmp, 'tok'));
  return path!;
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
          const e = await runShardTool(['--input', ...parquet, '--parts', ...plans.map((p) => p.part), '--out', out, ...toolArgs(params, seed, await tokenizerFile(input.tokenizer, tmp))]);
          const outputs = await publishDir(out, dir);
          return { outputs, stats: { ...countsOf(e), parts: plans.length, seqLen: params.seqLen } };
        }),
      ),
  });
}

/** One partition of a fanned-out shard stage, written into the stage's folder. Idempotent: a
 * retry after a committed part returns the recorded result. */
export async function shardPartStage(input: ShardPartInput): Promise<ShardPartResult> {
  // The marker also lists the part's files, for the merge.
  const recorded = await memoized(store, partMarker(input.dir, input.part), () =>
    withHeartbeat(() =>
      withTempDir(`shard-${input.part}`, async (tmp) => {
        const parquet = await fetchAll(input.files, join(tmp, 'in'));
        const out = join(tmp, 'out');
        const e = await runShardTool(['--input', ...parquet, '--parts', input.part, '--no-merge', '--out', out, ...toolArgs(input.params, input.seed, await tokenizerFile(input.tokenizer, tmp))]);
        const outputs = await publishDir(out, input.dir);
        return { part: input.part, stats: countsOf(e), outputs };
      }),
    ),
  );
  return { part: recorded.part, stats: recorded.stats };
}

async function mergeParts(dir: string, parts: ShardPartResult[], plans: ShardPartPlan[], tmp: string, seqLen: number) {
  const expected = plans.map((p) => p.part).sort();
  const got = parts.map((p) => p.part).sort();
  if (expected.join() !== got.join()) throw fatal(ErrorType.InvalidInput, `shard merge: parts ${got.join(',')} do not match the plan ${expected.join(',')}`);
  const outputs: ManifestFile[] = [];
  const root = join(tmp, 'merge');
  for (const { part } of parts) {
    outputs.push(...(await readPartMarker(dir, part)).outputs);
    for (const split of SPLITS) {
      const local = join(root, split, part, 'index.json');
      mkdirSync(dirname(local), { recursive: true });
      await store.download(joinUri(dir, split, part, 'index.json'), local);
    }
  }
  await runShardTool(['--merge', '--out', root]);
  const indexes = join(tmp, 'indexes');
  for (const split of SPLITS) {
    mkdirSync(join(indexes, split), { recursive: true });
    copyFileSync(join(root, split, 'index.json'), join(indexes, split, 'index.json'));
  }
  outputs.push(...(await publishDir(indexes, dir)));
  const stats: Record<string, number> = {};
  for (const { stats: s } of parts) for (const [k, v] of Object.entries(s)) if (k !== 'seq_len') stats[k] = (stats[k] ?? 0) + v;
  return { outputs: outputs.sort((a, b) => a.uri.localeCompare(b.uri)), stats: { ...stats, seq_len: seqLen, parts: parts.length, seqLen } };
}
