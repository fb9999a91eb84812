// latestCheckpoint (GPU activity): the newest checkpoint committed by its _COMPLETE marker, found
// by listing the artifact store; an upload cut short (no marker) is never resumed from.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { COMPLETE_MARKER, downloadCheckpoint, latestCheckpoint, uploadCheckpoint, uploadCheckpointPatiently } from '../../activities/train/checkpoints.js';
import { ErrorType } from '../../contracts/errors.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { failureMatching } from '../support/failures.js';
import { startMinio } from '../support/minio.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kiln-ckpt-test-'));
}

/** A local checkpoint folder step_<step> with a weights file and a train state. */
function localCheckpoint(parent: string, step: number): string {
  const dir = join(parent, `step_${String(step).padStart(8, '0')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), `weights of step ${step}`);
  writeFileSync(join(dir, 'train_state.json'), JSON.stringify({ step }));
  return dir;
}

describe('latestCheckpoint', () => {
  it('returns null when no checkpoint was ever written (a fresh run)', async () => {
    const env = new MockActivityEnvironment();
    assert.equal(await env.run(latestCheckpoint, { checkpointsUri: fileUri(join(tmp(), 'never-written')) }), null);
  });

  it('picks the newest complete checkpoint and ignores a newer one whose upload was cut short', async () => {
    const local = tmp();
    const checkpointsUri = fileUri(join(tmp(), 'run', 'checkpoints'));
    for (const step of [40, 120, 80]) await uploadCheckpoint(localCheckpoint(local, step), checkpointsUri);
    // Step 160 was cut short: its files are there, its marker is not.
    const partial = localCheckpoint(local, 160);
    await store.upload(join(partial, 'model.safetensors'), `${checkpointsUri}/step_00000160/model.safetensors`);
    // Foreign names and a marker outside a step folder do not count.
    await store.writeBytes(`${checkpointsUri}/step_garbage/${COMPLETE_MARKER}`, '{}');
    await store.writeBytes(`${checkpointsUri}/${COMPLETE_MARKER}`, '{}');

    const env = new MockActivityEnvironment();
    const got = await env.run(latestCheckpoint, { checkpointsUri: checkpointsUri + '/' });
    assert.deepEqual(got, { uri: `${checkpointsUri}/step_00000120`, step: 120 });

    // Once its marker lands, the cut-short one is whole and newest.
    await store.writeBytes(`${checkpointsUri}/step_00000160/${COMPLETE_MARKER}`, '{"files":1}\n');
    assert.deepEqual(await env.run(latestCheckpoint, { checkpointsUri }), { uri: `${checkpointsUri}/step_00000160`, step: 160 });
  });

  it('compares steps as numbers, not as names', async () => {
    const checkpointsUri = fileUri(join(tmp(), 'checkpoints'));
    // Wider than the usual 8 digits sorts before step_00000009 by name, after it by number.
    for (const name of ['step_00000009', 'step_100000000']) await store.writeBytes(`${checkpointsUri}/${name}/${COMPLETE_MARKER}`, '{}');
    assert.deepEqual(await latestCheckpoint({ checkpointsUri }), { uri: `${checkpointsUri}/step_100000000`, step: 100000000 });
  });

  it('uploadCheckpoint writes the marker last and downloadCheckpoint brings the folder back', async () => {
    const checkpointsUri = fileUri(join(tmp(), 'checkpoints'));
    const uri = await uploadCheckpoint(localCheckpoint(tmp(), 7), checkpointsUri);
    const listed = (await store.list(uri + '/')).map((o) => o.uri.slice(uri.length + 1)).sort();
    assert.deepEqual(listed, [COMPLETE_MARKER, 'model.safetensors', 'train_state.json']);
    const back = await downloadCheckpoint(uri, tmp());
    assert.match(back, /step_00000007$/);
  });

  it('downloading a checkpoint that is not there fails as NotFound naming it', async () => {
    const uri = fileUri(join(tmp(), 'checkpoints', 'step_00000042'));
    await assert.rejects(downloadCheckpoint(uri, tmp()), failureMatching(ErrorType.NotFound, /step_00000042/));
  });
});

describe('uploadCheckpointPatiently (MinIO stopped and started again)', () => {
  it('rides out the outage and commits the checkpoint; a folder pruned meanwhile is skipped', async () => {
    const minio = await startMinio();
    try {
      const checkpointsUri = `s3://${minio.bucket}/run/checkpoints`;
      const local = tmp();
      await minio.stopServer();
      const retries: string[] = [];
      const upload = uploadCheckpointPatiently(localCheckpoint(local, 20), checkpointsUri, { onRetry: (e) => retries.push((e as Error).message) });
      const pruned = uploadCheckpointPatiently(localCheckpoint(local, 40), checkpointsUri);
      await new Promise((r) => setTimeout(r, 2_500));
      rmSync(join(local, 'step_00000040'), { recursive: true }); // the trainer keeps the newest few
      await minio.startAgain();
      assert.equal(await upload, `${checkpointsUri}/step_00000020`);
      assert.equal(await pruned, undefined);
      assert.ok(retries.length >= 1 && retries.every((m) => /ECONNREFUSED/.test(m)), retries.join('\n'));
      assert.deepEqual(await latestCheckpoint({ checkpointsUri }), { uri: `${checkpointsUri}/step_00000020`, step: 20 });
    } finally {
      await minio.stop();
    }
  });
});
