/**
 * LSH banding over MinHash signatures and union-find clustering. Documents are added in global
 * order; a document sharing a band bucket with an earlier one becomes a candidate pair, kept when
 * the signatures' estimated Jaccard similarity reaches the threshold. Each cluster's root is its
 * lowest index, the document that dedup keeps.
 */
import { estimatedJaccard, fmix32 } from './minhash.js';

/** Union-find over 0..n-1 whose root is always the smallest index of the set. */
export class MinRootUnionFind {
  private parent: Int32Array;

  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }

  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[x] !== root) {
      const next = this.parent[x]!;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
  }
}

export interface LshParams {
  numPerm: number;
  bands: number;
  rows: number;
  threshold: number;
}

export interface LshResult {
  /** Cluster root (lowest member index) of every document. */
  roots: Int32Array;
  candidatePairs: number;
  verifiedPairs: number;
}

/** Checks per (document, band bucket) before giving up on a huge bucket of dissimilar docs. */
export const MAX_CHECKS_PER_BUCKET = 256;

function bandKey(sigs: Int32Array, offset: number, rows: number, band: number): number {
  let h = 0x27d4eb2f ^ band;
  for (let r = 0; r < rows; r++) h = fmix32((h ^ sigs[offset + r]!) >>> 0) + r;
  return h >>> 0;
}

/**
 * Clusters documents 0..n-1 by their signatures in `sigs` (numPerm values each). `hasSignature`
 * marks documents that took part (those without tokens stay singletons).
 */
export function clusterSignatures(sigs: Int32Array, hasSignature: Uint8Array, n: number, params: LshParams): LshResult {
  const { numPerm, bands, rows, threshold } = params;
  const uf = new MinRootUnionFind(n);
  const buckets: Map<number, number[]>[] = Array.from({ length: bands }, () => new Map());
  let candidatePairs = 0;
  let verifiedPairs = 0;
  for (let d = 0; d < n; d++) {
    if (!hasSignature[d]) continue;
    for (let b = 0; b < bands; b++) {
      const key = bandKey(sigs, d * numPerm + b * rows, rows, b);
      const bucket = buckets[b]!.get(key);
      if (bucket === undefined) {
        buckets[b]!.set(key, [d]);
        continue;
      }
      let checks = 0;
      for (const m of bucket) {
        if (checks >= MAX_CHECKS_PER_BUCKET) break;
        if (uf.find(m) === uf.find(d)) continue;
        checks++;
        candidatePairs++;
        if (estimatedJaccard(sigs, numPerm, m, d) >= threshold) {
          verifiedPairs++;
          uf.union(m, d);
        }
      }
      bucket.push(d);
    }
  }
  const roots = new Int32Array(n);
  for (let i = 0; i < n; i++) roots[i] = uf.find(i);
  return { roots, candidatePairs, verifiedPairs };
}
