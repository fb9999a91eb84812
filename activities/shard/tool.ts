// The native shard tool (kiln_trainer.shard): its arguments, its run, and the counts it reports.
import { join } from 'node:path';
import { ErrorType } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { assertSucceeded, runPythonTool, type ToolEvent } from '../../lib/pythonTool.js';
import { cancellationSignal } from '../support/heartbeat.js';
import { fetchAll } from '../nativeStage.js';

export const SHARD_TOOL = 'kiln_native.shard';
export const SPLITS = ['train', 'val'] as const;

export interface ShardPartPlan {
  part: string;
  files: string[];
}

export interface ShardPartResult {
  part: string;
  stats: Record<string, number>;
}

/** One partition per input Parquet file, named by its position in the sorted list. */
export function planParts(input: StageResult): ShardPartPlan[] {
  return input.outputs
    .filter((u) => u.endsWith('.parquet'))
    .sort()
    .map((uri, i) => ({ part: `part-${String(i).padStart(5, '0')}`, files: [uri] }));
}

export function toolArgs(params: PipelineConfig['shard'], seed: number, tokenizerJson: string): string[] {
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
export function countsOf(event: ToolEvent): Record<string, number> {
  return Object.fromEntries(Object.entries(event).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
}

export async function runShardTool(args: string[]): Promise<ToolEvent> {
  const run = await runPythonTool(SHARD_TOOL, args, { fatalType: ErrorType.InvalidInput, cancelSignal: cancellationSignal() });
  assertSucceeded(SHARD_TOOL, run);
  return [...run.events].reverse().find((x) => x.event === 'shards' || x.event === 'merged') ?? { event: 'shards' };
}

export async function tokenizerFile(tokenizerUri: string, tmp: string): Promise<string> {
  const [path] = await fetchAll([tokenizerUri], join(tmp, 'tok'));
  return path!;
}
