/** Generates completions for HumanEval-style problems with the exported model (GPU worker). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, fatal } from '../contracts/errors.js';
import { joinUri, runStage, type StageResult } from '../lib/manifest.js';
import { assertSucceeded, runPythonTool } from '../lib/pythonTool.js';
import { store } from '../lib/storage/index.js';
import { downloadDir } from '../lib/syncDir.js';
import { withTempDir } from '../lib/workdirs.js';
import { parseProblems } from './eval/problems.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';
import { fetchAll, publishDir } from './nativeStage.js';

export async function generateSamplesStage(input: {
  artifactsRoot: string;
  model: StageResult;
  params: PipelineConfig['eval'];
  seed: number;
}): Promise<StageResult> {
  const { params } = input;
  let done = 0;
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'generate',
    params: { problems: params.problems, limit: params.limit, n: params.samplesPerProblem, temperature: params.temperature, maxNewTokens: params.maxNewTokens, seed: input.seed },
    inputs: [input.model.fingerprint],
    work: (dir) =>
      withHeartbeat(
        () =>
          withTempDir('generate', async (tmp) => {
            const [problems] = await fetchAll([params.problems], join(tmp, 'problems'));
            // Bad problems fail here, naming the URI and line, before the model is fetched.
            parseProblems(readFileSync(problems!), params.problems);
            const model = join(tmp, 'model');
            await downloadDir(input.model.dir, model);
            if (!existsSync(join(model, 'config.json'))) throw fatal(ErrorType.NotFound, `No exported model (config.json) under ${input.model.dir}.`);
            const out = join(tmp, 'out');
            const run = await runPythonTool(
              'kiln_native.generate',
              [
                '--model', model,
                '--problems', problems!,
                '--out', join(out, 'samples.jsonl'),
                '--n', String(params.samplesPerProblem),
                '--max-new-tokens', String(params.maxNewTokens),
                '--temperature', String(params.temperature),
                '--seed', String(input.seed),
                ...(params.limit ? ['--limit', String(params.limit)] : []),
              ],
              {
                fatalType: ErrorType.InvalidInput,
                cancelSignal: cancellationSignal(),
                onEvent: (e) => void (e.event === 'progress' && (done = Number(e.done))),
              },
            );
            assertSucceeded('kiln_native.generate', run, cancellationSignal());
            const outputs = await publishDir(out, dir);
            const event = run.events.find((e) => e.event === 'generated') ?? ({} as Record<string, unknown>);
            return { outputs, stats: { samples: event.samples, samplesUri: joinUri(dir, 'samples.jsonl'), problemsUri: params.problems } };
          }),
        () => ({ generated: done }),
      ),
  });
}
