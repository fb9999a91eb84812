// The eval's results people read: bootstrap intervals, per-language summaries with failure
// classes, the Codex presets, single-line infilling examples, the comparison and gate, the HTML.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapInterval, seededRandom } from '../../activities/eval/report/bootstrap.js';
import { applyEvalGate, compareEvalMetrics, describeGateFailure } from '../../activities/eval/report/compare.js';
import { renderEvalReport, type EvalMetrics } from '../../activities/eval/report/html.js';
import { failureOf, languageOf, summarizeResults } from '../../activities/eval/report/metrics.js';
import { buildInfillingExamples, infillMatches } from '../../activities/eval/run/infilling.js';
import { resolveGeneration } from '../../activities/eval/run/presets.js';
import type { Problem } from '../../activities/eval/problems.js';
import { generationPrompt, stopsFor } from '../../activities/eval/run/sources.js';

describe('bootstrapInterval', () => {
  it('is seeded, brackets the mean, narrows with more problems, and collapses when every problem agrees', () => {
    const values = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // mean 0.25
    const a = bootstrapInterval(values, { resamples: 1000, seed: 7 });
    assert.deepEqual(bootstrapInterval(values, { resamples: 1000, seed: 7 }), a, 'same seed, same interval');
    assert.notDeepEqual(bootstrapInterval(values, { resamples: 1000, seed: 8 }), a);
    assert.ok(a.low < 0.25 && a.high > 0.25 && a.low > 0.05 && a.high < 0.45, JSON.stringify(a));
    const more = bootstrapInterval([...values, ...values, ...values, ...values], { resamples: 1000, seed: 7 });
    assert.ok(more.high - more.low < a.high - a.low, 'four times the problems, a narrower interval');
    assert.deepEqual(bootstrapInterval([1, 1, 1], { resamples: 200, seed: 1 }), { low: 1, high: 1 });
    assert.deepEqual(bootstrapInterval([], { resamples: 200, seed: 1 }), { low: 0, high: 0 });
    assert.throws(() => bootstrapInterval([1], { resamples: 0, seed: 1 }), /Expected `resamples` to be a positive integer, got `0`/);
    const r = seededRandom(3);
    const draws = Array.from({ length: 1000 }, r);
    assert.ok(draws.every((x) => x >= 0 && x < 1) && Math.abs(draws.reduce((s, x) => s + x, 0) / 1000 - 0.5) < 0.05);
  });
});

describe('summarizeResults', () => {
  const results = [
    { task_id: 'HumanEval/0', passed: true, result: 'passed' },
    { task_id: 'HumanEval/0', passed: false, result: 'failed: AssertionError' },
    { task_id: 'HumanEval/1', passed: false, result: 'timed out' },
    { task_id: 'HumanEval/1', passed: false, result: 'failed: NameError' },
    { task_id: 'CPP/0', passed: false, result: 'failed: compile error', language: 'cpp', failure: 'compile_error' },
    { task_id: 'CPP/0', passed: true, result: 'passed', language: 'cpp', failure: null },
    { task_id: 'JavaScript/1', passed: false, result: 'exited early' },
    { task_id: 'JavaScript/1', passed: false, result: 'failed: x', failure: 'wrong_answer' },
  ];

  it('gives pass@k with intervals, failure classes and the per-problem table, per language', () => {
    const { languages, table } = summarizeResults(results, { ks: [1, 2, 5], resamples: 500, seed: 1 });
    assert.deepEqual(Object.keys(languages), ['cpp', 'javascript', 'python']);
    assert.deepEqual(languages.python!.passAtK, { 'pass@1': 0.25, 'pass@2': 0.5 });
    assert.deepEqual(languages.python!.notes, ['pass@5 skipped: some problems have only 2 sample(s), fewer than k = 5']);
    assert.ok(languages.python!.intervals['pass@1']!.low <= 0.25 && languages.python!.intervals['pass@1']!.high >= 0.25);
    assert.deepEqual(languages.python!.failures, { compile_error: 0, wrong_answer: 1, timeout: 1, crash: 1, exited_early: 0 });
    assert.deepEqual(languages.cpp!.failures, { compile_error: 1, wrong_answer: 0, timeout: 0, crash: 0, exited_early: 0 });
    assert.deepEqual(languages.javascript!.failures, { compile_error: 0, wrong_answer: 1, timeout: 0, crash: 0, exited_early: 1 });
    assert.deepEqual(table, [
      { problem: '0', byLanguage: { cpp: [1, 2], python: [1, 2] } },
      { problem: '1', byLanguage: { javascript: [0, 2], python: [0, 2] } },
    ]);
  });

  it('reads the language from the field first, else from the task_id prefix', () => {
    assert.equal(languageOf({ task_id: 'Rust/3' }), 'rust');
    assert.equal(languageOf({ task_id: 'CPP/3', language: 'cpp' }), 'cpp');
    assert.equal(languageOf({ task_id: 'HumanEval/3' }), 'python');
    assert.equal(languageOf({ task_id: 'whatever', language: 'Go' }), 'go');
    assert.equal(failureOf({ task_id: 'x', passed: true, result: 'passed' }), null);
    assert.equal(failureOf({ task_id: 'x', passed: false, result: 'failed: SyntaxError: invalid syntax' }), 'compile_error');
  });
});

describe('resolveGeneration (presets)', () => {
  const base = { preset: null, samplesPerProblem: 1, k: [1], temperature: 0, topP: 0.95, maxNewTokens: 64, batchSize: 8 };
  it('keeps the config without a preset', () => {
    assert.deepEqual(resolveGeneration(base), { n: 1, ks: [1], temperature: 0, topP: 0.95, maxNewTokens: 64, batchSize: 8, preset: null });
  });
  it('applies the Codex settings: T 0.2 for pass@1, T 0.8 for pass@10 and pass@100, top-p 0.95, n raised to the minimum', () => {
    assert.deepEqual(resolveGeneration({ ...base, preset: 'codex-pass@1' }), { n: 20, ks: [1], temperature: 0.2, topP: 0.95, maxNewTokens: 64, batchSize: 8, preset: 'codex-pass@1' });
    const ten = resolveGeneration({ ...base, preset: 'codex-pass@10', samplesPerProblem: 50, k: [5] });
    assert.deepEqual([ten.n, ten.ks, ten.temperature, ten.topP], [50, [1, 5, 10], 0.8, 0.95]);
    const hundred = resolveGeneration({ ...base, preset: 'codex-pass@100', temperature: 0.1 });
    assert.deepEqual([hundred.n, hundred.ks, hundred.temperature], [200, [1, 10, 100], 0.8]);
  });
});

describe('stopsFor', () => {
  it('cuts at MultiPL-E and human-eval stop tokens, and keeps the closing brace of a HumanEval-X function', () => {
    assert.deepEqual(stopsFor({ language: 'cpp', format: 'multipl-e', stop_tokens: ['\n}'] }), { stop: ['\n}'], stop_keep: [] });
    assert.deepEqual(stopsFor({ language: 'javascript', format: 'humaneval-x', stop_tokens: ['\nfunction '] }), { stop: [], stop_keep: ['\n}'] });
    assert.deepEqual(stopsFor({ language: 'python', format: 'humaneval-x', stop_tokens: ['\ndef '] }), { stop: ['\ndef '], stop_keep: [] });
    assert.equal(generationPrompt({ language: 'rust', format: 'humaneval-x', prompt: '/// doc\n', declaration: 'fn f() -> i32 {\n' }), '/// doc\nfn f() -> i32 {\n');
    assert.equal(generationPrompt({ language: 'cpp', format: 'humaneval-x', prompt: 'int f(){\n', declaration: 'int f(){\n' }), 'int f(){\n');
  });
});

describe('buildInfillingExamples', () => {
  const problem: Problem = { task_id: 'HumanEval/7', prompt: 'def f(x):\n    """doc"""\n', canonical_solution: '    y = x + 1\n\n    return y\n', test: '', entry_point: 'f', language: 'python', stop_tokens: [], format: 'human-eval' };
  it('makes each non-blank line of a canonical solution the middle, prefix and suffix around it', () => {
    const examples = buildInfillingExamples([problem]);
    assert.deepEqual(examples.map((e) => [e.task_id, e.middle]), [
      ['SingleLineInfilling/HumanEval_7/L0', '    y = x + 1'],
      ['SingleLineInfilling/HumanEval_7/L2', '    return y'],
    ]);
    for (const e of examples) assert.equal(e.prefix + e.middle + e.suffix, problem.prompt + problem.canonical_solution);
    assert.equal(examples[1]!.prefix, 'def f(x):\n    """doc"""\n    y = x + 1\n\n');
    assert.equal(examples[1]!.suffix, '\n');
    assert.equal(buildInfillingExamples([problem, { ...problem, task_id: 'HumanEval/8' }], 3).length, 3);
    assert.equal(buildInfillingExamples([{ ...problem, canonical_solution: undefined as unknown as string }]).length, 0);
  });
  it('scores by exact match with whitespace stripped', () => {
    assert.ok(infillMatches('  return y  ', '    return y'));
    assert.ok(!infillMatches('return  y', '    return y'));
  });
});

describe('compareEvalMetrics and the gate', () => {
  const baseline = { languages: { python: { passAtK: { 'pass@1': 0.3, 'pass@10': 0.5 } }, cpp: { passAtK: { 'pass@1': 0.4 } }, go: { passAtK: { 'pass@1': 0.1 } } } };
  const candidate = { languages: { python: { passAtK: { 'pass@1': 0.32, 'pass@10': 0.48 } }, cpp: { passAtK: { 'pass@1': 0.2 } }, rust: { passAtK: { 'pass@1': 0.1 } } } };
  it('gives per-language deltas in points and names the languages only one side has', () => {
    const c = compareEvalMetrics(baseline, candidate);
    assert.deepEqual(c.deltas, [
      { language: 'cpp', metric: 'pass@1', baseline: 0.4, candidate: 0.2, deltaPoints: -20 },
      { language: 'python', metric: 'pass@1', baseline: 0.3, candidate: 0.32, deltaPoints: 2 },
      { language: 'python', metric: 'pass@10', baseline: 0.5, candidate: 0.48, deltaPoints: -2 },
    ]);
    assert.deepEqual([c.onlyBaseline, c.onlyCandidate], [['go'], ['rust']]);
    // A baseline from before multi-language eval counts as Python.
    assert.deepEqual(compareEvalMetrics({ passAtK: { 'pass@1': 0.5 } }, candidate).deltas.map((d) => [d.language, d.deltaPoints]), [['python', -18]]);
  });
  it('fails on a drop beyond the limit, naming language, before, after and the limit; passes at the limit', () => {
    const verdict = applyEvalGate(compareEvalMetrics(baseline, candidate), 5);
    assert.equal(verdict.passed, false);
    assert.deepEqual(verdict.violations.map((v) => v.language), ['cpp']);
    assert.match(describeGateFailure(verdict), /^Eval gate: cpp pass@1 40\.0% -> 20\.0% \(-20\.0 points\): more than the 5 points allowed by eval\.gate\.maxDropPoints/);
    assert.equal(applyEvalGate(compareEvalMetrics(baseline, candidate), 20).passed, true);
    assert.equal(applyEvalGate(compareEvalMetrics(baseline, candidate), 19.9).passed, false);
  });
});

describe('renderEvalReport', () => {
  it('is one self-contained page with per-language pass@k and intervals, failures, the per-problem table and the toolchains, escaped', () => {
    const { languages, table } = summarizeResults(
      [
        { task_id: 'HumanEval/0', passed: true, result: 'passed' },
        { task_id: 'CPP/0', passed: false, result: 'failed', failure: 'compile_error', language: 'cpp' },
      ],
      { ks: [1], resamples: 100, seed: 1 },
    );
    const metrics: EvalMetrics = {
      passAtK: languages.python!.passAtK, problems: 2, samples: 2, passed: 1, notes: ['a <note>'], isolation: 'netns,pidns', languages,
      infilling: { examples: 4, exactMatch: 0.25, interval: { low: 0, high: 0.75 } },
      toolchains: { 'g++': 'g++ (Debian 12.2.0) 12.2.0', node: 'v22.1.0' }, generation: { n: 1, temperature: 0 }, bootstrap: { resamples: 100, seed: 1, level: 0.95 },
    };
    const html = renderEvalReport('Eval <report>', metrics, table);
    assert.equal(renderEvalReport('Eval <report>', metrics, table), html, 'deterministic');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.doesNotMatch(html, /<script|<link|src="http/);
    assert.match(html, /<title>Eval &lt;report&gt;<\/title>/);
    assert.match(html, /<td>python<\/td>.*100\.0% <span class="muted">\[100\.0%, 100\.0%\]<\/span>/s);
    assert.match(html, /<td>cpp<\/td><td class="num">1<\/td><td class="num">0<\/td>/, 'cpp: one compile error');
    assert.match(html, /✗ 0\/1/);
    assert.match(html, /g\+\+ \(Debian 12\.2\.0\) 12\.2\.0/);
    assert.match(html, /netns,pidns/);
    assert.match(html, /25\.0% of 4 examples/);
    assert.match(html, /a &lt;note&gt;/);
  });
});
