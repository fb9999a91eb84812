// What the stage activities share: the artifact store they use and how they list their input.
import { ErrorType, fatal } from '../../lib/errors.js';
import type { StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/index.js';

export interface StageDeps {
  /** The artifact store (defaults to the scheme-routing store of lib/storage). */
  store?: ArtifactStore;
}

export async function defaultStore(deps: StageDeps | undefined): Promise<ArtifactStore> {
  // Imported lazily: importing a stage module need not load the AWS SDK.
  return deps?.store ?? (await import('../../lib/storage/index.js')).store;
}

/** Path of `uri` below `dir` (`lang=python/part-00000.parquet`). */
export function relativeTo(dir: string, uri: string): string {
  const prefix = dir.replace(/\/+$/, '') + '/';
  if (!uri.startsWith(prefix)) throw fatal(ErrorType.InvalidInput, `${uri} is not inside the input stage folder ${dir}.`);
  return uri.slice(prefix.length);
}

/** Parquet outputs of an upstream stage, sorted by URI. */
export function parquetOutputs(input: StageResult): string[] {
  return input.outputs.filter((u) => /\.parquet$/i.test(u)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
