// Ingest from remote sources: https URLs and hf:// datasets against a local HTTP server that serves
// the Hugging Face hub's URL layout (resolve/ redirects to a "CDN" origin, the paginated tree API,
// the datasets-server /parquet listing, a gated repository), with injected faults: 5xx, 401, and a
// connection dropped in the middle of a file. And S3 globs against a real MinIO.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ingestStage } from '../../activities/ingest/index.js';
import { ErrorType } from '../../contracts/errors.js';
import type { StageResult } from '../../lib/manifest.js';
import { parseHubUri } from '../../lib/storage/hubSource.js';
import { closeStores, fileUri, HttpStore, S3Store, store, storeFor } from '../../lib/storage/index.js';
import { startHttpServer, type TestHttpServer } from '../support/httpServer.js';
import { startMinio, type MinioServer } from '../support/minio.js';
import { failureMatching } from '../support/failures.js';
import { STACK_SAMPLE as SAMPLE, tmpDir } from './fixtures.js';

const TOKEN = 'hf_test_token_never_logged_0123456789';
const REPO = 'bigcode/the-stack-mini';
const http = new HttpStore({ retryDelayMs: 5 });
const deps = { http };
const ENV_KEYS = ['HF_TOKEN', 'HF_ENDPOINT', 'KILN_HF_DATASETS_SERVER'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

let srv: TestHttpServer; // plain files (the older https tests)
let hub: TestHttpServer; // a gated hub
const hubRoot = tmpDir('kiln-hub-');
const root = fileUri(tmpDir('kiln-ingest-remote-'));

function place(rel: string, sample: string): void {
  const to = join(hubRoot, 'datasets', REPO, rel);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(join(SAMPLE, sample), to);
}

before(async () => {
  srv = await startHttpServer(SAMPLE);
  place('data/python/train-00000-of-00002.parquet', 'data/python/train-00000-of-00002.parquet');
  place('data/python/train-00001-of-00002.parquet', 'data/python/train-00001-of-00002.parquet');
  place('data/go/train-00000-of-00002.parquet', 'data/go/train-00000-of-00002.parquet');
  place('README.md', 'README.md');
  place('refs-convert-parquet/default/train/0000.parquet', 'data/go/train-00001-of-00002.parquet');
  place('refs-convert-parquet/default/test/0000.parquet', 'data/perl/train-00000-of-00001.parquet');
  hub = await startHttpServer(hubRoot, { hubToken: TOKEN, treePageSize: 2 });
  process.env.HF_ENDPOINT = hub.baseUrl;
  process.env.KILN_HF_DATASETS_SERVER = hub.baseUrl;
});
after(async () => {
  await srv?.stop();
  await hub?.stop();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});
beforeEach(() => {
  hub.reset();
  process.env.HF_TOKEN = TOKEN;
});


function manifestText(r: { manifestUri: string }): string {
  return readFileSync(new URL(r.manifestUri), 'utf8');
}

describe('ingest from https', () => {
  it('reads a hub-style resolve/main URL through its redirect', async () => {
    const source = `${srv.baseUrl}/resolve/data/python/train-00000-of-00002.parquet`;
    const r = await ingestStage({ artifactsRoot: root, source, languages: ['python'], maxRowsPerLanguage: null }, deps);
    assert.equal(r.stats.rows_out, 778);
    assert.equal(r.outputs.length, 1);
    assert.match(r.outputs[0]!, /lang=python\/part-00000\.parquet$/);
    assert.ok(srv.requests.some((q) => q.url.startsWith('/files/')), 'the redirect was followed');
  });

  it('retries a server that answers 503 before serving the file', async () => {
    const source = `${srv.baseUrl}/flaky/2/data/go/train-00000-of-00002.parquet`;
    const r = await ingestStage({ artifactsRoot: root, source, languages: ['Go'], maxRowsPerLanguage: 100 }, deps);
    assert.equal(r.stats.rows_out, 100);
  });

  it('fails non-retryably, naming the URL, when the file does not exist', async () => {
    const source = `${srv.baseUrl}/resolve/data/python/missing.parquet`;
    await assert.rejects(ingestStage({ artifactsRoot: root, source, languages: ['python'], maxRowsPerLanguage: null }, deps), failureMatching(ErrorType.NotFound, /missing\.parquet/));
  });
});

describe('ingest from the Hugging Face hub (hf://)', () => {
  const cleanRoot = fileUri(tmpDir('kiln-ingest-clean-'));
  const dropRoot = fileUri(tmpDir('kiln-ingest-drop-'));

  it('parses hf:// URIs the way HfFileSystem writes them', () => {
    assert.deepEqual(parseHubUri('hf://datasets/bigcode/the-stack-dedup'), { repo: 'bigcode/the-stack-dedup', revision: 'main', path: '' });
    assert.deepEqual(parseHubUri('hf://datasets/bigcode/the-stack-dedup@v1.2/data/python/*.parquet'), {
      repo: 'bigcode/the-stack-dedup',
      revision: 'v1.2',
      path: 'data/python/*.parquet',
    });
    assert.equal(parseHubUri('hf://datasets/a/b@refs%2Fconvert%2Fparquet/x').revision, 'refs/convert/parquet');
    assert.throws(() => parseHubUri('hf://models/gpt2/config.json'), failureMatching(ErrorType.Unsupported, /hf:\/\/datasets\/<owner>\/<name>/));
  });

  it('lists a glob through the paginated tree API and reads each file through resolve/ and the CDN redirect', async () => {
    const r = await ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/*/*.parquet`, languages: [], maxRowsPerLanguage: null }, deps);
    const per = r.stats.per_language as Record<string, { rows_out: number }>;
    assert.equal(per.Python?.rows_out, 778 + 710);
    assert.equal(per.Go?.rows_out, 1768);
    assert.equal(r.stats.files_read, 3);
    const treePages = hub.requests.filter((q) => q.url.startsWith(`/api/datasets/${REPO}/tree/main/data`));
    assert.ok(treePages.length >= 3, `several tree pages (got ${treePages.length})`);
    assert.equal(hub.requests.filter((q) => q.url.includes('/resolve/main/data/')).length, 3);
    // The token went to the hub, and never to the CDN origin (another host: localhost).
    for (const q of hub.requests) {
      if (q.url.startsWith('/files/')) assert.equal(q.headers.authorization, undefined, q.url);
      else assert.equal(q.headers.authorization, `Bearer ${TOKEN}`, q.url);
    }
    const manifest = manifestText(r);
    assert.ok(!manifest.includes(TOKEN));
    assert.match(manifest, /"uri": "hf:\/\/datasets\/bigcode\/the-stack-mini\/data\/go\/train-00000-of-00002\.parquet"/);
    assert.match(manifest, /"version": "sha256-data\/go\/train-00000-of-00002\.parquet"/);
  });

  it('as an activity, heartbeats progress that never holds the token', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const r = (await env.run(ingestStage, { artifactsRoot: root, source: `hf://datasets/${REPO}/data/go`, languages: [], maxRowsPerLanguage: 5, seed: 7 }, deps)) as StageResult;
    assert.equal(r.stats.rows_out, 5);
    assert.ok(beats.length >= 1);
    assert.deepEqual(Object.keys(beats[0] as object).sort(), ['files', 'filesRead', 'rowsIn', 'rowsOut']);
    assert.ok(!JSON.stringify(beats).includes(TOKEN));
  });

  it('reads one file named exactly, and a folder (every .parquet below it)', async () => {
    const one = await ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/python/train-00001-of-00002.parquet`, languages: [], maxRowsPerLanguage: null }, deps);
    assert.equal(one.stats.rows_out, 710);
    const folder = await ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/python`, languages: [], maxRowsPerLanguage: null }, deps);
    assert.equal(folder.stats.rows_out, 778 + 710);
  });

  it('lists the Parquet export (@~parquet) through the datasets-server /parquet API', async () => {
    const r = await ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}@~parquet/default/train`, languages: [], maxRowsPerLanguage: null }, deps);
    assert.deepEqual(Object.keys(r.stats.per_language as object), ['Go']);
    assert.ok(hub.requests.some((q) => q.url === `/parquet?dataset=${encodeURIComponent(REPO)}`));
    assert.ok(hub.requests.some((q) => q.url.includes('/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet')));
  });

  it('refuses a partial Parquet export instead of ingesting part of the dataset', async () => {
    const partial = await startHttpServer(hubRoot, { parquetExportPartial: true });
    process.env.KILN_HF_DATASETS_SERVER = partial.baseUrl;
    try {
      await assert.rejects(
        ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}@~parquet/default/train`, languages: [], maxRowsPerLanguage: null }, deps),
        failureMatching(ErrorType.InvalidInput, /Parquet export of bigcode\/the-stack-mini is partial/, /hf:\/\/datasets\/bigcode\/the-stack-mini\/<path or glob>/),
      );
    } finally {
      process.env.KILN_HF_DATASETS_SERVER = hub.baseUrl;
      await partial.stop();
    }
  });

  it('without HF_TOKEN, a gated dataset fails non-retryably saying to set HF_TOKEN', async () => {
    delete process.env.HF_TOKEN;
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/python`, languages: [], maxRowsPerLanguage: null }, deps),
      failureMatching(ErrorType.AccessDenied, /HTTP 401/, /set HF_TOKEN/),
    );
    process.env.HF_TOKEN = 'hf_wrong';
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/python/train-00000-of-00002.parquet`, languages: [], maxRowsPerLanguage: null }, deps),
      (err: unknown) => failureMatching(ErrorType.AccessDenied, /HF_TOKEN is set but was refused/)(err) && !String((err as Error).message).includes('hf_wrong'),
    );
  });

  it('retries 5xx answers of the listing and of the file, then succeeds', async () => {
    hub.fault(/\/tree\//, 2, 503);
    hub.fault(/\/files\/datasets\/.*\/go\//, 2, 502);
    const r = await ingestStage({ artifactsRoot: root, source: `hf://datasets/${REPO}/data/go`, languages: [], maxRowsPerLanguage: 10 }, deps);
    assert.equal(r.stats.rows_out, 10);
    assert.equal(hub.requests.filter((q) => q.url.startsWith('/files/')).length, 3);
  });

  it('resumes a file whose connection dropped mid-transfer, with the same output as an undisturbed read', async () => {
    const source = `hf://datasets/${REPO}/data/python/train-00000-of-00002.parquet`;
    const clean = await ingestStage({ artifactsRoot: cleanRoot, source, languages: [], maxRowsPerLanguage: null }, deps);
    hub.reset();
    hub.fault(/\/files\/datasets\/.*train-00000-of-00002/, 1, 'drop');
    const resumed = await ingestStage({ artifactsRoot: dropRoot, source, languages: [], maxRowsPerLanguage: null }, deps);
    const ranged = hub.requests.filter((q) => q.url.startsWith('/files/') && q.headers.range !== undefined);
    assert.equal(ranged.length, 1, 'one resumed request');
    assert.match(String(ranged[0]!.headers.range), /^bytes=[1-9]\d*-$/);
    assert.equal(resumed.fingerprint, clean.fingerprint);
    const files = (r: { manifestUri: string }) => (JSON.parse(manifestText(r)).outputs as { uri: string; sha256: string; rows: number }[]).map((o) => [o.uri.split('/stages/')[1], o.sha256, o.rows]);
    assert.deepEqual(files(resumed), files(clean)); // same files, same SHA-256s
  });
});

describe('ingest from S3 (MinIO)', () => {
  let minio: MinioServer;
  before(async () => {
    minio = await startMinio();
    const put = (key: string, sample: string) => store.writeBytes(`s3://${minio.bucket}/${key}`, readFileSync(join(SAMPLE, sample)));
    await put('raw/python/train-00000-of-00002.parquet', 'data/python/train-00000-of-00002.parquet');
    await put('raw/python/train-00001-of-00002.parquet', 'data/python/train-00001-of-00002.parquet');
    await put('raw/go/train-00000-of-00002.parquet', 'data/go/train-00000-of-00002.parquet');
    await put('raw/go/notes.txt', 'README.md');
    await put('raw-old/python/train-00000-of-00001.parquet', 'data/perl/train-00000-of-00001.parquet');
  });
  after(async () => {
    closeStores();
    await minio?.stop();
  });

  it('reads a glob over an S3 prefix listed in pages of 2 keys, spooling each file locally', async () => {
    const s3 = storeFor(`s3://${minio.bucket}/raw`) as S3Store;
    const paged = new S3Store(s3.client, s3.endpoint, { listPageSize: 2 });
    const pagedStore = { ...store, list: (uri: string) => (uri.startsWith('s3:') ? paged.list(uri) : store.list(uri)) };
    const r = await ingestStage(
      { artifactsRoot: root, source: `s3://${minio.bucket}/raw/*/train-*.parquet`, languages: [], maxRowsPerLanguage: null },
      { store: pagedStore },
    );
    assert.equal(r.stats.files_listed, 3);
    const per = r.stats.per_language as Record<string, { rows_out: number }>;
    assert.deepEqual(Object.fromEntries(Object.entries(per).map(([k, v]) => [k, v.rows_out])), { Go: 1768, Python: 778 + 710 });
    // A prefix (no glob) takes every .parquet below it, and not raw-old/.
    const prefix = await ingestStage({ artifactsRoot: root, source: `s3://${minio.bucket}/raw`, languages: [], maxRowsPerLanguage: null }, { store: pagedStore });
    assert.equal(prefix.stats.files_listed, 3);
  });
});
