// One partition of the shard stage, written into the stage's folder and recorded in
// `_parts/<part>.json` (its counts and files, for the merge). A retry finds the record and
// returns it: a part is done once.
import { join } from 'node:path';
import type { PipelineConfig } from '../../lib/config/types.js';
import { store } from '../../lib/storage/index.js';
import { withTempDir } from '../../lib/workdirs.js';
import { fetchAll, publishDir } from '../nativeStage.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { memoized } from '../support/stageIo.js';
import { partMarker } from './merge.js';
import { countsOf, runShardTool, tokenizerFile, toolArgs, type ShardPartPlan, type ShardPartResult } from './tool.js';

export async function writePart(dir: string, part: ShardPartPlan, params: PipelineConfig['shard'], seed: number, tokenizerUri: string): Promise<ShardPartResult> {
  const recorded = await memoized(store, partMarker(dir, part.part), () =>
    withHeartbeat(() =>
      withTempDir(`shard-${part.part}`, async (tmp) => {
        const parquet = await fetchAll(part.files, join(tmp, 'in'));
        const out = join(tmp, 'out');
        const tok = await tokenizerFile(tokenizerUri, tmp);
        const e = await runShardTool(['--input', ...parquet, '--parts', part.part, '--no-merge', '--out', out, ...toolArgs(params, seed, tok)]);
        const outputs = await publishDir(out, dir);
        return { part: part.part, stats: countsOf(e), outputs };
      }),
    ),
  );
  return { part: recorded.part, stats: recorded.stats };
}
