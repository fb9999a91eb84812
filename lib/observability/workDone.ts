/**
 * Rows and bytes a stage activity went through, read from its result: the activities already
 * return their counts to the workflow, so throughput needs no hook in each stage. Commits, plans
 * and memoized results did no reading of their own and give nothing (their parts were counted).
 *
 *   ingestPart, cleanPart, dedupFilter   { rowsIn, bytesRead? }
 *   dedupSignatures                      { rows, bytesRead }
 *   shardPart, shardPartStage            { stats: { docs } }
 *   executePart                          { samples }
 *   single-activity stages               StageResult { stats: { rows_in | docs, bytes_read } }, not reused
 */
import type { WorkDone } from './metrics.js';

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => x !== null && typeof x === 'object' && !Array.isArray(x);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined);

/** Activities whose result sums what other activities did. */
const SUMMING = /(Plan|Commit|Gate|Report)$/;

function isStageResult(r: Obj): boolean {
  return typeof r.manifestUri === 'string' && isObj(r.stats) && typeof r.reused === 'boolean';
}

export function workDone(activityType: string, result: unknown): WorkDone {
  if (!isObj(result) || SUMMING.test(activityType)) return {};
  if (isStageResult(result)) {
    if (result.reused) return {};
    const s = result.stats as Obj;
    return { rows: num(s.rows_in) ?? num(s.docs), bytes: num(s.bytes_read) };
  }
  const rows = num(result.rowsIn) ?? num(result.rows) ?? num(result.samples) ?? (isObj(result.stats) ? num(result.stats.docs) : undefined);
  return { rows, bytes: num(result.bytesRead) };
}
