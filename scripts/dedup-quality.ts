/**
 * Near-dedup correctness on a Stack-format corpus (default: the shared stack-sample, ingested and
 * cleaned by kiln). Prints:
 *  - precision and recall at the threshold against exact Jaccard similarity (of the same
 *    shingle sets) over every candidate pair: the pairs of a permissive LSH (64 bands x 4 rows
 *    over kiln's 256-value signatures, which finds a pair at Jaccard 0.7 with probability
 *    1 - 1e-7) plus every pair that kiln or datasketch joined. Pair precision: share of the
 *    pairs a method joined whose exact Jaccard is >= threshold. Pair recall: share of the true
 *    pairs (exact Jaccard >= threshold) whose two files end in the same cluster.
 *  - agreement of kiln's removed set with datasketch's MinHashLSH (same threshold, 256
 *    permutations, same shingles, same keep ranking) run in the benchmark's Python venv.
 * Exact duplicates are counted once: pairs are between distinct contents.
 * Usage: npx tsx scripts/dedup-quality.ts [--source file:///...] [--seed 1234] [--threshold 0.7]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { EDGE_WIDTH } from '../activities/dedup/edges.js';
import { planDedup, type DedupPlan } from '../activities/dedup/plan.js';
import { runDedupSteps } from '../activities/dedup/run.js';
import { jaccardOfSets, shingleSet, ShingleBuffer } from '../activities/dedup/minhash.js';
import { compareRank, type RankKey } from '../activities/dedup/rank.js';
import { decodeSignatures, u32Of, workFiles, type PartitionMeta } from '../activities/dedup/workFiles.js';
import { store } from '../lib/storage/index.js';
import { benchPython, referenceScript } from './bench/venv.js';
import { DEFAULT_SOURCE, forEachContent, partitionPaths, preparedSample } from './bench/sample.js';

const { values } = parseArgs({
  options: { source: { type: 'string', default: DEFAULT_SOURCE }, seed: { type: 'string', default: '1234' }, threshold: { type: 'string', default: '0.7' } },
});
const seed = Number(values.seed);
const threshold = Number(values.threshold);
const tmp = mkdtempSync(join(tmpdir(), 'kiln-dedup-quality-'));

class UF {
  parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n).map((_, i) => i);
  }
  find(x: number): number {
    while (this.parent[x] !== x) x = this.parent[x] = this.parent[this.parent[x]!]!;
    return x;
  }
  union(a: number, b: number) {
    const ra = this.find(a), rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

const pairKey = (a: number, b: number) => (a < b ? a * 1e6 + b : b * 1e6 + a);

try {
  const { clean } = await preparedSample(values.source);
  const paths = partitionPaths(clean);

  // kiln, with and without verification of candidate pairs.
  const runs: { name: string; plan: DedupPlan }[] = [];
  for (const verify of [true, false]) {
    const start = await planDedup(store, { artifactsRoot: pathToFileURL(join(tmp, `kiln-${verify}`)).href, input: clean, params: { threshold, verify }, seed, reducers: 4 });
    if (!start.plan) throw new Error('expected a fresh plan');
    await runDedupSteps(store, start.plan);
    runs.push({ name: verify ? 'kiln (verified pairs)' : 'kiln (no verification)', plan: start.plan });
  }
  const plan = runs[0]!.plan;
  const files = workFiles(plan.work);
  const P = plan.partitions.length;

  // Global document numbers: partitions in order, rows in order.
  const metas: PartitionMeta[] = [];
  const offsets: number[] = [];
  let n = 0;
  for (let p = 0; p < P; p++) {
    const meta = JSON.parse(new TextDecoder().decode(await store.readBytes(files.meta(p)))) as PartitionMeta;
    metas.push(meta);
    offsets.push(n);
    n += meta.hash.length;
  }
  const g = (p: number, row: number) => offsets[p]! + row;

  // Keep ranking shared with datasketch: rank position of every document.
  const keys: RankKey[] = [];
  metas.forEach((m, p) => m.hash.forEach((_, row) => keys.push({ licence: m.licence[row]!, stars: m.stars[row]!, path: m.path[row]!, repo: m.repo[row]!, partition: p, row })));
  const order = keys.map((_, i) => i).sort((a, b) => compareRank(keys[a]!, keys[b]!));
  const rank = new Array<number>(n);
  order.forEach((doc, pos) => (rank[doc] = pos));

  // Distinct contents: each document's representative is the first with its content hash.
  const hashes = metas.flatMap((m) => m.hash);
  const firstOf = new Map<string, number>();
  const rep = hashes.map((h, i) => {
    const f = firstOf.get(h);
    if (f === undefined) firstOf.set(h, i);
    return f ?? i;
  });

  // Shingle sets of the representatives.
  const sets: (Uint32Array | undefined)[] = new Array(n);
  const buffer = new ShingleBuffer();
  for (let p = 0; p < P; p++) {
    let row = 0;
    forEachContent(paths[p]!, (bytes) => {
      const i = g(p, row++);
      if (rep[i] === i) sets[i] = shingleSet(bytes ?? new Uint8Array(0), plan.params.ngram, buffer);
    });
  }

  // Each method's joined pairs (between distinct contents) and removed set.
  interface Method { name: string; pairs: Set<number>; uf: UF; removed: Set<number> }
  const methods: Method[] = [];
  for (const run of runs) {
    const f = workFiles(run.plan.work);
    const uf = new UF(n);
    const pairs = new Set<number>();
    const add = (a: number, b: number) => {
      uf.union(a, b);
      const ra = rep[a]!, rb = rep[b]!;
      if (ra !== rb) pairs.add(pairKey(ra, rb));
    };
    if (run.plan.params.verify) {
      for (let p = 0; p < P; p++) {
        const e = u32Of(await store.readBytes(f.verified(p)));
        for (let i = 0; i < e.length; i += EDGE_WIDTH) add(g(e[i]!, e[i + 1]!), g(e[i + 2]!, e[i + 3]!));
      }
    }
    for (let k = 0; k < run.plan.reducers; k++) {
      const e = u32Of(await store.readBytes(f.edges(k)));
      for (let i = 0; i < e.length; i += EDGE_WIDTH) {
        if (e[i + 4] === 1) uf.union(g(e[i]!, e[i + 1]!), g(e[i + 2]!, e[i + 3]!));
        else if (!run.plan.params.verify) add(g(e[i]!, e[i + 1]!), g(e[i + 2]!, e[i + 3]!));
      }
    }
    const removed = new Set<number>();
    for (let p = 0; p < P; p++) for (const row of JSON.parse(new TextDecoder().decode(await store.readBytes(f.drops(p)))) as number[]) removed.add(g(p, row));
    methods.push({ name: run.name, pairs, uf, removed });
  }

  // datasketch, same documents, same parameters, same ranking.
  const python = benchPython();
  writeFileSync(join(tmp, 'paths.json'), JSON.stringify(paths));
  writeFileSync(join(tmp, 'ranks.json'), JSON.stringify(rank));
  process.stderr.write('datasketch MinHashLSH on the same documents...\n');
  const ds = JSON.parse(
    execFileSync(python, [referenceScript, 'dedup', '--paths', join(tmp, 'paths.json'), '--ranks', join(tmp, 'ranks.json'), '--threshold', String(threshold), '--seed', String(seed)], {
      maxBuffer: 1 << 30,
    }).toString(),
  ) as { docs: number; bands: number; rows: number; removed: number[]; edges: [number, number][] };
  if (ds.docs !== n) throw new Error(`datasketch read ${ds.docs} documents, kiln ${n}`);
  {
    const uf = new UF(n);
    const pairs = new Set<number>();
    for (let i = 0; i < n; i++) if (rep[i] !== i) uf.union(rep[i]!, i);
    for (const [a, b] of ds.edges) {
      uf.union(a, b);
      if (rep[a] !== rep[b]) pairs.add(pairKey(rep[a]!, rep[b]!));
    }
    methods.push({ name: `datasketch (${ds.bands} x ${ds.rows}, no verification)`, pairs, uf, removed: new Set(ds.removed) });
  }

  // Candidate pairs: a permissive LSH over kiln's signatures, plus every joined pair.
  const candidates = new Set<number>();
  for (const m of methods) for (const k of m.pairs) candidates.add(k);
  const BANDS = 64, ROWS = 4;
  const buckets = new Map<string, number[]>();
  for (let p = 0; p < P; p++) {
    const sig = decodeSignatures(await store.readBytes(files.signatures(p)));
    for (let row = 0; row < sig.rows; row++) {
      const i = g(p, row);
      if (!sig.has[row] || rep[i] !== i) continue;
      for (let b = 0; b < BANDS; b++) {
        const o = row * sig.numPerm + b * ROWS;
        const key = `${b}:${sig.sigs[o]},${sig.sigs[o + 1]},${sig.sigs[o + 2]},${sig.sigs[o + 3]}`;
        const list = buckets.get(key);
        if (list) list.push(i);
        else buckets.set(key, [i]);
      }
    }
  }
  for (const list of buckets.values()) for (let x = 0; x < list.length; x++) for (let y = x + 1; y < list.length; y++) candidates.add(pairKey(list[x]!, list[y]!));
  buckets.clear();

  const truth = new Set<number>();
  for (const k of candidates) {
    const a = Math.floor(k / 1e6), b = k % 1e6;
    if (jaccardOfSets(sets[a]!, sets[b]!) >= threshold) truth.add(k);
  }

  const pct = (x: number) => (100 * x).toFixed(1).padStart(6) + '%';
  console.log(`documents ${n}, distinct contents ${firstOf.size}; threshold ${threshold}; kiln LSH ${plan.params.bands} bands x ${plan.params.rows} rows, 256 permutations, seed ${seed}`);
  console.log(`candidate pairs checked with exact Jaccard: ${candidates.size}; true pairs (Jaccard >= ${threshold}): ${truth.size}`);
  console.log('');
  console.log(`${'method'.padEnd(40)} ${'joined pairs'.padStart(12)} ${'precision'.padStart(10)} ${'recall'.padStart(8)} ${'removed'.padStart(8)}`);
  for (const m of methods) {
    let good = 0;
    for (const k of m.pairs) if (truth.has(k)) good++;
    let found = 0;
    for (const k of truth) if (m.uf.find(Math.floor(k / 1e6)) === m.uf.find(k % 1e6)) found++;
    console.log(`${m.name.padEnd(40)} ${String(m.pairs.size).padStart(12)} ${pct(m.pairs.size ? good / m.pairs.size : 1).padStart(10)} ${pct(truth.size ? found / truth.size : 1).padStart(8)} ${String(m.removed.size).padStart(8)}`);
  }
  console.log('');
  const dsm = methods[methods.length - 1]!;
  for (const m of methods.slice(0, -1)) {
    let both = 0;
    for (const x of m.removed) if (dsm.removed.has(x)) both++;
    const union = m.removed.size + dsm.removed.size - both;
    console.log(
      `${m.name} vs datasketch removed sets: Jaccard ${(both / union).toFixed(3)}, both ${both}, only kiln ${m.removed.size - both}, only datasketch ${dsm.removed.size - both}`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
