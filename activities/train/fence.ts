/**
 * Fencing of checkpoint commits, so that two gangs never both commit to one run's checkpoints.
 *
 * `<checkpointsUri>/_FENCE.json` holds the newest gang's epoch. Rank 0 of every gang raises it by
 * compare-and-swap (lib/registry/conditional.ts: If-Match on s3://, a lock file on file://) before
 * it picks the checkpoint to resume from; each commit of that gang first checks that the epoch is
 * still its own. A gang cut off from Temporal and replaced (its heartbeats timed out, a new gang
 * started elsewhere) is thus refused at its next file, even if it never learns it was replaced.
 *
 * Why an epoch from the store and not the workflow's attempt number: the checkpoints folder is
 * named by the run's inputs (runKey), so a later workflow run of the same inputs resumes there
 * with its attempts counting from 1 again; the epoch only ever grows. Each epoch records the
 * attempt and workflow that raised it, for people reading the folder.
 */
import { ErrorType, transient } from '../../contracts/errors.js';
import { joinUri } from '../../lib/manifest.js';
import { updateJson } from '../../lib/registry/conditional.js';
import { store } from '../../lib/storage/index.js';

export const FENCE_FILE = '_FENCE.json';

export interface GangFence {
  /** Grows by one at every gang start; a commit of an older epoch is refused. */
  epoch: number;
  attempt: number;
  workflowId: string;
  worker?: string;
  /** When the gang raised it (ISO time, the worker's clock). */
  at: string;
}

export function fenceUri(checkpointsUri: string): string {
  return joinUri(checkpointsUri, FENCE_FILE);
}

/** Raises the fence for a new gang: from now on only its commits are accepted. */
export async function raiseFence(checkpointsUri: string, gang: Omit<GangFence, 'epoch' | 'at'>): Promise<GangFence> {
  const raised = await updateJson<GangFence>(fenceUri(checkpointsUri), (current) => ({
    epoch: (current?.epoch ?? 0) + 1,
    ...gang,
    at: new Date().toISOString(),
  }));
  return raised!;
}

/** The current fence, or null when no gang has raised one yet. */
export async function readFence(checkpointsUri: string): Promise<GangFence | null> {
  const uri = fenceUri(checkpointsUri);
  if (!(await store.exists(uri))) return null;
  return JSON.parse(new TextDecoder().decode(await store.readBytes(uri))) as GangFence;
}

/**
 * The permission of one node to write to the run's checkpoints: lost for good once the node fences
 * itself (it cannot reach Temporal) or once a newer gang raised the fence.
 */
export class CommitGuard {
  /** Why this node may no longer commit; undefined while it may. */
  fenced: string | undefined;
  /** Told once, when the node is fenced (node.ts stops the trainer). */
  onFenced: ((why: string) => void) | undefined;

  constructor(
    private readonly checkpointsUri: string,
    /** This gang's fence; undefined on ranks that never commit. */
    private readonly mine: GangFence | undefined,
  ) {}

  /** Takes the permission away (self-fencing); the first reason is kept. */
  fence(why: string): void {
    if (this.fenced) return;
    this.fenced = why;
    this.onFenced?.(why);
  }

  /** Throws unless this node may still write; called before every file of a commit. */
  async check(): Promise<void> {
    if (!this.fenced && this.mine) {
      const current = await readFence(this.checkpointsUri);
      if (current && current.epoch > this.mine.epoch) {
        this.fence(`gang epoch ${this.mine.epoch} (attempt ${this.mine.attempt}) was replaced by epoch ${current.epoch} (attempt ${current.attempt} of ${current.workflowId}, started ${current.at})`);
      }
    }
    if (this.fenced) {
      throw transient(ErrorType.NodeFenced, `Checkpoint commit refused at ${this.checkpointsUri}: ${this.fenced}.`);
    }
  }

  /** What the commit marker records about its writer. */
  stamp(): Record<string, unknown> {
    return this.mine ? { epoch: this.mine.epoch, attempt: this.mine.attempt, worker: this.mine.worker } : {};
  }
}
