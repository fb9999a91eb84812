/**
 * The shared stack-sample ingested and cleaned once into .kiln/bench-curation/artifacts (stage
 * manifests memoize it: later calls return at once), for the curation benchmark and the dedup
 * quality check.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanStage } from '../../activities/clean/index.js';
import { ingestStage } from '../../activities/ingest.js';
import type { StageResult } from '../../lib/manifest.js';
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

/** Local paths of a stage's Parquet outputs in kiln's partition order (sorted by URI). */
export function partitionPaths(stage: StageResult): string[] {
  return stage.outputs
    .filter((u) => u.endsWith('.parquet'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map(fileUriToPath);
}
