// The eval stage spread over activities (activities/eval/run): evalPlan reads the languages'
// problems and builds the infilling examples; generatePart (the batched generator on a tiny
// random model) and executePart (the real sandbox, exact match for infilling) do one part each,
// memoized by markers; evalCommit writes results.jsonl, metrics.json and report.html and commits.
// The gate activity reads two metrics files. Bad input fails typed and non-retryably.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { evalCommit, evalGate, evalPlan, executePart, generatePart, type EvalPlan } from '../../activities/eval/run/index.js';
import { ErrorType } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { buildTinyModel, committedStage } from '../support/tinyModel.js';

process.env.KILN_HOME ??= mkdtempSync(join(tmpdir(), 'kiln-eval-run-home-'));

const PROBLEMS = [
  { task_id: 'HumanEval/0', prompt: 'def add(a, b):\n', canonical_solution: '    s = a + b\n    return s\n', test: 'def check(f):\n    assert f(2, 3) == 5\n', entry_point: 'add' },
  { task_id: 'HumanEval/1', prompt: 'def neg(x):\n', canonical_solution: '    return -x\n', test: 'def check(f):\n    assert f(4) == -4\n', entry_point: 'neg' },
];

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

let base: string;
let model: StageResult;

function params(problems: string, extra: Partial<PipelineConfig['eval']> = {}): PipelineConfig['eval'] {
  return {
    problems, limit: null, samplesPerProblem: 2, k: [1, 2], temperature: 0.8, topP: 0.95, maxNewTokens: 6, timeoutSeconds: 5, memoryMb: 512,
    languages: ['python'], problemsByLanguage: {}, preset: null, batchSize: 4, problemsPerPart: 2, bootstrapSamples: 200, infilling: { limit: 2 }, gate: null,
    ...extra,
  };
}

function read(uri: string): string {
  return readFileSync(fileUriToPath(uri), 'utf8');
}

describe('eval fan-out activities', () => {
  before(async () => {
    const tiny = buildTinyModel();
    base = mkdtempSync(join(tmpdir(), 'kiln-eval-run-'));
    const dir = join(base, 'artifacts', 'stages', 'export', 'm');
    cpSync(tiny.modelDir, dir, { recursive: true });
    model = await committedStage('export', dir, 'evalrunmodel');
    writeFileSync(join(base, 'problems.jsonl'), jsonl(PROBLEMS));
  });

  it('plans parts, generates and executes each once, and commits per-language metrics, results and the report', async () => {
    const input = { artifactsRoot: fileUri(join(base, 'artifacts')), model, params: params(fileUri(join(base, 'problems.jsonl'))), seed: 5 };
    const opened = await evalPlan(input);
    assert.ok('plan' in opened);
    const plan: EvalPlan = opened.plan;
    // 2 problems + 2 infilling examples (the first solution's two lines), 2 per part.
    assert.equal(opened.parts, 2);
    assert.deepEqual(plan.parts, [[0, 2], [2, 4]]);
    const env = new MockActivityEnvironment();
    const gen: Awaited<ReturnType<typeof generatePart>>[] = [];
    for (let i = 0; i < opened.parts; i++) gen.push((await env.run(generatePart, plan, i)) as Awaited<ReturnType<typeof generatePart>>);
    assert.deepEqual(gen.map((g) => g.samples), [4, 4]);
    // A retry finds the marker: the same result, nothing regenerated.
    assert.deepEqual(await generatePart(plan, 0), gen[0]);
    const samples = read(gen[1]!.samplesUri).trim().split('\n').map((l) => JSON.parse(l) as { task_id: string; completion: string });
    assert.deepEqual(samples.map((s) => s.task_id), ['SingleLineInfilling/HumanEval_0/L0', 'SingleLineInfilling/HumanEval_0/L0', 'SingleLineInfilling/HumanEval_0/L1', 'SingleLineInfilling/HumanEval_0/L1']);
    assert.ok(samples.every((s) => !s.completion.includes('\n')), 'single-line infilling stops at the end of the line');
    for (let i = 0; i < opened.parts; i++) await executePart(plan, i);
    const committed = await evalCommit(plan);
    assert.equal(committed.stage, 'eval');
    const stats = committed.stats as { languages: Record<string, { problems: number; passAtK: Record<string, number>; intervals: Record<string, { low: number; high: number }> }>; infilling: { examples: number }; passAtK: Record<string, number>; samples: number; reportUri: string; resultsUri: string; metricsUri: string };
    assert.deepEqual(Object.keys(stats.languages), ['python']);
    assert.equal(stats.languages.python!.problems, 2);
    assert.deepEqual(Object.keys(stats.passAtK), ['pass@1', 'pass@2']);
    const { low, high } = stats.languages.python!.intervals['pass@1']!;
    assert.ok(low <= stats.passAtK['pass@1']! && stats.passAtK['pass@1']! <= high);
    assert.equal(stats.infilling.examples, 4);
    assert.equal(stats.samples, 4);
    const results = read(stats.resultsUri).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(results.map((r) => [r.task_id, r.language, typeof r.passed, typeof r.result]), [
      ['HumanEval/0', 'python', 'boolean', 'string'], ['HumanEval/0', 'python', 'boolean', 'string'],
      ['HumanEval/1', 'python', 'boolean', 'string'], ['HumanEval/1', 'python', 'boolean', 'string'],
    ]);
    assert.ok(results.every((r) => (r.passed ? r.failure === null : typeof r.failure === 'string')));
    assert.match(read(stats.reportUri), /<h2>pass@k per language<\/h2>/);
    assert.equal(JSON.parse(read(stats.metricsUri)).bootstrap.resamples, 200);
    // The committed stage is found by the next plan.
    const again = await evalPlan(input);
    assert.ok('done' in again && again.done.reused && again.done.dir === committed.dir);

    // The gate against itself passes; against a better baseline it fails, naming the language.
    await evalGate({ metricsUri: stats.metricsUri, baseline: committed.dir, maxDropPoints: 0 });
    const better = join(base, 'better.json');
    writeFileSync(better, JSON.stringify({ languages: { python: { passAtK: { 'pass@1': stats.passAtK['pass@1']! + 0.5 } } } }));
    await assert.rejects(evalGate({ metricsUri: stats.metricsUri, baseline: fileUri(better), maxDropPoints: 5 }), failureMatching(ErrorType.EvalGateFailed, /^Eval gate: python pass@1 .* \(-50\.0 points\): more than the 5 points/));
    await assert.rejects(evalGate({ metricsUri: stats.metricsUri, baseline: fileUri(join(base, 'nowhere')), maxDropPoints: 5 }), failureMatching(ErrorType.NotFound, /nowhere\/metrics\.json/));
  });

  it('an execution before its generation, and a commit with a part missing, fail as NotFound naming the part', async () => {
    const input = { artifactsRoot: fileUri(join(base, 'artifacts-2')), model, params: params(fileUri(join(base, 'problems.jsonl')), { infilling: null }), seed: 1 };
    const opened = await evalPlan(input);
    assert.ok('plan' in opened);
    await assert.rejects(executePart(opened.plan, 0), failureMatching(ErrorType.NotFound, /eval part 0 has no samples yet/));
    await assert.rejects(evalCommit(opened.plan), failureMatching(ErrorType.NotFound, /generation of part 0 has not run/));
  });

  it('a language without problems, a missing problems file and a file of another language fail before any generation', async () => {
    const root = fileUri(join(base, 'artifacts-3'));
    const problems = fileUri(join(base, 'problems.jsonl'));
    await assert.rejects(evalPlan({ artifactsRoot: root, model, params: params(problems, { languages: ['python', 'typescript'] }), seed: 1 }), failureMatching(ErrorType.InvalidConfig, /eval\.languages lists typescript.*eval\.problemsByLanguage\.typescript/));
    await assert.rejects(evalPlan({ artifactsRoot: root, model, params: params(fileUri(join(base, 'gone.jsonl'))), seed: 1 }), failureMatching(ErrorType.NotFound, /gone\.jsonl not found/));
    const dup = join(base, 'dup.jsonl');
    writeFileSync(dup, jsonl(PROBLEMS));
    await assert.rejects(
      evalPlan({ artifactsRoot: root, model, params: params(problems, { languages: ['python', 'javascript'], problemsByLanguage: { javascript: fileUri(dup) }, infilling: null }), seed: 1 }),
      failureMatching(ErrorType.InvalidInput, /dup\.jsonl is eval's javascript problem file, but its task HumanEval\/0 is python/),
    );
    rmSync(dup);
  });
});
