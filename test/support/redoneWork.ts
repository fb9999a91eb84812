/**
 * What a fault cost, read from a workflow's history: the activities that completed only on a
 * later attempt (their earlier attempts' work was redone), with the rows their result reports
 * (`rowsIn` or `rows`, as the data stages' parts return them).
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { decodePayloads } from '../../lib/security/dataConverter.js';

export interface RedoneActivity {
  type: string;
  /** The attempt that completed (> 1). */
  attempt: number;
  /** Rows the activity handled (and so handled again), when its result says. */
  rows?: number;
}

export async function redoneActivities(history: temporal.api.history.v1.IHistory): Promise<RedoneActivity[]> {
  const types = new Map<string, string>();
  const attempts = new Map<string, number>();
  const out: RedoneActivity[] = [];
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) types.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) attempts.set(String(started.scheduledEventId), started.attempt ?? 1);
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const scheduled = String(done.scheduledEventId);
      const attempt = attempts.get(scheduled) ?? 1;
      if (attempt <= 1) continue;
      const [payload] = await decodePayloads(done.result?.payloads ?? []);
      const result = payload ? (defaultPayloadConverter.fromPayload(payload) as Record<string, unknown> | null) : null;
      const rows = Number(result?.rowsIn ?? result?.rows);
      out.push({ type: types.get(scheduled) ?? '?', attempt, ...(Number.isFinite(rows) ? { rows } : {}) });
    }
  }
  return out;
}

/** One line for the closing note: "2 activities redone (cleanPart@3, cleanPart@3), 1234 rows". */
export function describeRedone(redone: RedoneActivity[]): string {
  if (redone.length === 0) return 'nothing redone';
  const counted = redone.filter((r) => r.rows !== undefined);
  const rows = counted.length ? `, ${counted.reduce((n, r) => n + r.rows!, 0)} rows` : ' (their results count no rows)';
  return `${redone.length} activities redone (${redone.map((r) => `${r.type}@${r.attempt}`).join(', ')})${rows}`;
}
