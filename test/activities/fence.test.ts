// Fencing of checkpoint commits (activities/train/fence.ts): each gang raises the run's epoch;
// a commit by an older gang, or by a node that fenced itself, is refused before it writes any
// file, on file:// and on s3:// (a real MinIO).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { COMPLETE_MARKER, latestCheckpoint, uploadCheckpoint, uploadCheckpointPatiently } from '../../activities/train/checkpoints.js';
import { CommitGuard, raiseFence, readFence } from '../../activities/train/fence.js';
import { ErrorType } from '../../contracts/errors.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { startMinio, type MinioServer } from '../support/minio.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kiln-fence-test-'));
}

function localCheckpoint(step: number): string {
  const dir = join(tmp(), `step_${String(step).padStart(8, '0')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), `weights of step ${step}`);
  writeFileSync(join(dir, 'train_state.json'), JSON.stringify({ step }));
  return dir;
}

/** A retryable NodeFenced failure whose message matches `pattern`. */
function fencedMatching(pattern: RegExp) {
  return (err: unknown): true => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, ErrorType.NodeFenced);
    assert.equal(err.nonRetryable, false, 'a fenced node is not a reason to end the run');
    assert.match(err.message, pattern);
    return true;
  };
}

const gang = (attempt: number, worker: string) => ({ attempt, workflowId: 'train-wf', worker });

function fencingCases(root: () => string): void {
  it('a commit by an older gang is refused before it writes a file; the newer gang commits', async () => {
    const checkpointsUri = `${root()}/run-${Date.now()}/checkpoints`;
    const old = new CommitGuard(checkpointsUri, await raiseFence(checkpointsUri, gang(1, 'gpu-0')));
    assert.equal(await uploadCheckpoint(localCheckpoint(10), checkpointsUri, old), `${checkpointsUri}/step_00000010`);

    // The old gang is cut off; a new one starts elsewhere and raises the fence.
    const newer = await raiseFence(checkpointsUri, gang(2, 'gpu-1'));
    assert.equal(newer.epoch, 2);
    await assert.rejects(uploadCheckpoint(localCheckpoint(20), checkpointsUri, old), fencedMatching(/gang epoch 1 \(attempt 1\) was replaced by epoch 2 \(attempt 2 of train-wf/));
    assert.deepEqual(await store.list(`${checkpointsUri}/step_00000020/`), [], 'no file of the refused commit was written');
    assert.match(old.fenced ?? '', /replaced by epoch 2/, 'the refusal is remembered');

    const current = new CommitGuard(checkpointsUri, newer);
    await uploadCheckpoint(localCheckpoint(20), checkpointsUri, current);
    assert.deepEqual(await latestCheckpoint({ checkpointsUri }), { uri: `${checkpointsUri}/step_00000020`, step: 20 });
    const marker = JSON.parse(new TextDecoder().decode(await store.readBytes(`${checkpointsUri}/step_00000020/${COMPLETE_MARKER}`)));
    assert.deepEqual(marker, { files: 2, epoch: 2, attempt: 2, worker: 'gpu-1' }, 'the marker names the gang that committed it');
  });

  it('gangs raising the fence at once each get an epoch of their own', async () => {
    const checkpointsUri = `${root()}/race-${Date.now()}/checkpoints`;
    const raised = await Promise.all([1, 2, 3, 4].map((a) => raiseFence(checkpointsUri, gang(a, `gpu-${a}`))));
    assert.deepEqual(raised.map((f) => f.epoch).sort(), [1, 2, 3, 4]);
    assert.equal((await readFence(checkpointsUri))!.epoch, 4);
  });
}

describe('checkpoint fencing on file://', () => {
  const root = fileUri(tmp());
  fencingCases(() => root);

  it('a node that fenced itself commits nothing, and a patient upload gives up at once', async () => {
    const checkpointsUri = `${root}/self/checkpoints`;
    const guard = new CommitGuard(checkpointsUri, await raiseFence(checkpointsUri, gang(1, 'gpu-0')));
    const told: string[] = [];
    guard.onFenced = (why) => told.push(why);
    guard.fence('no answer from the Temporal server for 21.0 s');
    guard.fence('a second reason is not news');
    assert.deepEqual(told, ['no answer from the Temporal server for 21.0 s']);
    const retries: unknown[] = [];
    await assert.rejects(
      uploadCheckpointPatiently(localCheckpoint(30), checkpointsUri, { guard, onRetry: (e) => retries.push(e) }),
      fencedMatching(/^Checkpoint commit refused at .*: no answer from the Temporal server for 21\.0 s\.$/),
    );
    assert.deepEqual(retries, [], 'a refusal is not retried like an outage');
    assert.deepEqual(await store.list(`${checkpointsUri}/step_00000030/`), []);
  });
});

describe('checkpoint fencing on s3:// (MinIO)', () => {
  let minio: MinioServer;
  before(async () => void (minio = await startMinio()));
  after(async () => minio?.stop());
  fencingCases(() => `s3://${minio.bucket}`);
});
