/** Trains a byte-level BPE tokenizer (Hugging Face tokenizer.json + the files transformers'
 * AutoTokenizer needs) on a seeded subsample; measures chars/token per language on held-out files. */
import { join } from 'node:path';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType } from '../contracts/errors.js';
import { runStage, type StageResult } from '../lib/manifest.js';
import { assertSucceeded, runPythonTool } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { withTempDir } from '../lib/workdirs.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';
import { fetchAll, publishDir } from './nativeStage.js';

export interface TokenizerStageInput {
  artifactsRoot: string;
  input: StageResult;
  params: PipelineConfig['tokenizer'];
  seed: number;
}

export async function tokenizerStage({ artifactsRoot, input, params, seed }: TokenizerStageInput): Promise<StageResult> {
  return runStage({
    store,
    artifactsRoot,
    stage: 'tokenizer',
    params: { ...params, seed },
    inputs: [input.fingerprint],
    work: (dir) =>
      withHeartbeat(() =>
        withTempDir('tokenizer', async (tmp) => {
          const parquet = await fetchAll(input.outputs.filter((u) => u.endsWith('.parquet')), join(tmp, 'in'));
          const out = join(tmp, 'out');
          const run = await runPythonTool(
            'kiln_native.tokenizer_train',
            ['--input', ...parquet, '--out', out, '--vocab-size', String(params.vocabSize), '--sample-docs', String(params.sampleDocs), '--min-frequency', String(params.minFrequency), '--seed', String(seed), '--heldout-docs', String(params.heldoutDocs ?? 0)],
            { fatalType: ErrorType.InvalidInput, cancelSignal: cancellationSignal() },
          );
          assertSucceeded('kiln_native.tokenizer_train', run);
          const event = run.events.find((e) => e.event === 'tokenizer') ?? ({} as Record<string, unknown>);
          const outputs = await publishDir(out, dir);
          return {
            outputs,
            stats: {
              vocabSize: event.vocab_size,
              docs: event.docs,
              tokenizerUri: outputs.find((o) => o.uri.endsWith('/tokenizer.json'))?.uri,
              // Held-out documents (not in the training subsample): characters per token by language.
              heldoutDocs: event.heldout_docs,
              charsPerToken: event.chars_per_token,
            },
          };
        }),
      ),
  });
}
