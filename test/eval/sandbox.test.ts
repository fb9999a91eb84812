import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSandbox } from '../../activities/eval/sandbox.js';

const opts = { timeoutSeconds: 2, memoryMb: 512 };

test('runs a batch in the Python runner and returns each verdict in the samples\' order', async () => {
  const samples = [
    { task_id: 'ok', program: 'def check(f):\n    assert f(2) == 4\n\ncheck(lambda x: x * 2)\n' },
    { task_id: 'wrong', program: 'def check(f):\n    assert f(2) == 4, "doubling"\n\ncheck(lambda x: x + 1)\n' },
    { task_id: 'early', program: 'import os\nos._exit(0)\n' },
    { task_id: 'loop', program: 'while True:\n    pass\n' },
    { task_id: 'ok', program: 'assert sum(range(4)) == 6\n' },
  ];
  const out = await runSandbox(samples, { ...opts, parallel: 2 });
  assert.deepEqual(
    out.map(({ task_id, passed, result }) => ({ task_id, passed, result })),
    [
      { task_id: 'ok', passed: true, result: 'passed' },
      { task_id: 'wrong', passed: false, result: 'failed: AssertionError: doubling' },
      { task_id: 'early', passed: false, result: 'exited early' },
      { task_id: 'loop', passed: false, result: 'timed out' },
      { task_id: 'ok', passed: true, result: 'passed' },
    ],
  );
  assert.match(out[0]!.isolation, /rlimits/);
});

test('hostile programs: no network, no writes outside the scratch directory', async () => {
  const out = await runSandbox(
    [
      { task_id: 'net', program: "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n" },
      { task_id: 'write', program: "open('/tmp/kiln-sandbox-test-outside', 'w').write('x')\n" },
    ],
    opts,
  );
  assert.deepEqual(out.map((o) => o.passed), [false, false]);
  assert.match(out[0]!.result, /^failed: /);
  assert.match(out[1]!.result, /^failed: /);
});

test('an empty batch starts no runner', async () => {
  assert.deepEqual(await runSandbox([], opts), []);
});

test('a batch the runner refuses is a non-retryable InvalidInput failure', async () => {
  await assert.rejects(runSandbox([{ task_id: 'x', program: 'pass' }], { timeoutSeconds: 1, memoryMb: 8 }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.equal(e.type, 'KilnInvalidInput');
    assert.equal(e.nonRetryable, true);
    assert.equal(e.message, 'sandbox runner refused the batch: Expected --memory-mb to be at least 64, got 8');
    return true;
  });
});
