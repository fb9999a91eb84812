/** One part of the stage: the clean of one input file into the stage folder. */
import { describeBytes, joinUri, type ManifestFile } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows, type StackRow } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { withHeartbeat, yieldToEventLoop } from '../support/heartbeat.js';
import { defaultStore, memoized, relativeTo, type StageDeps } from '../support/stageIo.js';
import { createFilterContext } from './context.js';
import { emptyCleanCounts, type CleanCounts } from './details.js';
import { partMarker, type CleanPartResult, type CleanPlan } from './plan.js';
import type { FilterContext } from './reasons.js';
import { cleanRows } from './rows.js';

const YIELD_EVERY_ROWS = 500;

/** Cleans one input file of the plan into the stage folder (same relative path); counts go to `counts`. */
export async function cleanFile(
  store: ArtifactStore,
  plan: CleanPlan,
  uri: string,
  counts: CleanCounts,
  ctx: FilterContext,
): Promise<{ output?: ManifestFile; bytesRead: number; bytesWritten: number }> {
  const { params } = plan;
  const out = joinUri(plan.stage.dir, relativeTo(plan.inputDir, uri));
  const bytes = await store.readBytes(uri);
  const table = readParquetTable(bytes, uri);
  assertStackSchema(table, uri);
  const rows = tableToRows(table);
  const kept: StackRow[] = [];
  for (let i = 0; i < rows.length; i += YIELD_EVERY_ROWS) {
    kept.push(...cleanRows(rows.slice(i, i + YIELD_EVERY_ROWS), params, counts, ctx));
    await yieldToEventLoop(); // lets heartbeats and cancellation through
  }
  if (kept.length === 0) return { bytesRead: bytes.byteLength, bytesWritten: 0 };
  const data = writeParquetTable(rowsToTable(kept));
  await store.writeBytes(out, data);
  return { output: describeBytes(out, data, kept.length), bytesRead: bytes.byteLength, bytesWritten: data.byteLength };
}

/** Cleans the plan's file `index`; a finished part is recorded and not redone on a retry. */
export async function cleanPart(plan: CleanPlan, index: number, deps?: StageDeps): Promise<{ index: number; rowsIn: number; kept: number; bytesRead: number }> {
  const store = await defaultStore(deps);
  const result = await memoized(store, partMarker(plan, index), async (): Promise<CleanPartResult> => {
    const uri = plan.files[index]!;
    const { ctx } = await createFilterContext(plan.params, store);
    try {
      const counts = emptyCleanCounts();
      const timings: Record<string, number> = {};
      ctx.timings = timings;
      const done = await withHeartbeat(
        () => cleanFile(store, plan, uri, counts, ctx),
        () => ({ file: uri, rowsIn: counts.rowsIn, kept: counts.kept }),
      );
      return { index, ...done, counts, syntax: ctx.syntax?.counts, decontamination: ctx.benchmarks?.dropped, timings };
    } finally {
      ctx.syntax?.dispose();
    }
  });
  // bytesRead: for the worker's throughput metrics (lib/observability/workDone.ts).
  return { index, rowsIn: result.counts.rowsIn, kept: result.counts.kept, bytesRead: result.bytesRead };
}
