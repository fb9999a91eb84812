// Copies whole folders between the artifact store and local disk.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { ErrorType, fatal } from '../contracts/errors.js';
import { joinUri } from './manifest.js';
import { store } from './storage/index.js';

export function listLocalFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? listLocalFiles(p) : [p];
    })
    .sort();
}

/** Uploads every file under `localDir` to `prefixUri`, keeping relative paths. Returns the URIs. */
/** `beforeEach` runs before each file's upload (a fenced writer's permission check); a throw stops the upload. */
export async function uploadDir(localDir: string, prefixUri: string, opts: { skip?: (rel: string) => boolean; beforeEach?: () => Promise<void> } = {}): Promise<string[]> {
  const uris: string[] = [];
  for (const file of listLocalFiles(localDir)) {
    const rel = relative(localDir, file).split(sep).join('/');
    if (opts.skip?.(rel)) continue;
    await opts.beforeEach?.();
    const uri = joinUri(prefixUri, rel);
    await store.upload(file, uri);
    uris.push(uri);
  }
  return uris;
}

/** Downloads every object under `prefixUri` into `localDir`, keeping relative paths. */
export async function downloadDir(prefixUri: string, localDir: string): Promise<string[]> {
  const prefix = prefixUri.replace(/\/+$/, '') + '/';
  const files: string[] = [];
  for (const obj of await store.list(prefix)) {
    const rel = obj.uri.slice(prefix.length);
    const local = join(localDir, ...rel.split('/').map(decodeURIComponentSafe));
    mkdirSync(dirname(local), { recursive: true });
    await store.download(obj.uri, local);
    files.push(local);
  }
  return files;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Written last into a downloaded folder: a folder without it is incomplete. */
const COMPLETE = '.complete';

/**
 * Downloads an immutable folder (a committed stage, a checkpoint) into a local cache folder once;
 * later calls reuse it. Each process downloads into a side folder of its own and moves it into
 * place in one rename, so a cut-short download is never seen and two workers on one host may
 * fetch the same folder at once: the first to finish publishes, the other drops its copy.
 */
export async function downloadDirOnce(prefixUri: string, local: string): Promise<string> {
  if (existsSync(join(local, COMPLETE))) return local;
  const partial = `${local}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  const files = await downloadDir(prefixUri, partial);
  if (files.length === 0) throw fatal(ErrorType.NotFound, `No objects under ${prefixUri}: expected a folder (a committed stage or a checkpoint) there, found nothing.`);
  writeFileSync(join(partial, COMPLETE), '');
  renameIntoPlace(partial, local);
  return local;
}


/**
 * Moves a complete folder to `local`. A published folder is never removed: another process may
 * be reading it (a trainer started on it). Only an incomplete one (left by an older layout) is
 * set aside first.
 */
export function renameIntoPlace(partial: string, local: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      renameSync(partial, local); // atomic; replaces a missing or empty folder only
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 3) throw err;
    }
    if (existsSync(join(local, COMPLETE))) {
      rmSync(partial, { recursive: true, force: true }); // someone else published first
      return;
    }
    const stale = `${local}.stale-${process.pid}`;
    try {
      renameSync(local, stale);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // set aside by another process
    }
    rmSync(stale, { recursive: true, force: true });
  }
}
