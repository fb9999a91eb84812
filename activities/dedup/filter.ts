/** filter(p): per input file, the rows cluster did not drop, written under the stage folder (a file that loses nothing is copied). */
import { describeBytes, joinUri, type ManifestFile } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows } from '../../lib/stackSchema.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized, relativeTo } from '../support/stageIo.js';
import type { DedupPlan } from './plan.js';
import { workFiles } from './workFiles.js';

export interface FilterSummary {
  file: ManifestFile | null;
  rowsIn: number;
  kept: number;
  bytesWritten: number;
}

export async function filterPartition(store: ArtifactStore, plan: DedupPlan, p: number): Promise<FilterSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`filter-${p}`), async () => {
    const uri = plan.partitions[p]!;
    const drops = JSON.parse(new TextDecoder().decode(await store.readBytes(files.drops(p)))) as number[];
    const bytes = await store.readBytes(uri);
    const table = readParquetTable(bytes, uri, { limit: 0 });
    assertStackSchema(table, uri);
    const rowsIn = readParquetTable(bytes, uri, { columns: ['hexsha'] }).numRows;
    const dropped = new Set(drops);
    const keep: number[] = [];
    for (let r = 0; r < rowsIn; r++) if (!dropped.has(r)) keep.push(r);
    if (keep.length === 0) return { file: null, rowsIn, kept: 0, bytesWritten: 0 };
    const out = joinUri(plan.dir, relativeTo(plan.inputDir, uri));
    // A file that loses no row is copied as is (it is already a kiln Parquet file in this schema).
    const data = keep.length === rowsIn ? bytes : writeParquetTable(rowsToTable(tableToRows(readParquetTable(bytes, uri), keep)));
    await store.writeBytes(out, data);
    return { file: describeBytes(out, data, keep.length), rowsIn, kept: keep.length, bytesWritten: data.byteLength };
  });
}
