// Shared steps of the stages that run a native (Python) tool: fetch inputs, run, upload outputs.
import { mkdirSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { joinUri, type ManifestFile } from '../lib/manifest.js';
import { store } from '../lib/storage/index.js';
import { listLocalFiles } from '../lib/syncDir.js';
import { createReadStream, statSync } from 'node:fs';
import { createHash } from 'node:crypto';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads objects into `dir`, named by their position so equal basenames cannot collide. */
export async function fetchAll(uris: string[], dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const locals: string[] = [];
  for (const [i, uri] of uris.entries()) {
    const local = join(dir, `${String(i).padStart(5, '0')}-${basename(decodeURIComponent(uri))}`);
    await store.download(uri, local);
    locals.push(local);
  }
  return locals;
}

/** Uploads a local output folder into a stage folder and describes each file for the manifest. */
export async function publishDir(localDir: string, stageDir: string): Promise<ManifestFile[]> {
  const outputs: ManifestFile[] = [];
  for (const file of listLocalFiles(localDir)) {
    const rel = relative(localDir, file).split(sep).join('/');
    const uri = joinUri(stageDir, rel);
    await store.upload(file, uri);
    outputs.push({ uri, bytes: statSync(file).size, sha256: await sha256File(file) });
  }
  return outputs;
}
