/**
 * The records the dedup steps pass each other: band keys (sign -> bucket) and edges (bucket ->
 * verify -> cluster). Edge records are [partitionA, rowA, partitionB, rowB, kind] with
 * (A) < (B); kind 1 exact, 0 near.
 */
import type { ArtifactStore } from '../../lib/storage/types.js';
import type { DedupPlan } from './plan.js';
import { u32Of, U32Builder, workFiles } from './workFiles.js';

/** Numbers per edge record. */
export const EDGE_WIDTH = 5;

/** Band id of the exact-duplicate "band" (the content hash). */
export const EXACT_BAND = 0xffffffff;

/** Edges in `uris` (by default every reducer's), each pair and kind once. */
export async function readEdges(store: ArtifactStore, plan: DedupPlan, uris?: string[]): Promise<Uint32Array> {
  const files = workFiles(plan.work);
  const out = new U32Builder(1024);
  const seen = new Set<string>();
  for (const uri of uris ?? Array.from({ length: plan.reducers }, (_, k) => files.edges(k))) {
    const e = u32Of(await store.readBytes(uri));
    for (let i = 0; i < e.length; i += EDGE_WIDTH) {
      const id = `${e[i]},${e[i + 1]},${e[i + 2]},${e[i + 3]},${e[i + 4]}`;
      if (seen.has(id)) continue; // the same pair from another band
      seen.add(id);
      out.push(e[i]!, e[i + 1]!, e[i + 2]!, e[i + 3]!, e[i + 4]!);
    }
  }
  return out.view();
}
