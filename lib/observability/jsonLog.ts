/**
 * Worker log lines as JSON (KILN_LOG_FORMAT=json), one object per line on stderr, for log
 * collectors: {ts, level, msg, workflowId, runId, stage, attempt, ...the SDK's other context}.
 * `stage` is the activity type (activityInterceptor.ts adds it) or, in workflow code, the
 * workflow type. The activity's task token is left out: it lets anyone complete the activity.
 */
import type { LogEntry } from '@temporalio/worker';

const DROPPED = new Set(['taskToken']);

/** An Error as plain fields (JSON.stringify gives `{}` for one). */
function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  for (const key of ['type', 'nonRetryable'] as const) if (key in err) out[key] = (err as unknown as Record<string, unknown>)[key];
  if (err.cause instanceof Error) out.cause = errorFields(err.cause);
  if (err.stack) out.stack = err.stack;
  return out;
}

export function formatJsonLog({ level, message, meta, timestampNanos }: LogEntry): string {
  const line: Record<string, unknown> = { ts: new Date(Number(timestampNanos / 1_000_000n)).toISOString(), level, msg: message };
  const m = meta ?? {};
  for (const [key, value] of Object.entries(m)) {
    if (DROPPED.has(key) || value === undefined) continue;
    const name = key === 'workflowRunId' ? 'runId' : key;
    line[name] = value instanceof Error ? errorFields(value) : value;
  }
  if (line.stage === undefined && typeof m.activityType === 'string') line.stage = m.activityType;
  if (line.stage === undefined && typeof m.workflowType === 'string') line.stage = m.workflowType;
  try {
    return JSON.stringify(line, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  } catch {
    // A circular or otherwise unserializable attribute: the line still goes out, without them.
    return JSON.stringify({ ts: line.ts, level, msg: message, workflowId: line.workflowId, runId: line.runId, stage: line.stage, attempt: line.attempt });
  }
}

export function writeJsonLog(entry: LogEntry): void {
  process.stderr.write(formatJsonLog(entry) + '\n');
}
