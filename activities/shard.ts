/** Tokenizes documents and packs them into fixed-length sequences in MosaicML MDS shards. */
import { join } from 'node:path';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType } from '../lib/errors.js';
import { runStage, type StageResult } from '../lib/manifest.js';
import { assertSucceeded, runPythonTool, type ToolEvent } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { withTempDir } from '../lib/workdirs.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';
import { fetchAll, publishDir } from './nativeStage.js';

export interface ShardStageInput {
  artifactsRoot: string;
  input: StageResult;
  tokenizer: StageResult;
  params: PipelineConfig['shard'];
  seed: number;
}

export async function shardStage({ artifactsRoot, input, tokenizer, params, seed }: ShardStageInput): Promise<StageResult> {
  return runStage({
    store,
    artifactsRoot,
    stage: 'shard',
    params: { ...params, seed },
    inputs: [input.fingerprint, tokenizer.fingerprint],
    work: (dir) =>
      withHeartbeat(() =>
        withTempDir('shard', async (tmp) => {
          const parquet = await fetchAll(input.outputs.filter((u) => u.endsWith('.parquet')), join(tmp, 'in'));
          const [tokenizerJson] = await fetchAll([String(tokenizer.stats.tokenizerUri)], join(tmp, 'tok'));
          const out = join(tmp, 'out');
          const run = await runPythonTool(
            'kiln_trainer.shard',
            [
              '--input', ...parquet,
              '--tokenizer', tokenizerJson!,
              '--out', out,
              '--seq-len', String(params.seqLen),
              '--val-fraction', String(params.valFraction),
              '--fim-rate', String(params.fimRate),
              '--seed', String(seed),
              '--size-limit', String(params.shardSizeLimit),
            ],
            { fatalType: ErrorType.InvalidInput, cancelSignal: cancellationSignal() },
          );
          assertSucceeded('kiln_trainer.shard', run);
          const e: ToolEvent = run.events.find((x) => x.event === 'shards') ?? { event: 'shards' };
          const outputs = await publishDir(out, dir);
          const { event: _event, shards: _shards, ...stats } = e;
          return { outputs, stats: { ...stats, seqLen: params.seqLen } };
        }),
      ),
  });
}
