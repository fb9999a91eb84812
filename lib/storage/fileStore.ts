/**
 * `file://` artifact store: a local (or network-mounted) directory tree.
 *
 * URIs: `file:///abs/path`. Paths are percent-encoded the way `pathToFileURL` writes them
 * (`file:///tmp/a%20b/graphviz-(dot)`), and raw spellings (`file:///tmp/a b/graphviz-(dot)`, as
 * `joinUri` builds them) are accepted too: `%XX` sequences are decoded, everything else is taken
 * literally (so `#` and `?` are part of the name, never a fragment or a query). `list()` returns the
 * canonical encoded form, which every method accepts.
 *
 * Writes are atomic: a temporary file in the destination directory, fsync, then rename(2). Readers
 * see the old object or the new one, never a partial one. Leftover temporaries of a crashed writer
 * are hidden from `list()`.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, fatal, transient } from '../../contracts/errors.js';
import { byUri, type ArtifactStore, type ObjectInfo } from './types.js';

const TMP_MARK = '.kiln-tmp-';

/** `file:` URI -> absolute local path. Throws fatal Unsupported for anything else. */
export function fileUriToPath(uri: string): string {
  const m = /^file:(?:\/\/([^/]*))?(\/.*)$/i.exec(uri);
  if (m === null || (m[1] !== undefined && m[1] !== '' && m[1].toLowerCase() !== 'localhost')) {
    throw fatal(ErrorType.Unsupported, `Expected a local file:///absolute/path URI, got \`${uri}\`.`);
  }
  return resolve(decodePercents(m[2]!));
}

/** Absolute local path -> canonical `file://` URI (percent-encoded like `pathToFileURL`). */
export function pathToFileUri(path: string): string {
  return pathToFileURL(resolve(path)).href;
}

function decodePercents(s: string): string {
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run; // not UTF-8: keep literally
    }
  });
}

/** A temporary sibling of `finalPath` (same directory, so rename(2) is atomic). */
export function tmpPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath).slice(0, 80)}${TMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
}

function isTmpName(name: string): boolean {
  return name.startsWith('.') && name.includes(TMP_MARK);
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * Maps a local file-system error to kiln's error family: missing -> NotFound, permissions ->
 * AccessDenied, a directory where an object was expected -> InvalidInput, a full disk -> retryable
 * KilnStoreFull. Anything else (EIO, a stale NFS handle...) is returned unchanged and so stays retryable.
 */
export function fsError(err: unknown, what: string, mode: 'read' | 'write'): unknown {
  switch (errCode(err)) {
    case 'ENOENT':
      return mode === 'read'
        ? fatal(ErrorType.NotFound, `No object at ${what}.`)
        : fatal(ErrorType.NotFound, `Cannot write ${what}: a parent directory vanished or does not exist.`);
    case 'EEXIST': // mkdir -p through a path component that is a file
    case 'ENOTDIR':
      return mode === 'read'
        ? fatal(ErrorType.NotFound, `No object at ${what} (a parent path is a file).`)
        : fatal(ErrorType.InvalidInput, `Cannot write ${what}: a parent path is a file, not a directory.`);
    case 'EACCES':
    case 'EPERM':
      return fatal(ErrorType.AccessDenied, `Permission denied ${mode === 'read' ? 'reading' : 'writing'} ${what}.`);
    case 'EROFS':
      return fatal(ErrorType.AccessDenied, `Cannot write ${what}: read-only file system.`);
    case 'EISDIR':
      return fatal(ErrorType.InvalidInput, `${what} is a directory, not an object.`);
    case 'ENOSPC':
    case 'EDQUOT':
      // Retryable: once an operator frees space (or raises the quota) the next attempt goes on.
      return retryable(`No space left on the device (or quota) holding ${what}: free space there; the write is retried, and nothing partial was kept.`, ErrorType.StoreFull);
    default:
      return err;
  }
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Writes `data` to `path` atomically (mkdir -p, temporary sibling, fsync, rename). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, label = path): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw fsError(err, label, 'write');
  }
  const tmp = tmpPathFor(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await removeQuietly(tmp);
    throw fsError(err, label, 'write');
  }
}

/**
 * Streams `source` into `path` atomically. When `expectedBytes` is given, a short stream (a dropped
 * connection that still ended cleanly) fails with a retryable error instead of committing a truncated
 * file. Errors from `source` are passed to `sourceError` for mapping; local errors map via fsError.
 */
export async function streamToFileAtomic(
  source: AsyncIterable<Uint8Array>,
  path: string,
  opts: { label?: string; expectedBytes?: number; sourceError?: (err: unknown) => unknown } = {},
): Promise<number> {
  const label = opts.label ?? path;
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw fsError(err, path, 'write');
  }
  const tmp = tmpPathFor(path);
  let written = 0;
  const out = createWriteStream(tmp, { flags: 'wx' });
  // Which side failed? pipeline() forwards a source error to `out` too, so compare error objects.
  let outErr: unknown;
  let sourceErr: unknown;
  let shortRead: Error | undefined;
  out.on('error', (e) => {
    outErr ??= e;
  });
  try {
    await pipeline(
      source,
      async function* count(chunks: AsyncIterable<Uint8Array>) {
        try {
          for await (const c of chunks) {
            written += c.byteLength;
            yield c;
          }
        } catch (e) {
          sourceErr = e;
          throw e;
        }
      },
      out,
    );
    if (opts.expectedBytes !== undefined && written !== opts.expectedBytes) {
      throw (shortRead = retryable(`Transfer of ${label} ended early: got ${written} of ${opts.expectedBytes} bytes.`));
    }
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    return written;
  } catch (err) {
    await removeQuietly(tmp);
    if (isKilnFailure(err) || err === shortRead) throw err;
    if (outErr !== undefined && outErr !== sourceErr) throw fsError(err, path, 'write');
    throw opts.sourceError ? opts.sourceError(err) : err;
  }
}

export function isKilnFailure(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure;
}

/**
 * A failure that a retry may fix (network, an unavailable server, a full disk): a retryable
 * ApplicationFailure, so its type shows in the Temporal UI and in a pending activity's last failure.
 */
export function retryable(message: string, type: ErrorType = ErrorType.StoreUnavailable): ApplicationFailure {
  return transient(type, message);
}

export class FileStore implements ArtifactStore {
  async readBytes(uri: string): Promise<Uint8Array> {
    const path = fileUriToPath(uri);
    try {
      const buf = await readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw fsError(err, uri, 'read');
    }
  }

  async writeBytes(uri: string, data: Uint8Array | string): Promise<void> {
    await writeFileAtomic(fileUriToPath(uri), data, uri);
  }

  async download(uri: string, localPath: string): Promise<void> {
    const src = fileUriToPath(uri);
    const dst = resolve(localPath);
    try {
      const st = await stat(src);
      if (!st.isFile()) throw fatal(ErrorType.InvalidInput, `${uri} is a directory, not an object.`);
    } catch (err) {
      throw isKilnFailure(err) ? err : fsError(err, uri, 'read');
    }
    if (src === dst) return;
    await copyAtomic(src, dst, uri, dst);
  }

  async upload(localPath: string, uri: string): Promise<void> {
    const src = resolve(localPath);
    const dst = fileUriToPath(uri);
    try {
      const st = await stat(src);
      if (!st.isFile()) throw fatal(ErrorType.InvalidInput, `Local path ${src} is a directory, not a file.`);
    } catch (err) {
      throw isKilnFailure(err) ? err : fsError(err, `local file ${src}`, 'read');
    }
    if (src === dst) return;
    await copyAtomic(src, dst, src, uri);
  }

  async exists(uri: string): Promise<boolean> {
    try {
      return (await stat(fileUriToPath(uri))).isFile();
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw fsError(err, uri, 'read');
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const root = fileUriToPath(prefixUri);
    const out: ObjectInfo[] = [];
    let st;
    try {
      st = await stat(root);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw fsError(err, prefixUri, 'read');
    }
    if (st.isFile()) {
      if (!isTmpName(basename(root))) out.push({ uri: pathToFileUri(root), size: st.size });
    } else if (st.isDirectory()) {
      await walk(root, out, prefixUri);
    }
    return out.sort(byUri);
  }

  async move(srcUri: string, dstUri: string): Promise<void> {
    const src = fileUriToPath(srcUri);
    const dst = fileUriToPath(dstUri);
    try {
      await mkdir(dirname(dst), { recursive: true });
      await rename(src, dst);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' && (await this.exists(dstUri))) return; // moved by an earlier attempt
      if (code === 'EXDEV') {
        await copyAtomic(src, dst, srcUri, dstUri);
        return this.remove(srcUri);
      }
      throw fsError(err, code === 'ENOENT' ? srcUri : dstUri, code === 'ENOENT' ? 'read' : 'write');
    }
  }

  async remove(uri: string): Promise<void> {
    try {
      await unlink(fileUriToPath(uri));
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fsError(err, uri, 'write');
    }
  }
}

async function walk(dir: string, out: ObjectInfo[], label: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errCode(err) === 'ENOENT') return; // removed while listing
    throw fsError(err, label, 'read');
  }
  for (const e of entries) {
    if (isTmpName(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      await walk(p, out, label);
    } else if (e.isFile() || e.isSymbolicLink()) {
      try {
        const st = await stat(p);
        if (st.isFile()) out.push({ uri: pathToFileUri(p), size: st.size });
        else if (st.isDirectory()) await walk(p, out, label);
      } catch (err) {
        if (errCode(err) === 'ENOENT') continue; // a dangling link, or removed while listing
        throw fsError(err, label, 'read');
      }
    }
  }
}

async function copyAtomic(src: string, dst: string, srcLabel: string, dstLabel: string): Promise<void> {
  try {
    await mkdir(dirname(dst), { recursive: true });
  } catch (err) {
    throw fsError(err, dstLabel, 'write');
  }
  const tmp = tmpPathFor(dst);
  try {
    await copyFile(src, tmp);
  } catch (err) {
    await removeQuietly(tmp);
    // Which side failed? Re-check the source to name the right one.
    const srcOk = await stat(src).then(
      () => true,
      () => false,
    );
    throw fsError(err, srcOk ? dstLabel : srcLabel, srcOk ? 'write' : 'read');
  }
  try {
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dst);
  } catch (err) {
    await removeQuietly(tmp);
    throw fsError(err, dstLabel, 'write');
  }
}

/** Opens a local file as a stream, mapping a missing file to fatal NotFound before any byte moves. */
export async function openLocalForUpload(localPath: string): Promise<{ stream: Readable; size: number }> {
  const path = resolve(localPath);
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw fatal(ErrorType.InvalidInput, `Local path ${path} is a directory, not a file.`);
    size = st.size;
  } catch (err) {
    throw isKilnFailure(err) ? err : fsError(err, `local file ${path}`, 'read');
  }
  return { stream: createReadStream(path), size };
}
