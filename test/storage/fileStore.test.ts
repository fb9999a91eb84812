import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../contracts/errors.js';
import { joinUri } from '../../lib/manifest.js';
import { copyObject, fileUri, FileStore, parseUri, store, storeFor } from '../../lib/storage/index.js';
import { assertFailure } from '../support/failures.js';


let dir: string;
let base: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-filestore-'));
  base = fileUri(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseUri / storeFor', () => {
  test('dispatches on the scheme', () => {
    assert.ok(storeFor('file:///tmp/x') instanceof FileStore);
    assert.deepEqual(parseUri('s3://bucket/a/b c.txt'), { scheme: 's3', bucket: 'bucket', key: 'a/b c.txt' });
    assert.deepEqual(parseUri('file:///tmp/a%20b/graphviz-(dot)'), { scheme: 'file', path: '/tmp/a b/graphviz-(dot)' });
    assert.deepEqual(parseUri('file:///tmp/a b/graphviz-(dot)'), { scheme: 'file', path: '/tmp/a b/graphviz-(dot)' });
    assert.deepEqual(parseUri('file:///tmp/x#1?y'), { scheme: 'file', path: '/tmp/x#1?y' });
    assert.equal(parseUri('https://huggingface.co/datasets/x/y/resolve/main/a.parquet').scheme, 'https');
  });

  test('an unknown scheme is a fatal Unsupported naming the URI', () => {
    assert.throws(() => storeFor('ftp://x'), (e) => assertFailure(e, ErrorType.Unsupported, 'Expected a file://, s3:// or https:// URI, got `ftp://x`.'));
    assert.throws(() => storeFor('/no/scheme'), (e) => assertFailure(e, ErrorType.Unsupported, '/no/scheme'));
    assert.throws(() => storeFor('file://otherhost/x'), (e) => assertFailure(e, ErrorType.Unsupported));
  });
});

describe('FileStore', () => {
  const fs = new FileStore();

  test('writeBytes / readBytes round trip, mkdir -p, strings as UTF-8', async () => {
    const uri = joinUri(base, 'a/b/c/obj.bin');
    const data = new Uint8Array([0, 1, 2, 255, 254]);
    await fs.writeBytes(uri, data);
    assert.deepEqual(await fs.readBytes(uri), data);
    await fs.writeBytes(joinUri(base, 'a/text.txt'), 'héllo');
    assert.equal(Buffer.from(await fs.readBytes(joinUri(base, 'a/text.txt'))).toString('utf8'), 'héllo');
  });

  test('names with spaces, parentheses, # and % round trip, and list() returns URIs that read back', async () => {
    const root = joinUri(base, 'odd names');
    const names = ['graphviz-(dot)/out.json', 'a b/c d.txt', 'hash#1?.txt', '100%.txt', 'ünï.txt'];
    for (const n of names) await store.writeBytes(joinUri(root, n), n);
    const listed = await store.list(root);
    assert.equal(listed.length, names.length);
    for (const o of listed) {
      assert.ok(o.uri.startsWith('file:///'));
      const text = Buffer.from(await store.readBytes(o.uri)).toString('utf8');
      assert.ok(names.includes(text), `${o.uri} read back ${text}`);
      assert.equal(o.size, Buffer.byteLength(text));
      assert.equal(await store.exists(o.uri), true);
    }
    // The raw and the encoded spelling name the same object.
    assert.deepEqual(await store.readBytes(joinUri(root, 'a b/c d.txt')), await store.readBytes(fileUri(join(dir, 'odd names', 'a b', 'c d.txt'))));
  });

  test('list is recursive, sorted, prefix-as-directory, empty when missing; hides temporaries', async () => {
    const root = joinUri(base, 'listing');
    for (const n of ['z.txt', 'a/2.txt', 'a/1.txt', 'b/c/d/e.txt']) await fs.writeBytes(joinUri(root, n), n);
    await writeFile(join(dir, 'listing', 'a', '.1.txt.kiln-tmp-123-abc'), 'partial');
    await fs.writeBytes(joinUri(base, 'listing-sibling/x.txt'), 'x');
    const listed = await fs.list(root);
    assert.deepEqual(
      listed.map((o) => o.uri.slice(fileUri(join(dir, 'listing')).length)),
      ['/a/1.txt', '/a/2.txt', '/b/c/d/e.txt', '/z.txt'],
    );
    assert.deepEqual(listed.map((o) => o.size), [7, 7, 11, 5]);
    assert.deepEqual(await fs.list(joinUri(base, 'nothing-here')), []);
    assert.deepEqual(await fs.list(joinUri(root, 'z.txt')), [{ uri: fileUri(join(dir, 'listing', 'z.txt')), size: 5 }]);
  });

  test('exists and remove; remove is idempotent', async () => {
    const uri = joinUri(base, 'rm/me.txt');
    assert.equal(await fs.exists(uri), false);
    await fs.writeBytes(uri, 'x');
    assert.equal(await fs.exists(uri), true);
    assert.equal(await fs.exists(joinUri(base, 'rm')), false, 'a directory is not an object');
    await fs.remove(uri);
    assert.equal(await fs.exists(uri), false);
    await fs.remove(uri);
    await fs.remove(joinUri(base, 'never/was/here.txt'));
  });

  test('a missing object is a fatal NotFound naming the URI', async () => {
    const uri = joinUri(base, 'missing/thing.parquet');
    await assert.rejects(fs.readBytes(uri), (e) => assertFailure(e, ErrorType.NotFound, uri));
    await assert.rejects(fs.download(uri, join(dir, 'dl', 'x')), (e) => assertFailure(e, ErrorType.NotFound, uri));
    await assert.rejects(fs.upload(join(dir, 'no-such-local-file'), joinUri(base, 'up/x')), (e) =>
      assertFailure(e, ErrorType.NotFound, 'no-such-local-file'),
    );
    await assert.rejects(fs.readBytes(joinUri(base, 'a')), (e) => assertFailure(e, ErrorType.InvalidInput, 'directory'));
    await fs.writeBytes(joinUri(base, 'plainfile'), 'x');
    await assert.rejects(fs.writeBytes(joinUri(base, 'plainfile/child.txt'), 'y'), (e) => assertFailure(e, ErrorType.InvalidInput, 'parent path is a file'));
  });

  test('writes are atomic: concurrent readers see the old or the new object, never a mix; no temporaries left', async () => {
    const uri = joinUri(base, 'atomic/big.bin');
    const v1 = new Uint8Array(8 * 1024 * 1024).fill(1);
    const v2 = new Uint8Array(8 * 1024 * 1024).fill(2);
    await fs.writeBytes(uri, v1);
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        const got = await fs.readBytes(uri);
        assert.equal(got.byteLength, v1.byteLength);
        assert.ok(got[0] === got[got.byteLength - 1], 'a torn read');
        reads++;
      }
    })();
    for (let i = 0; i < 6; i++) await fs.writeBytes(uri, i % 2 === 0 ? v2 : v1);
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(join(dir, 'atomic')), ['big.bin']);
  });

  test('upload / download copy files, creating parent directories', async () => {
    const local = join(dir, 'local-src.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 'kiln');
    await writeFile(local, data);
    const uri = joinUri(base, 'uploaded/deep/file.bin');
    await fs.upload(local, uri);
    const back = join(dir, 'downloaded', 'deeper', 'file.bin');
    await fs.download(uri, back);
    assert.deepEqual(await readFile(back), data);
    assert.deepEqual(await readdir(join(dir, 'downloaded', 'deeper')), ['file.bin']);
  });

  test('copyObject between file URIs', async () => {
    const src = joinUri(base, 'copy/src.txt');
    await store.writeBytes(src, 'copied');
    await copyObject(src, joinUri(base, 'copy/dst (1).txt'));
    assert.equal(Buffer.from(await store.readBytes(joinUri(base, 'copy/dst (1).txt'))).toString(), 'copied');
  });

  test('permission errors are a fatal AccessDenied', { skip: process.getuid?.() === 0 ? 'root ignores file modes' : false }, async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked);
    await writeFile(join(locked, 'f.txt'), 'x');
    await chmod(join(locked, 'f.txt'), 0o000);
    await chmod(locked, 0o500);
    try {
      await assert.rejects(fs.readBytes(fileUri(join(locked, 'f.txt'))), (e) => assertFailure(e, ErrorType.AccessDenied));
      await assert.rejects(fs.writeBytes(fileUri(join(locked, 'g.txt')), 'y'), (e) => assertFailure(e, ErrorType.AccessDenied));
    } finally {
      await chmod(locked, 0o700);
    }
  });

  test('permission errors map to AccessDenied (mapping, also under root)', async () => {
    const { fsError } = await import('../../lib/storage/fileStore.js');
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    assertFailure(fsError(eacces, 'file:///x/y', 'read'), ErrorType.AccessDenied, 'file:///x/y');
    const eio = Object.assign(new Error('EIO'), { code: 'EIO' });
    assert.equal(fsError(eio, 'file:///x/y', 'write'), eio, 'other errors stay retryable');
  });

  test('a full disk is a retryable KilnStoreFull that tells the operator to free space', async () => {
    const { fsError } = await import('../../lib/storage/fileStore.js');
    for (const code of ['ENOSPC', 'EDQUOT']) {
      const err = fsError(Object.assign(new Error(code), { code }), 'file:///x/y', 'write');
      assert.ok(err instanceof ApplicationFailure && !err.nonRetryable, `${code} stays retryable`);
      assert.equal(err.type, ErrorType.StoreFull);
      assert.match(err.message, /No space left .* file:\/\/\/x\/y: free space there/);
    }
  });
});
