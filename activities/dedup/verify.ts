/**
 * verify(p), optional: of the near candidates whose first document is in partition p, the pairs
 * whose signatures agree on at least the threshold's share of permutations.
 */
import type { ArtifactStore } from '../../lib/storage/types.js';
import { memoized } from '../support/stageIo.js';
import { yieldToEventLoop } from '../support/heartbeat.js';
import { EDGE_WIDTH, readEdges } from './edges.js';
import { signatureAgreement } from './minhash.js';
import type { DedupPlan } from './plan.js';
import { bytesOf, decodeSignatures, U32Builder, workFiles, type SignatureFile } from './workFiles.js';

export interface VerifySummary {
  checked: number;
  kept: number;
}

export async function verifyPartition(store: ArtifactStore, plan: DedupPlan, p: number): Promise<VerifySummary> {
  const files = workFiles(plan.work);
  return memoized(store, files.done(`verify-${p}`), async () => {
    const mineOnly = (await store.list(files.nearEdgesOf(p))).map((o) => o.uri).sort();
    const edges = await readEdges(store, plan, mineOnly);
    const mine = decodeSignatures(await store.readBytes(files.signatures(p)));
    // Edges grouped by the other endpoint's partition: one other signature file in memory at a time.
    const byOther = new Map<number, number[]>();
    for (let i = 0; i < edges.length; i += EDGE_WIDTH) {
      const q = edges[i + 2]!;
      let list = byOther.get(q);
      if (!list) byOther.set(q, (list = []));
      list.push(i);
    }
    const kept = new U32Builder(256);
    const P = plan.params.numPerm;
    for (const [q, list] of [...byOther].sort((a, b) => a[0] - b[0])) {
      const other: SignatureFile = q === p ? mine : decodeSignatures(await store.readBytes(files.signatures(q)));
      for (const i of list) {
        const ra = edges[i + 1]!;
        const rb = edges[i + 3]!;
        if (signatureAgreement(mine.sigs, ra * P, other.sigs, rb * P, P) >= plan.params.threshold) kept.push(p, ra, q, rb, 0);
      }
      await yieldToEventLoop();
    }
    await store.writeBytes(files.verified(p), bytesOf(kept.view()));
    return { checked: edges.length / EDGE_WIDTH, kept: kept.length / EDGE_WIDTH };
  });
}
