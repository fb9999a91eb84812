// The model registry on both stores kiln supports: file:// and s3:// (a real MinIO server).
// Conditional writes are what keep concurrent alias and record updates from losing each other.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerPipelineModel } from '../../activities/registry.js';
import { ErrorType } from '../../contracts/errors.js';
import type { StageResult } from '../../lib/manifest.js';
import { readTagged, writeIfUnchanged } from '../../lib/registry/conditional.js';
import { aliasesUri, getAliases, getVersion, listModels, listVersions, registerVersion, setAliases, updateVersion } from '../../lib/registry/registry.js';
import type { NewModelVersion } from '../../lib/registry/types.js';
import { closeStores, fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { startMinio, type MinioServer } from '../support/minio.js';

const version = (v: string, extra: Partial<NewModelVersion> = {}): NewModelVersion => ({
  name: 'coder',
  version: v,
  modelUri: `file:///models/coder/${v}`,
  lineage: { pipelineRunId: `run-${v}`, dataManifests: [{ stage: 'dedup', uri: 'file:///a/stages/dedup/f1/_MANIFEST.json', fingerprint: 'f1' }], tokenizer: { uri: 'file:///a/stages/tokenizer/t1', fingerprint: 't1' } },
  eval: { languages: { python: { passAtK: { 'pass@1': 0.2 }, problems: 164 } } },
  ...extra,
});

async function rejects(p: Promise<unknown>, type: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: { type?: string; nonRetryable?: boolean; message: string }) => {
    assert.equal(err.type, type);
    assert.match(err.message, message);
    return true;
  });
}

function registrySuite(label: string, rootOf: () => string, extra?: (root: () => string) => void): void {
  describe(`model registry on ${label}`, () => {
    const root = () => rootOf();

    it('registers versions with their lineage; a retry is a no-op, another model under the same version is refused', async () => {
      const first = await registerVersion(root(), version('v1'), new Date('2026-01-01T00:00:00Z'));
      assert.equal(first.created, true);
      const again = await registerVersion(root(), version('v1'));
      assert.equal(again.created, false);
      assert.equal(again.record.createdAt, '2026-01-01T00:00:00.000Z');
      await rejects(registerVersion(root(), version('v1', { modelUri: 'file:///other' })), ErrorType.InvalidInput, /already has a version v1 for another model \(file:\/\/\/models\/coder\/v1\)/);
      await registerVersion(root(), version('v2'), new Date('2026-01-02T00:00:00Z'));
      const got = await getVersion(root(), 'coder', 'v2');
      assert.deepEqual(got.lineage.dataManifests, [{ stage: 'dedup', uri: 'file:///a/stages/dedup/f1/_MANIFEST.json', fingerprint: 'f1' }]);
      assert.deepEqual(got.deployments, []);
      assert.deepEqual(await listModels(root()), ['coder']);
      assert.deepEqual((await listVersions(root(), 'coder')).map((r) => r.version), ['v1', 'v2']);
    });

    it('fails with errors a person can act on', async () => {
      await rejects(getVersion(root(), 'coder', 'v9'), ErrorType.NotFound, /Model coder has no version v9 in the registry/);
      await rejects(registerVersion(root(), version('../escape')), ErrorType.InvalidInput, /Expected the version to be 1-128 letters/);
      await rejects(setAliases(root(), 'coder', { production: 'v9' }, 'test'), ErrorType.NotFound, /no version v9/);
    });

    it('moves several aliases in one write and keeps their history', async () => {
      await setAliases(root(), 'coder', { production: 'v1', canary: 'v2' }, 'start');
      const promoted = await setAliases(root(), 'coder', { production: 'v2', canary: null }, 'promote v2');
      assert.deepEqual(promoted.aliases, { production: 'v2' });
      assert.equal(promoted.revision, 2);
      assert.deepEqual(promoted.history.map((h) => [h.revision, h.alias, h.from, h.to]), [
        [1, 'production', null, 'v1'],
        [1, 'canary', null, 'v2'],
        [2, 'production', 'v1', 'v2'],
        [2, 'canary', 'v2', null],
      ]);
      const same = await setAliases(root(), 'coder', { production: 'v2' }, 'no change');
      assert.equal(same.revision, 2, 'a call that changes nothing writes nothing');
    });

    it('loses no update when many writers change aliases and records at once', async () => {
      const before = (await getAliases(root(), 'coder')).revision;
      await Promise.all(Array.from({ length: 8 }, (_, i) => setAliases(root(), 'coder', { [`exp${i}`]: i % 2 ? 'v1' : 'v2' }, `writer ${i}`)));
      const after = await getAliases(root(), 'coder');
      assert.equal(after.revision, before + 8);
      for (let i = 0; i < 8; i++) assert.equal(after.aliases[`exp${i}`], i % 2 ? 'v1' : 'v2');
      await Promise.all(Array.from({ length: 8 }, (_, i) => updateVersion(root(), 'coder', 'v1', (r) => void r.deployments.push({ at: `t${i}`, endpoint: `http://127.0.0.1:${9000 + i}` }))));
      assert.deepEqual((await getVersion(root(), 'coder', 'v1')).deployments.map((d) => d.at).sort(), ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']);
    });

    it('a conditional write with a stale tag is refused and changes nothing', async () => {
      const uri = aliasesUri(root(), 'coder');
      const tagged = (await readTagged(uri))!;
      assert.equal(await writeIfUnchanged(uri, new TextEncoder().encode('{"a":1}'), tagged.tag), true);
      assert.equal(await writeIfUnchanged(uri, new TextEncoder().encode('{"b":2}'), tagged.tag), false);
      assert.equal(await writeIfUnchanged(uri, new TextEncoder().encode('{"c":3}'), null), false, 'create-only refuses an existing object');
      assert.equal(new TextDecoder().decode((await readTagged(uri))!.bytes), '{"a":1}');
    });

    extra?.(root);
  });
}

let dir: string;
before(() => void (dir = mkdtempSync(join(tmpdir(), 'kiln-registry-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

registrySuite('file://', () => fileUri(join(dir, 'artifacts')), (root) => {
  it("registers a pipeline run's model: version = the export's short fingerprint (the deploy stage's), lineage, eval scores, deploy records", async () => {
    const stage = (name: string, fp: string, stats: Record<string, unknown> = {}): StageResult => ({ stage: name, fingerprint: fp, dir: `${root()}/stages/${name}/${fp}`, manifestUri: `${root()}/stages/${name}/${fp}/_MANIFEST.json`, outputs: [], stats, reused: false });
    const input = {
      artifactsRoot: root(),
      name: 'tiny',
      workflowId: 'tiny-1',
      exported: stage('export', 'e1'),
      tokenizer: stage('tokenizer', 't1'),
      dataStages: [stage('dedup', 'd1'), stage('shard', 's1')],
      train: { steps: 60, finalLoss: 5.1 },
      evaluation: stage('eval', 'v1', { passAtK: { 'pass@1': 0.1 }, languages: { python: { problems: 10, passAtK: { 'pass@1': 0.1 }, intervals: {} } }, metricsUri: 'm' }),
      deployment: { endpoint: 'http://127.0.0.1:8001', recordUri: 'r1' },
    };
    assert.deepEqual(await registerPipelineModel(input), { version: 'e1', created: true });
    assert.deepEqual(await registerPipelineModel(input), { version: 'e1', created: false }, 'a retry');
    await registerPipelineModel({ ...input, workflowId: 'tiny-2', deployment: { endpoint: 'http://127.0.0.1:8002', recordUri: 'r2' } });
    const r = await getVersion(root(), 'tiny', 'e1');
    assert.equal(r.lineage.pipelineRunId, 'tiny-1', 'the first lineage is kept');
    assert.deepEqual(r.lineage.dataManifests.map((m) => [m.stage, m.fingerprint]), [['dedup', 'd1'], ['shard', 's1']]);
    assert.deepEqual(r.eval, { languages: { python: { passAtK: { 'pass@1': 0.1 }, problems: 10 } }, passAtK: { 'pass@1': 0.1 }, metricsUri: 'm' });
    assert.deepEqual(r.deployments.map((d) => d.endpoint), ['http://127.0.0.1:8001', 'http://127.0.0.1:8002']);
  });

  it('breaks a lock left by a crashed writer once it is stale', async () => {
    const lock = `${fileUriToPath(aliasesUri(root(), 'other'))}.lock`;
    await registerVersion(root(), version('v1', { name: 'other' }));
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    const result = await setAliases(root(), 'other', { production: 'v1' }, 'after a crash');
    assert.equal(result.aliases.production, 'v1');
  });
});

let minio: MinioServer | undefined;
describe('s3:// (MinIO)', () => {
  before(async () => void (minio = await startMinio()));
  after(async () => {
    closeStores();
    await minio?.stop();
  });
  registrySuite('s3://', () => `s3://${minio!.bucket}/kiln`);
});
