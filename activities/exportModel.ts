/** Exports the final checkpoint as a Hugging Face model folder (config.json + safetensors + tokenizer). */
import { join } from 'node:path';
import { ErrorType, fatal } from '../contracts/errors.js';
import { joinUri, runStage, type StageResult } from '../lib/manifest.js';
import { assertSucceeded, runPythonTool } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { withTempDir } from '../lib/workdirs.js';
import { COMPLETE_MARKER, downloadCheckpoint } from './train/checkpoints.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';
import { fetchAll, publishDir } from './nativeStage.js';

export async function exportModelStage(input: { artifactsRoot: string; checkpoint: string; tokenizer: StageResult }): Promise<StageResult> {
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'export',
    params: { format: 'huggingface-llama' },
    // Checkpoint folders are content-addressed by run and step, so the URI identifies the weights.
    inputs: [input.checkpoint, input.tokenizer.fingerprint],
    work: (dir) =>
      withHeartbeat(() =>
        withTempDir('export', async (tmp) => {
          const tokenizerUri = input.tokenizer.stats.tokenizerUri;
          if (typeof tokenizerUri !== 'string') {
            throw fatal(ErrorType.InvalidInput, `Expected the tokenizer stage's stats.tokenizerUri (stage ${input.tokenizer.dir}) to be a URI, got ${JSON.stringify(tokenizerUri) ?? 'nothing'}.`);
          }
          // Only a whole checkpoint is exported: its marker is written last (train/checkpoints.ts).
          if (!(await store.exists(joinUri(input.checkpoint, COMPLETE_MARKER)))) {
            throw fatal(ErrorType.NotFound, `No complete checkpoint at ${input.checkpoint}: expected a step_* folder committed by ${COMPLETE_MARKER}, found none (pruned, or an upload cut short).`);
          }
          const ckpt = await downloadCheckpoint(input.checkpoint, join(tmp, 'ckpt'));
          const [tokenizerJson] = await fetchAll([tokenizerUri], join(tmp, 'tok'));
          const out = join(tmp, 'model');
          const run = await runPythonTool('kiln_native.export', ['--checkpoint', ckpt, '--tokenizer', tokenizerJson!, '--out', out], {
            fatalType: ErrorType.TrainerFatal,
            cancelSignal: cancellationSignal(),
          });
          assertSucceeded('kiln_native.export', run, cancellationSignal());
          const event = run.events.find((e) => e.event === 'exported') ?? ({} as Record<string, unknown>);
          const outputs = await publishDir(out, dir);
          return { outputs, stats: { params: event.params, format: 'huggingface-llama', checkpoint: input.checkpoint } };
        }),
      ),
  });
}
