/**
 * Finds the data stages a finished stage was made from, through the `inputs` of the manifests
 * (`{ stage, fingerprint }` -> `<root>/stages/<stage>/<fingerprint[:16]>`): give the dedup folder
 * (or any stage below it, e.g. shard) and get ingest, clean and dedup back.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { readManifest, stageDir, toStageResult, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';

export const DATA_STAGES = ['ingest', 'clean', 'dedup'] as const;
export type DataStageName = (typeof DATA_STAGES)[number];

export interface StageChain {
  stages: Partial<Record<DataStageName, StageResult>>;
  /** Upstream folders named by a manifest but missing (e.g. removed), for a warning. */
  missing: string[];
}

function upstreamRefs(inputs: unknown[]): { stage: string; fingerprint: string }[] {
  return inputs.flatMap((i) => {
    const o = i as { stage?: unknown; fingerprint?: unknown } | null;
    return o && typeof o.stage === 'string' && typeof o.fingerprint === 'string' ? [{ stage: o.stage, fingerprint: o.fingerprint }] : [];
  });
}

export async function findStageChain(store: ArtifactStore, artifactsRoot: string, dir: string): Promise<StageChain> {
  const chain: StageChain = { stages: {}, missing: [] };
  const start = await readManifest(store, dir);
  if (!start) throw fatal(ErrorType.NotFound, `no _MANIFEST.json in ${dir}: pass the folder of a finished stage (<root>/stages/<stage>/<fingerprint>).`);
  const seen = new Set<string>();
  const queue = [{ dir, manifest: start }];
  while (queue.length) {
    const { dir: at, manifest } = queue.shift()!;
    if (seen.has(at)) continue;
    seen.add(at);
    if ((DATA_STAGES as readonly string[]).includes(manifest.stage) && !chain.stages[manifest.stage as DataStageName]) {
      chain.stages[manifest.stage as DataStageName] = toStageResult(at, manifest, true);
    }
    for (const ref of upstreamRefs(manifest.inputs ?? [])) {
      const upDir = stageDir(artifactsRoot, ref.stage, ref.fingerprint);
      const up = await readManifest(store, upDir);
      if (up) queue.push({ dir: upDir, manifest: up });
      else chain.missing.push(upDir);
    }
  }
  return chain;
}
