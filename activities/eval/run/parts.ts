/**
 * The two steps of one eval part: generatePart (GPU worker) writes the part's samples with the
 * batched generator; executePart (data worker) runs them in the sandbox (code) or matches them
 * (infilling). Each is memoized by its marker in the stage folder: a retry after a lost worker
 * redoes this part only.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorType, fatal } from '../../../contracts/errors.js';
import { assertSucceeded, runPythonTool } from '../../../lib/pythonTool.js';
import { downloadDirOnce } from '../../../lib/syncDir.js';
import { cacheDir, withTempDir } from '../../../lib/workdirs.js';
import { cancellationSignal, withHeartbeat } from '../../support/heartbeat.js';
import { defaultStore, memoized, type StageDeps } from '../../support/stageIo.js';
import { executeSamples, parseSamples, type Sample } from '../executeSamples.js';
import { failureOf, languageOf } from '../report/metrics.js';
import { infillMatches } from './infilling.js';
import { partUri, readPartItems, type EvalItem, type EvalPlan } from './plan.js';

export interface GeneratePartResult {
  index: number;
  samples: number;
  samplesUri: string;
  seconds: number;
  tokens: number;
  device: string;
  truncatedPrompts: number;
}

/** The line kiln_native.generate reads for an item. */
function generatorProblem(item: EvalItem): Record<string, unknown> {
  if (item.kind === 'infill') return { task_id: item.task_id, prompt: item.prefix, mode: 'infill', prefix: item.prefix, suffix: item.suffix };
  return { task_id: item.task_id, prompt: item.prompt, stop: item.stop, stop_keep: item.stop_keep };
}

/** Generates the samples of part `index` (GPU worker). */
export async function generatePart(plan: EvalPlan, index: number, deps?: StageDeps): Promise<GeneratePartResult> {
  const store = await defaultStore(deps);
  let done = 0;
  return memoized(store, partUri(plan, 'generate', index), () =>
    withHeartbeat(
      () =>
        withTempDir('eval-generate', async (tmp) => {
          const items = await readPartItems(store, plan, index);
          const problems = join(tmp, 'problems.jsonl');
          writeFileSync(problems, items.map((i) => JSON.stringify(generatorProblem(i))).join('\n') + '\n');
          // One copy of the model per worker, reused by every part it generates.
          const model = await downloadDirOnce(plan.modelDir, cacheDir('eval-models', plan.modelFingerprint.slice(0, 16)));
          if (!existsSync(join(model, 'config.json'))) throw fatal(ErrorType.NotFound, `No exported model (config.json) under ${plan.modelDir}.`);
          const out = join(tmp, 'samples.jsonl');
          const g = plan.generation;
          const run = await runPythonTool(
            'kiln_native.generate',
            ['--model', model, '--problems', problems, '--out', out, '--n', String(g.n), '--max-new-tokens', String(g.maxNewTokens),
              '--temperature', String(g.temperature), '--top-p', String(g.topP), '--batch-size', String(g.batchSize), '--seed', String(plan.seed)],
            { fatalType: ErrorType.InvalidInput, cancelSignal: cancellationSignal(), onEvent: (e) => void (e.event === 'progress' && (done = Number(e.done))) },
          );
          assertSucceeded('kiln_native.generate', run, cancellationSignal());
          const samplesUri = partUri(plan, 'samples', index, 'jsonl');
          await store.upload(out, samplesUri);
          const event = run.events.find((e) => e.event === 'generated') ?? ({} as Record<string, unknown>);
          return {
            index,
            samples: Number(event.samples ?? 0),
            samplesUri,
            seconds: Number(event.seconds ?? 0),
            tokens: Number(event.tokens ?? 0),
            device: String(event.device ?? ''),
            truncatedPrompts: Number(event.truncated_prompts ?? 0),
          };
        }),
      () => ({ part: index, problemsDone: done }),
    ),
  );
}

export interface ExecutePartResult {
  index: number;
  samples: number;
  passed: number;
  resultsUri: string;
  infillingUri: string | null;
  isolation: string;
  toolchains: Record<string, string>;
}

/** Runs (or, for infilling, matches) the samples of part `index` (data worker). */
export async function executePart(plan: EvalPlan, index: number, deps?: StageDeps): Promise<ExecutePartResult> {
  const store = await defaultStore(deps);
  let progress = { done: 0, total: 0 };
  return memoized(store, partUri(plan, 'execute', index), () =>
    withHeartbeat(
      async () => {
        const generated = partUri(plan, 'generate', index);
        if (!(await store.exists(generated))) throw fatal(ErrorType.NotFound, `eval part ${index} has no samples yet (no ${generated}): generatePart must run first.`);
        const { samplesUri } = JSON.parse(new TextDecoder().decode(await store.readBytes(generated))) as GeneratePartResult;
        const items = await readPartItems(store, plan, index);
        const samples = parseSamples(await store.readBytes(samplesUri), samplesUri);
        const byId = new Map(items.map((i) => [i.task_id, i]));
        const code: Sample[] = [];
        const infill: Record<string, unknown>[] = [];
        for (const s of samples) {
          const item = byId.get(s.task_id);
          if (!item) throw fatal(ErrorType.InvalidInput, `${samplesUri}: sample for ${s.task_id}, which is not in eval part ${index}.`);
          if (item.kind === 'code') code.push(s);
          else {
            const passed = infillMatches(s.completion, item.middle);
            infill.push({ task_id: s.task_id, completion: s.completion, expected: item.middle, passed, result: passed ? 'passed' : 'failed: no exact match' });
          }
        }
        const codeItems = items.filter((i): i is Extract<EvalItem, { kind: 'code' }> => i.kind === 'code');
        const out = code.length
          ? await executeSamples({
              problems: codeItems.map((i) => i.problem),
              samples: code,
              ks: [1],
              timeoutSeconds: plan.timeoutSeconds,
              memoryMb: plan.memoryMb,
              cancelSignal: cancellationSignal(),
              onProgress: (done, total) => (progress = { done, total }),
            })
          : undefined;
        const results = (out?.results ?? []).map((r) => {
          const line = { ...r, language: languageOf(r) };
          return { ...line, failure: failureOf(line) };
        });
        const resultsUri = partUri(plan, 'results', index, 'jsonl');
        await store.writeBytes(resultsUri, results.map((r) => JSON.stringify(r) + '\n').join(''));
        let infillingUri: string | null = null;
        if (infill.length) {
          infillingUri = partUri(plan, 'infilling', index, 'jsonl');
          await store.writeBytes(infillingUri, infill.map((r) => JSON.stringify(r) + '\n').join(''));
        }
        const toolchains: Record<string, string> = { ...(out?.toolchains ?? {}) };
        return { index, samples: samples.length, passed: results.filter((r) => r.passed).length + infill.filter((r) => r.passed).length, resultsUri, infillingUri, isolation: out?.isolation ?? '', toolchains };
      },
      () => ({ part: index, ...progress }),
    ),
  );
}
