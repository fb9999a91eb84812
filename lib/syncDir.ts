// Copies whole folders between the artifact store and local disk.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
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
export async function uploadDir(localDir: string, prefixUri: string, opts: { skip?: (rel: string) => boolean } = {}): Promise<string[]> {
  const uris: string[] = [];
  for (const file of listLocalFiles(localDir)) {
    const rel = relative(localDir, file).split(sep).join('/');
    if (opts.skip?.(rel)) continue;
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

/**
 * Downloads an immutable folder (a committed stage, a checkpoint) into a local cache folder once;
 * later calls reuse it. A side folder per process makes a cut-short download invisible and lets
 * two workers on one host fetch the same folder at once.
 */
export async function downloadDirOnce(prefixUri: string, local: string): Promise<string> {
  const ready = join(local, '.complete');
  if (existsSync(ready)) return local;
  const partial = `${local}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  await downloadDir(prefixUri, partial);
  writeFileSync(join(partial, '.complete'), '');
  if (existsSync(ready)) {
    rmSync(partial, { recursive: true, force: true });
  } else {
    rmSync(local, { recursive: true, force: true });
    renameSync(partial, local);
  }
  return local;
}
