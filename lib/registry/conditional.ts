/**
 * Compare-and-swap on one object of the artifact store: read it with a tag, write it back only if
 * nobody changed it in between. The registry's aliases (and version records) are updated this way,
 * so two rollouts (or a rollout and a person running `kiln models alias`) never lose each other's
 * change.
 *
 * Why conditional writes and not write-then-verify: write-then-verify only detects a writer that
 * lands between my write and my read-back; one that read the old state before my write and wrote
 * after my verify silently undoes my change (a lost update). A conditional write closes that gap.
 *   s3://   PutObject with `If-Match: <ETag>` (or `If-None-Match: *` to create), which AWS S3
 *           (since 2024-11) and MinIO enforce server-side; a lost race answers 412 (or 409).
 *   file:// an exclusive lock file beside the object (open O_EXCL, as git's index.lock), then
 *           compare the content hash and rename a temporary file over the object. A lock left by a
 *           crashed writer is broken after STALE_LOCK_MS.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ErrorType, fatal, transient } from '../../contracts/errors.js';
import { fileUriToPath, parseS3Uri, parseUri, storeFor, type S3Store } from '../storage/index.js';
import { s3Error } from '../storage/s3Store.js';
import { writeFileAtomic } from '../storage/fileStore.js';

/** Current bytes of an object and a tag that changes whenever they do. */
export interface Tagged {
  bytes: Uint8Array;
  tag: string;
}

const STALE_LOCK_MS = 30_000;

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** The object and its tag, or null when there is none. */
export async function readTagged(uri: string): Promise<Tagged | null> {
  const parsed = parseUri(uri);
  if (parsed.scheme === 'file') {
    try {
      const bytes = new Uint8Array(await readFile(parsed.path));
      return { bytes, tag: sha256(bytes) };
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
      throw err;
    }
  }
  if (parsed.scheme === 's3') {
    const s3 = storeFor(uri) as S3Store;
    const { bucket, key } = parseS3Uri(uri);
    try {
      const res = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
      return { bytes, tag: res.ETag ?? sha256(bytes) };
    } catch (err) {
      const code = (err as { name?: string }).name;
      if (code === 'NoSuchKey' || httpStatus(err) === 404) return null;
      throw s3Error(err, 'GetObject', uri, s3.endpoint);
    }
  }
  throw fatal(ErrorType.Unsupported, `The registry needs a file:// or s3:// root, got \`${uri}\`.`);
}

/**
 * Writes `bytes` only if the object still has tag `expected` (null: only if it does not exist).
 * Returns false when another writer got there first (read again, re-apply, retry).
 */
export async function writeIfUnchanged(uri: string, bytes: Uint8Array, expected: string | null): Promise<boolean> {
  const parsed = parseUri(uri);
  if (parsed.scheme === 's3') {
    const s3 = storeFor(uri) as S3Store;
    const { bucket, key } = parseS3Uri(uri);
    try {
      await s3.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: 'application/json',
          ...(expected === null ? { IfNoneMatch: '*' } : { IfMatch: expected }),
        }),
      );
      return true;
    } catch (err) {
      const status = httpStatus(err);
      // 412: the precondition failed; 409: a concurrent conditional write is in flight (AWS);
      // 404: If-Match on an object someone deleted.
      if (status === 412 || status === 409 || (status === 404 && expected !== null)) return false;
      throw s3Error(err, 'PutObject', uri, s3.endpoint);
    }
  }
  return writeLocked(fileUriToPath(uri), bytes, expected);
}

async function writeLocked(path: string, bytes: Uint8Array, expected: string | null): Promise<boolean> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  let handle;
  try {
    handle = await open(lock, 'wx');
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
    const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > STALE_LOCK_MS) await unlink(lock).catch(() => undefined);
    return false; // held by another writer (or just broken): the caller retries
  }
  try {
    await handle.close();
    const current = await readFile(path).then((b) => sha256(new Uint8Array(b)), (err: { code?: string }) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (current !== expected) return false;
    await writeFileAtomic(path, bytes);
    return true;
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/**
 * Read-modify-write with retries: `update` gets the current value (null when absent) and returns
 * the new one, or undefined to leave the object as it is. Conflicts retry with a short backoff;
 * after `attempts` the failure is transient (Temporal's retry policy takes over).
 */
export async function updateJson<T>(uri: string, update: (current: T | null) => T | undefined, attempts = 20): Promise<T | null> {
  for (let i = 0; i < attempts; i++) {
    const tagged = await readTagged(uri);
    const current = tagged ? (JSON.parse(Buffer.from(tagged.bytes).toString('utf8')) as T) : null;
    const next = update(current);
    if (next === undefined) return current;
    const bytes = new Uint8Array(Buffer.from(`${JSON.stringify(next, null, 2)}\n`, 'utf8'));
    if (await writeIfUnchanged(uri, bytes, tagged?.tag ?? null)) return next;
    await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 30 * (i + 1))));
  }
  throw transient(ErrorType.Conflict, `Could not update ${uri}: other writers kept changing it (${attempts} attempts); a retry may succeed.`);
}
