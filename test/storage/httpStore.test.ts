import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ErrorType } from '../../contracts/errors.js';
import { copyObject, fileUri, HttpStore, store, storeFor } from '../../lib/storage/index.js';
import { freePort } from '../support/ports.js';
import { startHttpServer, type TestHttpServer } from '../support/httpServer.js';
import { assertFailure, assertRetryable } from '../support/failures.js';



const PARQUET_PATH = 'datasets/x/y/data/python/train-00000-of-00001.parquet';
const TOKEN = 'hf_secret_token_for_tests_0123456789';

let dir: string;
let srv: TestHttpServer;
let payload: Buffer;
const http = new HttpStore({ retryDelayMs: 10 });
const savedToken = process.env.HF_TOKEN;
const savedEndpoint = process.env.HF_ENDPOINT;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-httpstore-'));
  await mkdir(join(dir, 'root', 'datasets/x/y/data/python'), { recursive: true });
  payload = Buffer.alloc(1024 * 1024 + 3);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
  await writeFile(join(dir, 'root', PARQUET_PATH), payload);
  await writeFile(join(dir, 'root', 'empty.txt'), '');
  srv = await startHttpServer(join(dir, 'root'));
  delete process.env.HF_TOKEN;
  delete process.env.HF_ENDPOINT;
});
after(async () => {
  await srv.stop();
  await rm(dir, { recursive: true, force: true });
  if (savedToken === undefined) delete process.env.HF_TOKEN;
  else process.env.HF_TOKEN = savedToken;
  if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = savedEndpoint;
});
beforeEach(() => srv.reset());

describe('HttpStore', () => {
  test('storeFor routes http(s) URIs to the read-only HTTP store', () => {
    assert.ok(storeFor('https://huggingface.co/datasets/x/y/resolve/main/a.parquet') instanceof HttpStore);
    assert.ok(storeFor(`${srv.baseUrl}/files/a`) instanceof HttpStore);
  });

  test('readBytes follows the resolve/ redirect', async () => {
    const got = await http.readBytes(`${srv.baseUrl}/resolve/${PARQUET_PATH}`);
    assert.deepEqual(Buffer.from(got), payload);
    assert.deepEqual(
      srv.requests.map((r) => `${r.method} ${r.url.split('/')[1]}`),
      ['GET resolve', 'GET files'],
    );
  });

  test('download streams through a cross-origin redirect to a local file, atomically', async () => {
    const local = join(dir, 'dl', 'nested', 'train.parquet');
    await http.download(`${srv.baseUrl}/cdn/${PARQUET_PATH}`, local);
    assert.deepEqual(await readFile(local), payload);
    assert.deepEqual(await readdir(join(dir, 'dl', 'nested')), ['train.parquet']);
  });

  test('exists and list (one object with its size), via HEAD', async () => {
    const uri = `${srv.baseUrl}/resolve/${PARQUET_PATH}`;
    assert.equal(await http.exists(uri), true);
    assert.deepEqual(await http.list(uri), [{ uri, size: payload.length }]);
    assert.equal(await http.exists(`${srv.baseUrl}/resolve/nope.parquet`), false);
    assert.deepEqual(await http.list(`${srv.baseUrl}/resolve/nope.parquet`), []);
    assert.deepEqual(await http.list(`${srv.baseUrl}/files/empty.txt`), [{ uri: `${srv.baseUrl}/files/empty.txt`, size: 0 }]);
    assert.ok(srv.requests.every((r) => r.method === 'HEAD'));
  });

  test('exists and list fall back to a ranged GET where HEAD is refused', async () => {
    const uri = `${srv.baseUrl}/no-head/${PARQUET_PATH}`;
    assert.equal(await http.exists(uri), true);
    assert.deepEqual(await http.list(uri), [{ uri, size: payload.length }]);
    assert.equal(await http.exists(`${srv.baseUrl}/no-head/missing.bin`), false);
    assert.deepEqual(await http.list(`${srv.baseUrl}/no-head/empty.txt`), [{ uri: `${srv.baseUrl}/no-head/empty.txt`, size: 0 }]);
    assert.ok(srv.requests.some((r) => r.method === 'GET' && r.headers.range === 'bytes=0-0'));
  });

  test('503 then 200 is retried and succeeds', async () => {
    const got = await http.readBytes(`${srv.baseUrl}/flaky/2/${PARQUET_PATH}`);
    assert.deepEqual(Buffer.from(got), payload);
    assert.equal(srv.requests.length, 3);
    const local = join(dir, 'flaky.bin');
    await http.download(`${srv.baseUrl}/flaky/1/${PARQUET_PATH}`, local);
    assert.deepEqual(await readFile(local), payload);
  });

  test('persistent 5xx ends in a retryable error after a few attempts', async () => {
    await assert.rejects(http.readBytes(`${srv.baseUrl}/status/503`), (e) => assertRetryable(e) && /503/.test((e as Error).message));
    assert.equal(srv.requests.length, 4);
  });

  test('connection refused is retryable', async () => {
    const port = await freePort();
    await assert.rejects(http.readBytes(`http://127.0.0.1:${port}/x`), assertRetryable);
    await assert.rejects(http.exists(`http://127.0.0.1:${port}/x`), assertRetryable);
  });

  test('404 is a fatal NotFound naming the URI', async () => {
    const uri = `${srv.baseUrl}/resolve/missing/file.parquet`;
    await assert.rejects(http.readBytes(uri), (e) => assertFailure(e, ErrorType.NotFound, uri));
    await assert.rejects(http.download(uri, join(dir, 'never.bin')), (e) => assertFailure(e, ErrorType.NotFound, uri));
    await assert.rejects(readFile(join(dir, 'never.bin')), /ENOENT/);
  });

  test('401/403 are a fatal AccessDenied that mentions HF_TOKEN', async () => {
    for (const code of [401, 403]) {
      await assert.rejects(http.readBytes(`${srv.baseUrl}/status/${code}`), (e) => assertFailure(e, ErrorType.AccessDenied, 'HF_TOKEN'));
    }
  });

  test('HF_TOKEN goes to the hub origin only: not across a redirect to another host, never in messages', async () => {
    process.env.HF_TOKEN = TOKEN;
    process.env.HF_ENDPOINT = srv.baseUrl; // this server plays the hub (a mirror)
    try {
      await http.readBytes(`${srv.baseUrl}/cdn/${PARQUET_PATH}`);
      const [hub, cdn] = srv.requests;
      assert.equal(hub!.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(cdn!.headers.host, `localhost:${srv.port}`);
      assert.equal(cdn!.headers.authorization, undefined);
      await assert.rejects(http.readBytes(`${srv.baseUrl}/status/403`), (e) => {
        assertFailure(e, ErrorType.AccessDenied, 'HF_TOKEN is set');
        assert.ok(!JSON.stringify({ m: (e as Error).message, s: (e as Error).stack }).includes(TOKEN));
        return true;
      });
      // Hosts other than the hub never get the token.
      delete process.env.HF_ENDPOINT;
      srv.reset();
      await http.readBytes(`${srv.baseUrl}/files/${PARQUET_PATH}`);
      assert.equal(srv.requests[0]!.headers.authorization, undefined);
    } finally {
      delete process.env.HF_TOKEN;
      delete process.env.HF_ENDPOINT;
    }
  });

  test('download resumes a dropped connection with a Range request from the bytes on disk', async () => {
    srv.fault(/\/files\/datasets\//, 2, 'drop');
    const local = join(dir, 'resumed', 'train.parquet');
    await http.download(`${srv.baseUrl}/resolve/${PARQUET_PATH}`, local);
    assert.deepEqual(await readFile(local), payload);
    const gets = srv.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/files/'));
    assert.equal(gets.length, 3);
    assert.equal(gets[0]!.headers.range, undefined);
    const first = Number(/^bytes=(\d+)-$/.exec(String(gets[1]!.headers.range))?.[1]);
    const second = Number(/^bytes=(\d+)-$/.exec(String(gets[2]!.headers.range))?.[1]);
    assert.ok(first > 0 && second > first && second < payload.length, `resumed at ${first}, then ${second}`);
    assert.deepEqual(await readdir(join(dir, 'resumed')), ['train.parquet']);
  });

  test('download starts over where the server ignores Range (200 instead of 206)', async () => {
    srv.fault(/\/no-range\//, 1, 'drop');
    const local = join(dir, 'restart.bin');
    await http.download(`${srv.baseUrl}/no-range/${PARQUET_PATH}`, local);
    assert.deepEqual(await readFile(local), payload);
    const gets = srv.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2);
    assert.match(String(gets[1]!.headers.range), /^bytes=\d+-$/);
  });

  test('getJson returns the document and its headers; a non-JSON answer is a fatal InvalidInput', async () => {
    await writeFile(join(dir, 'root', 'list.json'), '[{"a":1}]');
    await writeFile(join(dir, 'root', 'broken.json'), '<html>');
    const { body } = await http.getJson(`${srv.baseUrl}/files/list.json`);
    assert.deepEqual(body, [{ a: 1 }]);
    await assert.rejects(http.getJson(`${srv.baseUrl}/files/broken.json`), (e) => assertFailure(e, ErrorType.InvalidInput, 'did not answer JSON'));
  });

  test('writes are a fatal Unsupported', async () => {
    const uri = `${srv.baseUrl}/files/new.bin`;
    await assert.rejects(http.writeBytes(uri, 'x'), (e) => assertFailure(e, ErrorType.Unsupported, uri));
    await assert.rejects(http.upload(join(dir, 'flaky.bin'), uri), (e) => assertFailure(e, ErrorType.Unsupported));
    await assert.rejects(http.remove(uri), (e) => assertFailure(e, ErrorType.Unsupported));
  });

  test('copyObject from https to a file URI, through the routing store', async () => {
    const dst = fileUri(join(dir, 'copied', 'train (copy).parquet'));
    await copyObject(`${srv.baseUrl}/resolve/${PARQUET_PATH}`, dst);
    assert.deepEqual(Buffer.from(await store.readBytes(dst)), payload);
  });
});
