// evalStage (data worker, after generation on the GPU worker): generated samples run against
// their problems' tests in the real sandbox; verdicts and pass@k are committed by a manifest,
// memoized, heartbeated, cancellable, and bad input fails typed, naming the file and line.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { evalStage } from '../../activities/evalStage.js';
import { ErrorType } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { committedStage } from '../support/tinyModel.js';

const PROBLEMS = [
  { task_id: 'T/0', prompt: 'def add(a, b):\n', test: 'def check(f):\n    assert f(2, 3) == 5\n', entry_point: 'add' },
  { task_id: 'T/1', prompt: 'def neg(x):\n', test: 'def check(f):\n    assert f(4) == -4\n', entry_point: 'neg' },
];

function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

// The multi-language eval's fields, at their defaults (this stage reads none of them).
const NEW_EVAL_DEFAULTS = { languages: ['python'] as PipelineConfig['eval']['languages'], problemsByLanguage: {}, preset: null, topP: 0.95, batchSize: 16, problemsPerPart: 16, bootstrapSamples: 1000, infilling: null, gate: null };

function params(problems: string, extra: Partial<PipelineConfig['eval']> = {}): PipelineConfig['eval'] {
  return { problems, limit: null, samplesPerProblem: 2, k: [1, 2], temperature: 0, maxNewTokens: 16, timeoutSeconds: 10, memoryMb: 512, ...NEW_EVAL_DEFAULTS, ...extra };
}

/** A committed generate stage holding `samples`, and its problems file (text as given). */
async function generated(samples: unknown[], problemsText = jsonl(PROBLEMS)): Promise<{ root: string; samples: StageResult; problemsUri: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'kiln-eval-stage-'));
  const problemsPath = join(tmp, 'problems.jsonl');
  writeFileSync(problemsPath, problemsText);
  const dir = join(tmp, 'artifacts', 'stages', 'generate', 'x');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'samples.jsonl'), jsonl(samples));
  const fp = `gen-${Math.random().toString(16).slice(2)}`;
  const stage = await committedStage('generate', dir, fp, { samplesUri: fileUri(join(dir, 'samples.jsonl')), problemsUri: fileUri(problemsPath) });
  return { root: fileUri(join(tmp, 'artifacts')), samples: stage, problemsUri: fileUri(problemsPath) };
}

describe('evalStage', () => {
  it('runs each sample in the sandbox, commits verdicts and pass@k, heartbeats progress, and is memoized', async () => {
    const { root, samples, problemsUri } = await generated([
      { task_id: 'T/0', completion: '    return a + b\n' },
      { task_id: 'T/0', completion: '    return a - b\n' },
      { task_id: 'T/1', completion: '    return -x\n' },
      { task_id: 'T/1', completion: '    return -x\n' },
    ]);
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const first = (await env.run(evalStage, { artifactsRoot: root, samples, params: params(problemsUri) })) as StageResult;
    assert.equal(first.reused, false);
    assert.equal(first.stage, 'eval');
    assert.deepEqual(first.stats.passAtK, { 'pass@1': 0.75, 'pass@2': 1 });
    assert.equal(first.stats.passed, 3);
    assert.equal(first.stats.samples, 4);
    const results = readFileSync(fileUriToPath(String(first.stats.resultsUri)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { task_id: string; passed: boolean; result: string });
    assert.deepEqual(results.map((r) => r.passed), [true, false, true, true]);
    assert.match(results[1]!.result, /^failed: /);
    assert.deepEqual(first.outputs.map((u) => u.replace(/.*\//, '')), ['results.jsonl', 'metrics.json']);
    assert.ok(beats.length >= 1, 'heartbeats while it runs');
    assert.deepEqual(Object.keys(beats[0] as object).sort(), ['done', 'total']);

    const again = (await env.run(evalStage, { artifactsRoot: root, samples, params: params(problemsUri) })) as StageResult;
    assert.deepEqual(again, { ...first, reused: true });
    // Another parameter is another stage folder.
    const other = (await env.run(evalStage, { artifactsRoot: root, samples, params: params(problemsUri, { k: [1] }) })) as StageResult;
    assert.equal(other.reused, false);
    assert.notEqual(other.dir, first.dir);
  });

  it('a problems file that does not parse fails as InvalidInput naming the file and the line', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/0', completion: '    return a + b\n' }], jsonl(PROBLEMS) + '{"task_id": "T/2", "prompt": \n');
    await assert.rejects(
      new MockActivityEnvironment().run(evalStage, { artifactsRoot: root, samples, params: params(problemsUri) }),
      failureMatching(ErrorType.InvalidInput, /problems\.jsonl: line 3 is not valid JSON/),
    );
  });

  it('a problem without its test fails as SchemaMismatch naming the field', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/0', completion: '' }], jsonl([{ ...PROBLEMS[0], test: undefined }]));
    await assert.rejects(
      evalStage({ artifactsRoot: root, samples, params: params(problemsUri) }),
      failureMatching(ErrorType.SchemaMismatch, /line 1: expected the field `test` to be a string, got nothing/),
    );
  });

  it('a sample for a problem that is not in the problems file fails as InvalidInput', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/9', completion: '    return 0\n' }]);
    await assert.rejects(
      evalStage({ artifactsRoot: root, samples, params: params(problemsUri) }),
      failureMatching(ErrorType.InvalidInput, /sample 1 names task_id "T\/9", which is not among the 2 problems/),
    );
  });

  it('a samples file that is gone fails as NotFound naming it', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/0', completion: '' }]);
    const gone = { ...samples, fingerprint: 'f'.repeat(64), stats: { ...samples.stats, samplesUri: samples.dir + '/gone.jsonl' } };
    await assert.rejects(evalStage({ artifactsRoot: root, samples: gone, params: params(problemsUri) }), failureMatching(ErrorType.NotFound, /gone\.jsonl/));
  });

  it('a generate result without its samplesUri fails as InvalidInput naming the field', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/0', completion: '' }]);
    const broken = { ...samples, fingerprint: 'a'.repeat(64), stats: { problemsUri } };
    await assert.rejects(evalStage({ artifactsRoot: root, samples: broken, params: params(problemsUri) }), failureMatching(ErrorType.InvalidInput, /stats\.samplesUri and stats\.problemsUri .* to be URIs/));
  });

  it('cancellation stops the sandbox and the activity ends cancelled, committing nothing', async () => {
    const { root, samples, problemsUri } = await generated([{ task_id: 'T/0', completion: '    import time; time.sleep(60)\n' }]);
    const env = new MockActivityEnvironment();
    env.once('heartbeat', () => setTimeout(() => env.cancel(), 1500));
    const started = Date.now();
    await assert.rejects(env.run(evalStage, { artifactsRoot: root, samples, params: params(problemsUri, { timeoutSeconds: 60 }) }), CancelledFailure);
    assert.ok(Date.now() - started < 20_000, `stopped in ${Date.now() - started} ms, well before the program's 60 s`);
    assert.deepEqual(
      (await import('node:fs')).readdirSync(join(fileUriToPath(root), 'stages')).filter((d) => d === 'eval'),
      [],
      'no eval stage folder was committed',
    );
  });
});
