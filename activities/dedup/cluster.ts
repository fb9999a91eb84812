/**
 * cluster: union-find over the exact and the (verified) near edges; in each cluster the
 * best-ranked file is kept (rank.ts). Writes the drop list of every partition and the stage's
 * _DETAILS.json (cluster sizes, the largest clusters).
 */
import { DETAILS_NAME, joinUri } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized } from '../support/stageIo.js';
import { EDGE_WIDTH, readEdges } from './edges.js';
import type { DedupPlan } from './plan.js';
import { compareRank, type RankKey } from './rank.js';
import { u32Of, workFiles, type PartitionMeta } from './workFiles.js';

export interface ClusterSummary {
  exact_duplicates: number;
  near_duplicates: number;
  /** Clusters holding near duplicates (two or more distinct contents). */
  clusters: number;
  /** Every cluster of two or more files, exact copies included. */
  duplicate_clusters: number;
  candidate_pairs: number;
  verified_pairs: number;
  exact_pairs: number;
}

/** A document's id in the union-find: partition * 2^32 + row. */
const ID_STRIDE = 2 ** 32;
const docId = (p: number, row: number) => p * ID_STRIDE + row;

class MapUnionFind {
  parent = new Map<number, number>();
  find(x: number): number {
    let root = x;
    for (let next = this.parent.get(root); next !== undefined && next !== root; next = this.parent.get(root)) root = next;
    while (x !== root) {
      const next = this.parent.get(x)!;
      this.parent.set(x, root);
      x = next;
    }
    if (!this.parent.has(root)) this.parent.set(root, root);
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(Math.max(ra, rb), Math.min(ra, rb));
  }
}

type RankedDoc = RankKey & { hash: string };

interface FileRef {
  repo: string;
  path: string;
}

export async function clusterDuplicates(store: ArtifactStore, plan: DedupPlan): Promise<ClusterSummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done('cluster'), async () => {
    const uf = new MapUnionFind();
    const pairs = await joinEdges(store, plan, uf);
    const { members, keys } = await rankKeysOf(store, plan, uf);
    const c = pickKept(members, keys, plan.partitions.length);
    for (let p = 0; p < c.drops.length; p++) await store.writeBytes(files.drops(p), JSON.stringify(c.drops[p]!.sort((a, b) => a - b)));
    const details = {
      exact_duplicates: c.exact,
      near_duplicates: c.nearDup,
      cluster_sizes: Object.fromEntries([...c.sizes].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
      largest_clusters: c.largest.slice(0, 10),
    };
    await store.writeBytes(joinUri(plan.dir, DETAILS_NAME), JSON.stringify(details, null, 2) + '\n');
    return {
      exact_duplicates: c.exact,
      near_duplicates: c.nearDup,
      clusters: c.nearClusters,
      duplicate_clusters: members.size,
      candidate_pairs: pairs.candidatePairs,
      verified_pairs: pairs.nearPairs,
      exact_pairs: pairs.exactPairs,
    };
  });
}

/**
 * Exact edges and near candidates, read once; exact edges joined first, then the near ones:
 * every candidate, or only the verified pairs (from the verify step's files).
 */
async function joinEdges(store: ArtifactStore, plan: DedupPlan, uf: MapUnionFind) {
  const files = workFiles(plan.work);
  const edges = await readEdges(store, plan);
  const onlyVerified = plan.params.near && plan.params.verify;
  const join = (e: Uint32Array, i: number) => uf.union(docId(e[i]!, e[i + 1]!), docId(e[i + 2]!, e[i + 3]!));
  let exactPairs = 0;
  for (let i = 0; i < edges.length; i += EDGE_WIDTH) {
    if (edges[i + 4] !== 1) continue;
    exactPairs++;
    join(edges, i);
  }
  const candidatePairs = edges.length / EDGE_WIDTH - exactPairs;
  let nearPairs = candidatePairs;
  if (onlyVerified) {
    nearPairs = 0;
    for (let p = 0; p < plan.partitions.length; p++) {
      const v = u32Of(await store.readBytes(files.verified(p)));
      for (let i = 0; i < v.length; i += EDGE_WIDTH) join(v, i);
      nearPairs += v.length / EDGE_WIDTH;
    }
  } else {
    for (let i = 0; i < edges.length; i += EDGE_WIDTH) if (edges[i + 4] === 0) join(edges, i);
  }
  return { exactPairs, candidatePairs, nearPairs };
}

/** Members of each cluster (by root), then their rank keys, read one partition's metadata at a time. */
async function rankKeysOf(store: ArtifactStore, plan: DedupPlan, uf: MapUnionFind) {
  const files = workFiles(plan.work);
  const members = new Map<number, number[]>();
  const byPartition = new Map<number, number[]>();
  for (const id of uf.parent.keys()) {
    const root = uf.find(id);
    let list = members.get(root);
    if (!list) members.set(root, (list = []));
    list.push(id);
    const p = Math.floor(id / ID_STRIDE);
    let inPartition = byPartition.get(p);
    if (!inPartition) byPartition.set(p, (inPartition = []));
    inPartition.push(id);
  }
  const keys = new Map<number, RankedDoc>();
  for (const [p, ids] of byPartition) {
    const meta = JSON.parse(new TextDecoder().decode(await store.readBytes(files.meta(p)))) as PartitionMeta;
    for (const id of ids) {
      const row = id - p * ID_STRIDE;
      keys.set(id, { licence: meta.licence[row]!, stars: meta.stars[row]!, path: meta.path[row]!, repo: meta.repo[row]!, partition: p, row, hash: meta.hash[row]! });
    }
  }
  return { members, keys };
}

/** Per cluster the best-ranked file is kept, the others go to their partition's drop list; counts and the largest clusters. */
function pickKept(members: Map<number, number[]>, keys: Map<number, RankedDoc>, partitions: number) {
  const drops: number[][] = Array.from({ length: partitions }, () => []);
  const sizes = new Map<number, number>();
  const largest: { size: number; kept: FileRef; removed: FileRef[] }[] = [];
  let exact = 0;
  let nearDup = 0;
  let nearClusters = 0;
  for (const ids of members.values()) {
    const ranked = ids.map((id) => keys.get(id)!).sort(compareRank);
    const distinct = new Set(ranked.map((k) => k.hash)).size;
    exact += ranked.length - distinct;
    nearDup += distinct - 1;
    if (distinct > 1) nearClusters++;
    for (const k of ranked.slice(1)) drops[k.partition]!.push(k.row);
    sizes.set(ranked.length, (sizes.get(ranked.length) ?? 0) + 1);
    largest.push({
      size: ranked.length,
      kept: { repo: ranked[0]!.repo, path: ranked[0]!.path },
      removed: ranked.slice(1, 6).map((k) => ({ repo: k.repo, path: k.path })),
    });
  }
  largest.sort((a, b) => b.size - a.size || (a.kept.repo + a.kept.path < b.kept.repo + b.kept.path ? -1 : 1));
  return { drops, sizes, largest, exact, nearDup, nearClusters };
}
