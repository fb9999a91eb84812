// The native side's own suite (python/tests, pytest): model, data, train loop, resume,
// SIGTERM, 2-node torchrun, export, tokenizer, shards, generation, serving, sandbox.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pythonEnv, pythonExecutable, pythonDir } from '../../lib/python.js';

// Two pytest workers (pytest-xdist) on the 2-core CI machine: most of the suite is Python
// processes starting torch one after another, so the wall time falls by a third (300 -> 200 s).
const WORKERS = String(Math.max(1, Math.min(4, availableParallelism())));

describe('native trainer (pytest)', () => {
  it('passes python/tests', () => {
    const r = spawnSync(pythonExecutable(), ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-n', WORKERS, 'tests'], {
      cwd: pythonDir(),
      env: pythonEnv({ KILN_CPU_THREADS: '1' }),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    const summary = out.trim().split('\n').filter((l) => /\d+ (passed|failed|error)/.test(l)).at(-1) ?? '(no summary)';
    process.stdout.write(`# pytest: ${summary}\n`);
    assert.equal(r.status, 0, out.slice(-4000));
    assert.match(summary, /\d+ passed/);
    assert.doesNotMatch(summary, /failed|error/);
  });
});
