/**
 * bucket(k): per reducer, its band-key records from every partition sorted; documents sharing a
 * key (a band bucket) become candidate edges. With verification on, the near candidates are also
 * written by their first partition, so that verify(p) reads its own only.
 */
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized } from '../support/stageIo.js';
import { EDGE_WIDTH, EXACT_BAND } from './edges.js';
import type { DedupPlan } from './plan.js';
import { bytesOf, u32Of, U32Builder, workFiles } from './workFiles.js';

export interface BucketSummary {
  records: number;
  /** Band buckets holding two or more documents. */
  sharedBuckets: number;
  edges: number;
}

/** With verification, each member of a band bucket is checked against this many members before it. */
const VERIFY_WINDOW = 8;

/** One reducer's band-key records, column by column. */
interface BandRecords {
  total: number;
  band: Uint32Array;
  k1: Uint32Array;
  k2: Uint32Array;
  part: Uint32Array;
  row: Uint32Array;
}

export async function bucketReducer(store: ArtifactStore, plan: DedupPlan, k: number): Promise<BucketSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`bucket-${k}`), async () => {
    const records = await readBandRecords(store, plan, k);
    const { edges: all, sharedBuckets } = candidateEdges(records, sortedOrder(records), plan.params.verify);
    await store.writeBytes(files.edges(k), bytesOf(all));
    if (plan.params.near && plan.params.verify) await writeNearEdgesByPartition(store, plan, k, all);
    return { records: records.total, sharedBuckets, edges: all.length / EDGE_WIDTH };
  });
}

/** Records of reducer k from every partition: [band, key1, key2, row] + partition. */
async function readBandRecords(store: ArtifactStore, plan: DedupPlan, k: number): Promise<BandRecords> {
  const files = workFiles(plan.work);
  const parts: Uint32Array[] = [];
  let total = 0;
  for (let p = 0; p < plan.partitions.length; p++) {
    const r = u32Of(await store.readBytes(files.bands(p, k)));
    parts.push(r);
    total += r.length / 4;
  }
  const band = new Uint32Array(total);
  const k1 = new Uint32Array(total);
  const k2 = new Uint32Array(total);
  const part = new Uint32Array(total);
  const row = new Uint32Array(total);
  let n = 0;
  parts.forEach((r, p) => {
    for (let i = 0; i < r.length; i += 4) {
      band[n] = r[i]!;
      k1[n] = r[i + 1]!;
      k2[n] = r[i + 2]!;
      part[n] = p;
      row[n] = r[i + 3]!;
      n++;
    }
  });
  return { total, band, k1, k2, part, row };
}

/** Record indices sorted by (band, key, partition, row): each bucket's members together, in document order. */
function sortedOrder({ total, band, k1, k2, part, row }: BandRecords): Uint32Array {
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((a, b) => band[a]! - band[b]! || k1[a]! - k1[b]! || k2[a]! - k2[b]! || part[a]! - part[b]! || row[a]! - row[b]!);
  return order;
}

/** The edges of every bucket holding two or more documents, each once. */
function candidateEdges({ total, band, k1, k2, part, row }: BandRecords, order: Uint32Array, verify: boolean) {
  const edges = new U32Builder(1024);
  const seen = new Set<string>();
  let sharedBuckets = 0;
  const addEdge = (i: number, j: number, kind: number) => {
    // i precedes j in (partition, row) order within a bucket
    const id = `${part[i]},${row[i]},${part[j]},${row[j]},${kind}`;
    if (seen.has(id)) return;
    seen.add(id);
    edges.push(part[i]!, row[i]!, part[j]!, row[j]!, kind);
  };
  for (let start = 0; start < total; ) {
    const s = order[start]!;
    let end = start + 1;
    while (end < total && band[order[end]!] === band[s] && k1[order[end]!] === k1[s] && k2[order[end]!] === k2[s]) end++;
    if (end - start > 1) {
      sharedBuckets++;
      const exact = band[s] === EXACT_BAND;
      // Exact duplicates and unverified candidates: a star from the bucket's first member.
      // Verified candidates: each member against the few before it, so a dissimilar first
      // member does not hide the similar pairs behind it.
      const window = exact || !verify ? 0 : VERIFY_WINDOW;
      for (let m = start + 1; m < end; m++) {
        if (window === 0) addEdge(order[start]!, order[m]!, exact ? 1 : 0);
        else for (let q = Math.max(start, m - window); q < m; q++) addEdge(order[q]!, order[m]!, 0);
      }
    }
    start = end;
  }
  return { edges: edges.view(), sharedBuckets };
}

/** Reducer k's near candidates again, one file per first partition. */
async function writeNearEdgesByPartition(store: ArtifactStore, plan: DedupPlan, k: number, all: Uint32Array): Promise<void> {
  const files = workFiles(plan.work);
  const byPartition = new Map<number, U32Builder>();
  for (let i = 0; i < all.length; i += EDGE_WIDTH) {
    if (all[i + 4] !== 0) continue;
    let out = byPartition.get(all[i]!);
    if (!out) byPartition.set(all[i]!, (out = new U32Builder(64)));
    out.push(all[i]!, all[i + 1]!, all[i + 2]!, all[i + 3]!, 0);
  }
  for (const [p, out] of byPartition) await store.writeBytes(files.nearEdges(p, k), bytesOf(out.view()));
}
