// What the stage activities share: the artifact store they use and how they list their input.
import { ErrorType, fatal } from '../../contracts/errors.js';
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

/**
 * One step of a stage spread over activities: runs `compute` unless its marker exists, then
 * writes the marker (what the step returns). A retry or a re-run finds the marker and returns
 * it; the stage folder is content-addressed, so a marker can only describe these same inputs.
 */
export async function memoized<T>(store: ArtifactStore, marker: string, compute: () => Promise<T>): Promise<T> {
  if (await store.exists(marker)) {
    try {
      return JSON.parse(new TextDecoder().decode(await store.readBytes(marker))) as T;
    } catch {
      // a torn marker is no marker: redo the step
    }
  }
  const result = await compute();
  await store.writeBytes(marker, JSON.stringify(result));
  return result;
}
