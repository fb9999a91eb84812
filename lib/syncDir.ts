// Copies whole folders between the artifact store and local disk.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
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
