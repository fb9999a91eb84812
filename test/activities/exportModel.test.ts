// exportModelStage (GPU activity): a trainer checkpoint + the tokenizer stage in, a Hugging Face
// model folder out, committed by a manifest and memoized; heartbeats while it runs; cancellation
// stops the export process; a missing, incomplete or unreadable checkpoint fails typed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { exportModelStage } from '../../activities/exportModel.js';
import { uploadCheckpoint } from '../../activities/train/checkpoints.js';
import { ErrorType } from '../../contracts/errors.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { cancelWhenRunning, waitGone } from '../support/processes.js';
import { buildTinyModel, committedStage, type TinyModel } from '../support/tinyModel.js';

// Scratch folders of the activity (KILN_HOME/tmp/export-*) are this file's own: the export
// process is recognised by them.
const home = mkdtempSync(join(tmpdir(), 'kiln-export-home-'));
process.env.KILN_HOME = home;

let tiny: TinyModel;
let root: string;
let checkpointsUri: string;
let checkpoint: string;
let tokenizer: StageResult;

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('exportModelStage', () => {
  before(async () => {
    tiny = buildTinyModel();
    const base = mkdtempSync(join(tmpdir(), 'kiln-export-'));
    root = fileUri(join(base, 'artifacts'));
    checkpointsUri = fileUri(join(base, 'artifacts', 'train', 'run1', 'checkpoints'));
    checkpoint = await uploadCheckpoint(tiny.checkpointDir, checkpointsUri); // the marker goes last
    const tokDir = join(base, 'artifacts', 'stages', 'tokenizer', 't');
    mkdirSync(tokDir, { recursive: true });
    cpSync(tiny.tokenizerJson, join(tokDir, 'tokenizer.json'));
    tokenizer = await committedStage('tokenizer', tokDir, 'tok', { tokenizerUri: fileUri(join(tokDir, 'tokenizer.json')) });
  });

  it('exports the checkpoint as a Hugging Face folder, heartbeats, and a second call reuses the manifest', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    const first = (await env.run(exportModelStage, { artifactsRoot: root, checkpoint, tokenizer })) as StageResult;
    assert.equal(first.reused, false);
    assert.equal(first.stage, 'export');
    assert.ok(beats >= 1, 'heartbeats while it runs');
    const names = first.outputs.map((u) => u.slice(first.dir.length + 1)).sort();
    assert.deepEqual(names, ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const dir = fileUriToPath(first.dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'llama');
    assert.equal(config.vocab_size, 400);
    assert.equal(config.num_hidden_layers, 2);
    // Weights carry HF names already: copied byte for byte.
    assert.equal(sha256(join(dir, 'model.safetensors')), sha256(join(tiny.checkpointDir, 'model.safetensors')));
    assert.deepEqual(first.stats, { params: first.stats.params, format: 'huggingface-llama', checkpoint });
    assert.ok(Number(first.stats.params) > 1000);
    const manifest = JSON.parse(readFileSync(fileUriToPath(first.manifestUri), 'utf8'));
    assert.deepEqual(manifest.inputs, [checkpoint, tokenizer.fingerprint]);

    const again = (await new MockActivityEnvironment().run(exportModelStage, { artifactsRoot: root, checkpoint, tokenizer })) as StageResult;
    assert.deepEqual(again, { ...first, reused: true });
  });

  it('a checkpoint that is not there, or whose upload was cut short (no marker), fails as NotFound naming it', async () => {
    const missing = `${checkpointsUri}/step_00000099`;
    await assert.rejects(exportModelStage({ artifactsRoot: root, checkpoint: missing, tokenizer }), failureMatching(ErrorType.NotFound, /No complete checkpoint at .*step_00000099/));
    const partial = `${checkpointsUri}/step_00000010`;
    mkdirSync(fileUriToPath(partial), { recursive: true });
    cpSync(join(tiny.checkpointDir, 'model.safetensors'), join(fileUriToPath(partial), 'model.safetensors'));
    await assert.rejects(exportModelStage({ artifactsRoot: root, checkpoint: partial, tokenizer }), failureMatching(ErrorType.NotFound, /step_00000010.*_COMPLETE/));
  });

  it('a checkpoint whose config does not parse fails non-retryably with the exporter\'s reason', async () => {
    const local = join(mkdtempSync(join(tmpdir(), 'kiln-export-bad-')), 'step_00000020');
    cpSync(tiny.checkpointDir, local, { recursive: true });
    writeFileSync(join(local, 'config.json'), '{"model": ');
    const bad = await uploadCheckpoint(local, checkpointsUri);
    await assert.rejects(exportModelStage({ artifactsRoot: root, checkpoint: bad, tokenizer }), failureMatching(ErrorType.TrainerFatal, /kiln_native\.export: cannot read checkpoint .*step_00000020/));
  });

  it('a tokenizer stage without its tokenizerUri fails as InvalidInput naming the field', async () => {
    const broken = { ...tokenizer, fingerprint: 'b'.repeat(64), stats: {} };
    await assert.rejects(exportModelStage({ artifactsRoot: root, checkpoint, tokenizer: broken }), failureMatching(ErrorType.InvalidInput, /stats\.tokenizerUri .* got nothing/));
  });

  it('cancellation stops the export process and ends the activity cancelled', async () => {
    const other = { ...tokenizer, fingerprint: 'c'.repeat(64) }; // not memoized: it must run
    const env = new MockActivityEnvironment();
    const running = env.run(exportModelStage, { artifactsRoot: root, checkpoint, tokenizer: other });
    const parts = ['kiln_native.export', home];
    const seen = await cancelWhenRunning(env, parts);
    assert.match(seen, /--checkpoint/);
    await assert.rejects(running, CancelledFailure);
    await waitGone(parts);
  });
});
