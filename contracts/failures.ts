// Readable summaries of Temporal failure chains (for status and summaries).
import { ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorType } from './errors.js';

/** One line per link of the chain, joined: "Activity task failed: Node 1 ... failed: ...". */
export function describeFailure(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur && parts.length < 4) {
    const e = cur as { message?: string; cause?: unknown };
    if (e.message) parts.push(e.message);
    cur = e.cause;
  }
  return parts.join(': ') || String(err);
}

/** A failed node of a gang: its rank, the worker it ran on, and how its activity failed. */
export interface NodeFailure {
  rank: number;
  workerId?: string;
  error: unknown;
}

/**
 * What stopped a gang, root cause first. When one node dies, its peers' trainers fail too
 * ("connection closed by peer", torchrun exits 1), often before the lost node is noticed; so a
 * lost, hung or shut-down node, or a fatal error, is named before plain trainer exits. Within a
 * kind, the first to fail comes first. The others follow on one line each.
 */
export function describeGangFailure(failures: NodeFailure[]): string {
  if (failures.length === 0) return 'a node stopped without finishing';
  const [cause, ...rest] = rootCauseFirst(failures).map(describeNodeFailure);
  return rest.length === 0 ? cause! : `${cause}\n(then: ${rest.map((r) => r.split('\n')[0]).join('; ')})`;
}

/** A gang stopped because a worker was shut down (its trainer asked to checkpoint first), not because something broke. */
export function isDrain(failures: NodeFailure[]): boolean {
  const cause = causeOf(rootCauseFirst(failures)[0]?.error);
  return cause instanceof ApplicationFailure && cause.type === ErrorType.NodeShutdown;
}

function rootCauseFirst(failures: NodeFailure[]): NodeFailure[] {
  return failures.map((f, i) => ({ f, i, weight: isRootCause(f.error) ? 0 : 1 })).sort((a, b) => a.weight - b.weight || a.i - b.i).map(({ f }) => f);
}

function describeNodeFailure(f: NodeFailure): string {
  const timeout = causeOf(f.error);
  if (timeout instanceof TimeoutFailure) {
    const where = `Node ${f.rank}${f.workerId ? ` (worker ${f.workerId})` : ''}`;
    if (timeout.timeoutType === 'HEARTBEAT') return `${where} was lost: its worker stopped sending heartbeats.`;
    if (timeout.timeoutType === 'SCHEDULE_TO_START') return `${where} was lost: its worker did not start the node.`;
    return `${where} timed out (${timeout.timeoutType ?? 'unknown timeout'}).`;
  }
  const app = timeout instanceof ApplicationFailure ? timeout : undefined;
  return app ? app.message : describeFailure(f.error);
}

/** A node's error that no restart can fix (bad data, NaN loss): it ends the run. */
export function isFatal(err: unknown): boolean {
  const cause = causeOf(err);
  return cause instanceof ApplicationFailure && cause.nonRetryable === true;
}

function isRootCause(err: unknown): boolean {
  const cause = causeOf(err);
  if (cause instanceof TimeoutFailure || isFatal(err)) return true;
  return cause instanceof ApplicationFailure && (cause.type === ErrorType.NodeHung || cause.type === ErrorType.NodeShutdown);
}

/** The activity failure's cause (ActivityFailure wraps what the activity threw or how it timed out). */
function causeOf(err: unknown): unknown {
  return (err as { cause?: unknown })?.cause ?? err;
}
