/**
 * Rank 0's trainer events, kept beside the checkpoints for the run report:
 *   <run dir>/metrics/<UTC start>-attempt-NNNN/part-NNNNN.jsonl   (<run dir> = checkpointsUri/..)
 * Object stores cannot append, so each flush (one per checkpoint, and one when the trainer
 * exits) writes a new part; names sort in time order, across attempts and workflow runs.
 */
import { joinUri } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { retryTransient } from '../../lib/storage/retry.js';
import { UPLOAD_PATIENCE_MS } from './checkpoints.js';

export interface MetricsEvent {
  event: string;
  /** Wall-clock time of the event on the worker (ms since epoch). */
  t: number;
  attempt: number;
  /** The attempt's folder name (set when read): attempts of different workflow runs never mix. */
  gang?: string;
  [key: string]: unknown;
}

/** The run's folder: the parent of its checkpoints folder. */
export function runDirUri(checkpointsUri: string): string {
  return checkpointsUri.replace(/\/+$/, '').replace(/\/[^/]+$/, '');
}

export function metricsDirUri(checkpointsUri: string): string {
  return joinUri(runDirUri(checkpointsUri), 'metrics');
}

export function attemptTag(attempt: number, startedAt: Date): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-attempt-${String(attempt).padStart(4, '0')}`;
}

export class MetricsLog {
  private pending: string[] = [];
  private parts = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly dir: string;

  constructor(checkpointsUri: string, private readonly attempt: number, startedAt = new Date()) {
    this.dir = joinUri(metricsDirUri(checkpointsUri), attemptTag(attempt, startedAt));
  }

  add(event: Record<string, unknown>): void {
    this.pending.push(JSON.stringify({ ...event, t: Date.now(), attempt: this.attempt }));
  }

  /** Writes what came since the last flush as a new part; flushes run one after another. */
  flush(): Promise<void> {
    if (this.pending.length === 0) return this.writing;
    const body = this.pending.join('\n') + '\n';
    this.pending = [];
    const uri = joinUri(this.dir, `part-${String(++this.parts).padStart(5, '0')}.jsonl`);
    // Through an outage of the store, as the checkpoint it goes with (checkpoints.ts).
    this.writing = this.writing.then(() => retryTransient(() => store.writeBytes(uri, body), { patienceMs: UPLOAD_PATIENCE_MS }));
    return this.writing;
  }
}

/** Every event of a run, oldest part first. Unreadable lines are skipped. */
export async function readMetrics(checkpointsUri: string): Promise<MetricsEvent[]> {
  const events: MetricsEvent[] = [];
  for (const obj of await store.list(metricsDirUri(checkpointsUri) + '/')) {
    if (!obj.uri.endsWith('.jsonl')) continue;
    const gang = obj.uri.split('/').at(-2);
    const text = new TextDecoder().decode(await store.readBytes(obj.uri));
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        events.push({ ...(JSON.parse(line) as MetricsEvent), gang });
      } catch {
        // a torn line cannot happen (writes are atomic), but a hand-edited file might have one
      }
    }
  }
  return events;
}
