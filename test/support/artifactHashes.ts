// Artifacts compared across runs in any store (file://, s3://): every object under a folder by
// relative path with its SHA-256, and a stage manifest with its run's root masked.
import { createHash } from 'node:crypto';
import { readManifest, type Manifest } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';

/**
 * SHA-256 of every object under `uri`, by relative path. Markers that name their run are listed
 * as present only: a stage's manifest (its root) and a checkpoint's `_COMPLETE` (its writer's gang).
 */
export async function hashObjects(uri: string): Promise<Record<string, string>> {
  const prefix = uri.replace(/\/+$/, '') + '/';
  const out: Record<string, string> = {};
  for (const o of await store.list(prefix)) {
    const rel = o.uri.slice(prefix.length);
    out[rel] = /(^|\/)(_MANIFEST\.json|_COMPLETE)$/.test(rel) ? 'present' : createHash('sha256').update(await store.readBytes(o.uri)).digest('hex');
  }
  return out;
}

/** A stage's manifest with `root` replaced and wall-clock timings dropped, so runs under different roots compare. */
export async function maskedManifest(dir: string, root: string): Promise<Manifest> {
  const m = await readManifest(store, dir);
  if (!m) throw new Error(`no manifest in ${dir}`);
  return JSON.parse(JSON.stringify(m).split(root).join('<root>'), (key, value) => (key === 'seconds_by_step' ? undefined : value));
}
