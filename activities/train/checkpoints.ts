/**
 * Checkpoints in the artifact store: <checkpointsUri>/step_XXXXXXXX/<files>, committed by a
 * `_COMPLETE` marker written last. A folder without the marker (an upload cut short by a lost
 * node) is ignored, so resume always starts from a whole checkpoint.
 */
import { basename, join } from 'node:path';
import { joinUri } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { downloadDirOnce, uploadDir } from '../../lib/syncDir.js';

export const COMPLETE_MARKER = '_COMPLETE';

export interface CheckpointRef {
  uri: string;
  step: number;
}

export async function latestCheckpoint(input: { checkpointsUri: string }): Promise<CheckpointRef | null> {
  const prefix = input.checkpointsUri.replace(/\/+$/, '') + '/';
  let best: CheckpointRef | null = null;
  for (const obj of await store.list(prefix)) {
    const m = /^step_(\d+)\/_COMPLETE$/.exec(obj.uri.slice(prefix.length));
    if (!m) continue;
    const step = Number(m[1]);
    if (!best || step > best.step) best = { uri: joinUri(input.checkpointsUri, `step_${m[1]}`), step };
  }
  return best;
}

/** Uploads a complete local checkpoint folder; the marker goes last. */
export async function uploadCheckpoint(localDir: string, checkpointsUri: string): Promise<string> {
  const uri = joinUri(checkpointsUri, basename(localDir));
  const files = await uploadDir(localDir, uri, { skip: (rel) => rel === COMPLETE_MARKER });
  await store.writeBytes(joinUri(uri, COMPLETE_MARKER), JSON.stringify({ files: files.length }) + '\n');
  return uri;
}

/** Downloads a checkpoint into `localParent/<step dir>` unless it is already there. */
export async function downloadCheckpoint(uri: string, localParent: string): Promise<string> {
  return downloadDirOnce(uri, join(localParent, basename(uri)));
}
