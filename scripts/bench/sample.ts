/**
 * The shared stack-sample ingested and cleaned once into .kiln/bench-curation/artifacts (stage
 * manifests memoize it: later calls return at once), for the curation benchmark and the dedup
 * quality check.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanStage } from '../../activities/clean/index.js';
import { parquetOutputs } from '../../activities/support/stageIo.js';
import { ingestStage } from '../../activities/ingest/index.js';
import type { StageResult } from '../../lib/manifest.js';
import { readParquetTable } from '../../lib/parquet.js';
import { forEachUtf8 } from '../../lib/stackSchema.js';
import { fileUriToPath } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';

export const DEFAULT_SOURCE = pathToFileURL(resolve(repoRoot, '../shared/data/stack-sample/data')).href;
export const CACHE_ROOT = pathToFileURL(resolve(repoRoot, '.kiln/bench-curation/artifacts')).href;

export async function preparedSample(source = DEFAULT_SOURCE): Promise<{ ingest: StageResult; clean: StageResult }> {
  process.stderr.write(`ingest + clean of ${source} (memoized in ${fileUriToPath(CACHE_ROOT)})...\n`);
  const ingest = await ingestStage({ artifactsRoot: CACHE_ROOT, source, languages: [], maxRowsPerLanguage: null });
  const clean = await cleanStage({ artifactsRoot: CACHE_ROOT, input: ingest });
  return { ingest, clean };
}

/** Local paths of a stage's Parquet outputs in kiln's partition order (dedup's partitions). */
export function partitionPaths(stage: StageResult): string[] {
  return parquetOutputs(stage).map(fileUriToPath);
}

/** Calls `fn` with each document's content (raw UTF-8, a view; null for a null value) of a local Parquet file, in row order. */
export function forEachContent(path: string, fn: (bytes: Uint8Array | null) => void): void {
  for (const data of readParquetTable(readFileSync(path), path, { columns: ['content'] }).getChild('content')!.data) forEachUtf8(data, fn);
}
