// S3 store against a real MinIO server (started here, stopped in `after`).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ErrorType } from '../../contracts/errors.js';
import { joinUri } from '../../lib/manifest.js';
import { closeStores, copyObject, fileUri, S3Store, store, storeFor } from '../../lib/storage/index.js';
import { startMinio, type MinioServer } from '../support/minio.js';
import { assertFailure, assertRetryable } from '../support/failures.js';



/** Everything a person or a log collector could see of an error. */
function everything(err: unknown): string {
  return [inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err), String(err), (err as Error)?.stack ?? ''].join('\n');
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let minio: MinioServer;
let dir: string;
let base: string;

before(async () => {
  minio = await startMinio();
  dir = await mkdtemp(join(tmpdir(), 'kiln-s3store-'));
  base = `s3://${minio.bucket}/runs/test`;
});
after(async () => {
  closeStores();
  await minio?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` with some process.env variables replaced, restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('S3Store on MinIO', () => {
  test('storeFor caches one client per settings', () => {
    const a = storeFor(`s3://${minio.bucket}/a`);
    assert.ok(a instanceof S3Store);
    assert.equal(storeFor(`s3://other-bucket/b`), a);
    assert.notEqual(storeFor(`s3://${minio.bucket}/a`, { s3: { region: 'eu-west-1' } }), a);
    assert.equal(a.endpoint, minio.endpoint);
  });

  test('writeBytes / readBytes / exists / remove round trip, odd key names', async () => {
    for (const name of ['plain.bin', 'graphviz-(dot)/a b.json', 'ünï#?%.txt']) {
      const uri = joinUri(base, 'rt', name);
      const data = randomBytes(1000 + name.length);
      assert.equal(await store.exists(uri), false);
      await store.writeBytes(uri, data);
      assert.equal(await store.exists(uri), true);
      assert.deepEqual(Buffer.from(await store.readBytes(uri)), data);
      await store.remove(uri);
      assert.equal(await store.exists(uri), false);
      await store.remove(uri); // already gone: no error
    }
    await store.writeBytes(joinUri(base, 'rt/text.txt'), 'héllo');
    assert.equal(Buffer.from(await store.readBytes(joinUri(base, 'rt/text.txt'))).toString('utf8'), 'héllo');
    await store.writeBytes(joinUri(base, 'rt/empty'), new Uint8Array());
    assert.equal((await store.readBytes(joinUri(base, 'rt/empty'))).byteLength, 0);
  });

  test('list: recursive, sorted, paginated, prefix as a directory, URIs that read back', async () => {
    const root = joinUri(base, 'listing');
    const shared = storeFor(root) as S3Store;
    const s = new S3Store(shared.client, shared.endpoint, { listPageSize: 7 }); // forces several pages
    const names = Array.from({ length: 40 }, (_, i) => `many/${String(i).padStart(4, '0')}.txt`);
    await Promise.all(names.map((n) => s.writeBytes(joinUri(root, n), n)));
    for (const n of ['z.txt', 'z.txt.bak', 'a/b (1).txt', 'a/c d.txt']) await s.writeBytes(joinUri(root, n), n);
    await s.writeBytes(joinUri(base, 'listing-sibling/x.txt'), 'not under listing/');
    const listed = await s.list(root);
    assert.equal(listed.length, names.length + 4);
    const uris = listed.map((o) => o.uri);
    assert.deepEqual(uris, [...uris].sort());
    assert.ok(!uris.some((u) => u.includes('listing-sibling')), 'a prefix is a directory, not a string prefix');
    const ab = listed.find((o) => o.uri.endsWith('a/b (1).txt'))!;
    assert.equal(ab.uri, `s3://${minio.bucket}/runs/test/listing/a/b (1).txt`);
    assert.equal(ab.size, 'a/b (1).txt'.length);
    assert.equal(Buffer.from(await s.readBytes(ab.uri)).toString(), 'a/b (1).txt');
    assert.equal((await s.list(`${root}/`)).length, names.length + 4);
    assert.deepEqual(await s.list(joinUri(root, 'z.txt')), [{ uri: joinUri(root, 'z.txt'), size: 5 }], 'an object names itself only');
    assert.deepEqual(await s.list(joinUri(base, 'nothing-here')), []);
    assert.ok((await shared.list(`s3://${minio.bucket}`)).length >= names.length + 5, 'bucket-wide listing');
  });

  test('a 20 MiB file goes up as a multipart upload and comes back intact', async () => {
    const local = join(dir, 'big.bin');
    const data = randomBytes(20 * 1024 * 1024);
    await writeFile(local, data);
    const uri = joinUri(base, 'big/shard-00000.mds');
    await store.upload(local, uri);
    const s = storeFor(uri) as S3Store;
    const head = await s.client.send(new HeadObjectCommand({ Bucket: minio.bucket, Key: 'runs/test/big/shard-00000.mds' }));
    assert.equal(head.ContentLength, data.length);
    assert.match(head.ETag ?? '', /-3"?$/, 'three 8 MiB parts');
    const back = join(dir, 'back', 'big.bin');
    await store.download(uri, back);
    assert.equal(sha(await readFile(back)), sha(data));
    assert.deepEqual(await readdir(join(dir, 'back')), ['big.bin'], 'no temporary left behind');
    assert.equal(sha(await store.readBytes(uri)), sha(data));
  });

  test('small uploads and copyObject across file:// and s3://', async () => {
    const local = join(dir, 'small.txt');
    await writeFile(local, 'small file');
    await store.upload(local, joinUri(base, 'copy/small.txt'));
    await copyObject(joinUri(base, 'copy/small.txt'), joinUri(base, 'copy/again.txt'));
    const dst = fileUri(join(dir, 'copied dir', 'small (copy).txt'));
    await copyObject(joinUri(base, 'copy/again.txt'), dst);
    assert.equal(Buffer.from(await store.readBytes(dst)).toString(), 'small file');
    await copyObject(dst, joinUri(base, 'copy/from-file.txt'));
    assert.equal(Buffer.from(await store.readBytes(joinUri(base, 'copy/from-file.txt'))).toString(), 'small file');
  });

  test('a missing object is a fatal NotFound naming the URI; a failed download leaves no file', async () => {
    const uri = joinUri(base, 'missing/thing.parquet');
    await assert.rejects(store.readBytes(uri), (e) => assertFailure(e, ErrorType.NotFound, uri));
    const local = join(dir, 'never', 'thing.parquet');
    await assert.rejects(store.download(uri, local), (e) => assertFailure(e, ErrorType.NotFound, uri));
    await assert.rejects(readFile(local), /ENOENT/);
    await assert.rejects(store.upload(join(dir, 'no-such-local'), uri), (e) => assertFailure(e, ErrorType.NotFound, 'no-such-local'));
  });

  test('a missing bucket is a fatal NotFound naming the bucket', async () => {
    const uri = 's3://kiln-no-such-bucket/x/y.bin';
    await assert.rejects(store.readBytes(uri), (e) => assertFailure(e, ErrorType.NotFound, '`kiln-no-such-bucket`'));
    await assert.rejects(store.writeBytes(uri, 'x'), (e) => assertFailure(e, ErrorType.NotFound, '`kiln-no-such-bucket`'));
    await assert.rejects(store.list('s3://kiln-no-such-bucket/x'), (e) => assertFailure(e, ErrorType.NotFound, '`kiln-no-such-bucket`'));
    assert.equal(await store.exists(uri), false);
  });

  test('an object URI without a key is rejected before any request', async () => {
    await assert.rejects(store.readBytes(`s3://${minio.bucket}`), (e) => assertFailure(e, ErrorType.InvalidInput));
    await assert.rejects(store.writeBytes(`s3://${minio.bucket}/dir/`, 'x'), (e) => assertFailure(e, ErrorType.InvalidInput));
  });

  test('wrong credentials are a fatal AccessDenied that names the variables, not their values', async () => {
    const uri = joinUri(base, 'secret-test.txt');
    await store.writeBytes(uri, 'x');
    const wrongSecret = `wrong-${randomBytes(12).toString('hex')}`;
    await withEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret }, async () => {
      for (const op of [() => store.readBytes(uri), () => store.writeBytes(uri, 'y'), () => store.list(base), () => store.exists(uri)]) {
        await assert.rejects(op(), (e) => {
          assertFailure(e, ErrorType.AccessDenied, 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
          const text = everything(e);
          assert.ok(!text.includes(wrongSecret), 'the wrong secret leaked');
          assert.ok(!text.includes(minio.env.AWS_SECRET_ACCESS_KEY!), 'the real secret leaked');
          return true;
        });
      }
    });
    await withEnv({ AWS_ACCESS_KEY_ID: 'NOSUCHKEYID' }, async () => {
      await assert.rejects(store.readBytes(uri), (e) => assertFailure(e, ErrorType.AccessDenied, 'InvalidAccessKeyId'));
    });
    // Back to the right credentials: a fresh client, working again.
    assert.equal(Buffer.from(await store.readBytes(uri)).toString(), 'x');
  });

  test('no credentials at all is a fatal AccessDenied naming the variables', async () => {
    await withEnv(
      {
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(dir, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
      },
      async () => {
        await assert.rejects(store.readBytes(joinUri(base, 'x')), (e) => assertFailure(e, ErrorType.AccessDenied, 'No S3 credentials found'));
      },
    );
  });

  test('the secret key never appears in console or process output during S3 operations', async () => {
    const secret = minio.env.AWS_SECRET_ACCESS_KEY!;
    const captured: string[] = [];
    const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
    const savedConsole = methods.map((m) => console[m]);
    const savedOut = process.stdout.write.bind(process.stdout);
    const savedErr = process.stderr.write.bind(process.stderr);
    const savedEmitWarning = process.emitWarning;
    for (const m of methods) console[m] = (...args: unknown[]) => void captured.push(args.map((a) => inspect(a, { depth: 10 })).join(' '));
    const tap = (orig: typeof savedOut) =>
      ((chunk: unknown, ...rest: unknown[]) => {
        captured.push(String(chunk));
        return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof process.stdout.write;
    process.stdout.write = tap(savedOut);
    process.stderr.write = tap(savedErr);
    process.emitWarning = ((w: unknown, ...rest: unknown[]) => {
      captured.push(inspect(w));
      return (savedEmitWarning as (...a: unknown[]) => void).call(process, w as string, ...(rest as []));
    }) as typeof process.emitWarning;
    const errors: unknown[] = [];
    try {
      const uri = joinUri(base, 'logs/obj.bin');
      await store.writeBytes(uri, randomBytes(100));
      await store.readBytes(uri);
      await store.list(joinUri(base, 'logs'));
      const local = join(dir, 'logs-upload.bin');
      await writeFile(local, randomBytes(9 * 1024 * 1024));
      await store.upload(local, joinUri(base, 'logs/multi.bin'));
      await store.download(joinUri(base, 'logs/multi.bin'), join(dir, 'logs-download.bin'));
      await store.readBytes(joinUri(base, 'logs/missing')).catch((e) => errors.push(e));
      await store.readBytes('s3://kiln-no-such-bucket/x').catch((e) => errors.push(e));
      await withEnv({ AWS_ACCESS_KEY_ID: 'NOSUCHKEYID' }, () => store.readBytes(uri).catch((e) => errors.push(e)));
    } finally {
      methods.forEach((m, i) => (console[m] = savedConsole[i]!));
      process.stdout.write = savedOut;
      process.stderr.write = savedErr;
      process.emitWarning = savedEmitWarning;
    }
    assert.equal(errors.length, 3);
    for (const text of [...captured, ...errors.map(everything)]) assert.ok(!text.includes(secret), 'the secret key leaked');
  });

  test('connection refused (MinIO stopped) is retryable, and the store recovers when it is back', async () => {
    const uri = joinUri(base, 'outage/obj.txt');
    await store.writeBytes(uri, 'before');
    await minio.stopServer();
    try {
      const local = join(dir, 'outage-upload.bin');
      await writeFile(local, 'data');
      for (const op of [
        () => store.readBytes(uri),
        () => store.writeBytes(uri, 'during'),
        () => store.list(joinUri(base, 'outage')),
        () => store.exists(uri),
        () => store.download(uri, join(dir, 'outage-dl.txt')),
        () => store.upload(local, uri),
        () => store.remove(uri),
      ]) {
        await assert.rejects(op(), (e) => assertRetryable(e) && /ECONNREFUSED/.test((e as Error).message));
      }
      await assert.rejects(readFile(join(dir, 'outage-dl.txt')), /ENOENT/);
    } finally {
      await minio.startAgain();
    }
    assert.equal(Buffer.from(await store.readBytes(uri)).toString(), 'before');
  });
});
