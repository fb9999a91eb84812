/**
 * Checkpoints in the artifact store: <checkpointsUri>/step_XXXXXXXX/<files>, committed by a
 * `_COMPLETE` marker written last. A folder without the marker (an upload cut short by a lost
 * node) is ignored, so resume always starts from a whole checkpoint.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { joinUri } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { retryTransient, type RetryOptions } from '../../lib/storage/retry.js';
import { downloadDirOnce, uploadDir } from '../../lib/syncDir.js';
import type { CommitGuard } from './fence.js';

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

/**
 * Uploads a complete local checkpoint folder; the marker goes last and names its writer's gang.
 * With a guard (fence.ts), every file waits for its permission: a node fenced mid-upload writes
 * nothing more, and its folder, without a marker, is never resumed from.
 */
export async function uploadCheckpoint(localDir: string, checkpointsUri: string, guard?: CommitGuard): Promise<string> {
  const uri = joinUri(checkpointsUri, basename(localDir));
  const files = await uploadDir(localDir, uri, { skip: (rel) => rel === COMPLETE_MARKER, beforeEach: async () => guard?.check() });
  await guard?.check();
  await store.writeBytes(joinUri(uri, COMPLETE_MARKER), JSON.stringify({ files: files.length, ...guard?.stamp() }) + '\n');
  return uri;
}

/**
 * How long a node keeps retrying one checkpoint's upload through an outage of the artifact store
 * (the trainer trains on meanwhile). Past it the upload fails and, once the trainer exits, so does
 * the node: the gang restarts from the last checkpoint in the store.
 */
export const UPLOAD_PATIENCE_MS = 10 * 60_000;

/**
 * `uploadCheckpoint` through an outage of the store, retried with backoff. Resolves undefined when
 * the trainer pruned the local folder meanwhile (it keeps the newest few): a newer checkpoint
 * supersedes it and is uploaded next.
 */
export async function uploadCheckpointPatiently(
  localDir: string,
  checkpointsUri: string,
  opts: Pick<RetryOptions, 'onRetry'> & { patienceMs?: number; guard?: CommitGuard } = {},
): Promise<string | undefined> {
  if (!existsSync(localDir)) return undefined;
  try {
    return await retryTransient(() => uploadCheckpoint(localDir, checkpointsUri, opts.guard), {
      patienceMs: opts.patienceMs ?? UPLOAD_PATIENCE_MS,
      // A fenced node's refusal is final: no retry brings its permission back.
      giveUp: () => !existsSync(localDir) || opts.guard?.fenced !== undefined,
      onRetry: opts.onRetry,
    });
  } catch (err) {
    if (!existsSync(localDir)) return undefined;
    throw err;
  }
}

/** Downloads a checkpoint into `localParent/<step dir>` unless it is already there. */
export async function downloadCheckpoint(uri: string, localParent: string): Promise<string> {
  return downloadDirOnce(uri, join(localParent, basename(uri)));
}
