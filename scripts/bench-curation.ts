/**
 * Curation throughput, side by side, in one run (a benchmark, not a test):
 *  - kiln clean (the clean stage's activity over the ingested sample),
 *  - kiln MinHash signatures: the hot loop alone (content already in memory) and the whole
 *    signature step (Parquet decode, SHA-256 for exact dedup, signature, band keys, files written),
 *  - datasketch (MinHash.update_batch) and datatrove (MinhashDedupSignature.get_shingles +
 *    get_signature) on the same documents with the same parameters (256 permutations, 5-gram
 *    shingles of BigCode's split), in the benchmark's own Python venv (.kiln/bench-venv).
 * Every figure is single-threaded: MB/s per core = content MB / (wall s x 1 core); the CPU
 * seconds are printed too. Usage: npm run bench:curation [-- --source file:///... --seed 1234]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanStage } from '../activities/clean/index.js';
import { planDedup } from '../activities/dedup/plan.js';
import { signPartition } from '../activities/dedup/signatures.js';
import { MinHasher } from '../activities/dedup/minhash.js';
import { resolveDedupParams } from '../activities/dedup/params.js';
import { store } from '../lib/storage/index.js';
import { DEFAULT_SOURCE, forEachContent, partitionPaths, preparedSample } from './bench/sample.js';
import { benchPython, referenceScript } from './bench/venv.js';

const { values } = parseArgs({ options: { source: { type: 'string', default: DEFAULT_SOURCE }, seed: { type: 'string', default: '1234' } } });
const seed = Number(values.seed);
const params = resolveDedupParams({});
const tmp = mkdtempSync(join(tmpdir(), 'kiln-bench-curation-'));

interface Row {
  name: string;
  mb: number;
  wall: number;
  cpu: number;
}

async function timed(run: () => Promise<unknown> | unknown): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

try {
  const python = benchPython();
  const { ingest, clean } = await preparedSample(values.source);
  const rows: Row[] = [];

  // kiln clean, recomputed (a fresh artifacts root: no memoized manifest).
  process.stderr.write('kiln clean...\n');
  const cleanTime = await timed(() => cleanStage({ artifactsRoot: pathToFileURL(join(tmp, 'clean')).href, input: ingest }));
  rows.push({ name: 'kiln clean (whole stage)', mb: (clean.stats.content_bytes_in as number) / 1e6, ...cleanTime });

  // The cleaned documents in memory, for the signature hot loops.
  const paths = partitionPaths(clean);
  const docs: Uint8Array[] = [];
  for (const path of paths) forEachContent(path, (b) => docs.push(b ? b.slice() : new Uint8Array(0)));
  const mb = docs.reduce((a, d) => a + d.byteLength, 0) / 1e6;

  process.stderr.write('kiln MinHash signatures...\n');
  const hasher = new MinHasher(params.numPerm, params.ngram, seed);
  const out = new Int32Array(params.numPerm);
  hasher.signInto(docs[0]!, out, 0); // warm-up of the JIT on one document
  rows.push({ name: `kiln MinHash signatures (hot loop, ${params.numPerm} perm)`, mb, ...(await timed(() => docs.forEach((d) => hasher.signInto(d, out, 0)))) });

  const start = await planDedup(store, { artifactsRoot: pathToFileURL(join(tmp, 'dedup')).href, input: clean, seed, reducers: 1 });
  const plan = start.plan!;
  rows.push({
    name: 'kiln dedup signature step (Parquet, SHA-256, bands)',
    mb,
    ...(await timed(async () => {
      for (let p = 0; p < plan.partitions.length; p++) await signPartition(store, plan, p);
    })),
  });

  // The references, same documents, same process for both, timed inside Python.
  process.stderr.write('datasketch and datatrove signatures (Python)...\n');
  writeFileSync(join(tmp, 'paths.json'), JSON.stringify(paths));
  const ref = JSON.parse(
    execFileSync(python, [referenceScript, 'signatures', '--paths', join(tmp, 'paths.json'), '--num-perm', String(params.numPerm), '--bands', String(params.bands), '--rows', String(params.rows), '--seed', String(seed)]).toString(),
  ) as { docs: number; bytes: number; datasketch: { wall: number; cpu: number }; datatrove: { wall: number; cpu: number } };
  if (ref.docs !== docs.length) throw new Error(`Python read ${ref.docs} documents, kiln ${docs.length}`);
  rows.push({ name: `datasketch 2.0.0 MinHash.update_batch (${params.numPerm} perm)`, mb: ref.bytes / 1e6, ...ref.datasketch });
  rows.push({ name: `datatrove 0.10.1 MinhashDedupSignature (${params.bands * params.rows} perm)`, mb: ref.bytes / 1e6, ...ref.datatrove });

  // On a shared machine wall time includes waiting for a core; CPU seconds do not. Both shown.
  const perCore = (r: Row) => r.mb / r.wall; // one core each
  const perCpu = (r: Row) => r.mb / r.cpu;
  const [ours, oursCpu] = [perCore(rows[1]!), perCpu(rows[1]!)];
  console.log(`corpus: ${values.source}, ${docs.length} documents after clean, ${mb.toFixed(1)} MB of content; single-threaded, 1 core each`);
  console.log('');
  console.log(`${'what'.padEnd(58)} ${'MB'.padStart(6)} ${'wall s'.padStart(7)} ${'cpu s'.padStart(7)} ${'MB/s/core'.padStart(10)} ${'MB/cpu-s'.padStart(9)}  kiln hot loop is`);
  for (const r of rows) {
    const ratio = r.name.startsWith('kiln') ? '' : `${(ours / perCore(r)).toFixed(1)}x (wall), ${(oursCpu / perCpu(r)).toFixed(1)}x (cpu)`;
    console.log(`${r.name.padEnd(58)} ${r.mb.toFixed(1).padStart(6)} ${r.wall.toFixed(2).padStart(7)} ${r.cpu.toFixed(2).padStart(7)} ${perCore(r).toFixed(2).padStart(10)} ${perCpu(r).toFixed(2).padStart(9)}  ${ratio}`);
  }
  const step = rows[2]!;
  console.log('');
  console.log(
    `kiln's whole signature step per core: ${(perCore(step) / perCore(rows[3]!)).toFixed(1)}x datasketch, ${(perCore(step) / perCore(rows[4]!)).toFixed(1)}x datatrove (wall); ` +
      `${(perCpu(step) / perCpu(rows[3]!)).toFixed(1)}x, ${(perCpu(step) / perCpu(rows[4]!)).toFixed(1)}x (cpu).`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
