/**
 * Evaluation of the npm package `minhash` (0.0.9, on the design card) against kiln's needs:
 *  1. precision: it computes (a * h + b) % p in float64 with a < 2^32 and h up to 3 * 2^31, so
 *     a * h reaches 2^65 and loses its low bits before the modulo; the script compares with the
 *     exact BigInt result and counts distinct values;
 *  2. estimates: Jaccard estimates against exact Jaccard on pairs of edited files, beside kiln's;
 *  3. speed: it rehashes the shingle string once per permutation; MB/s beside kiln's.
 * The package is installed into .kiln/bench-npm on first use (not a project dependency).
 * Usage: npx tsx scripts/bench/minhash-npm.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { exactJaccard, estimatedJaccard, fmix32, MinHasher } from '../../activities/dedup/minhash.js';
import { repoRoot } from '../../lib/workdirs.js';
import { forEachContent, partitionPaths, preparedSample } from './sample.js';

const dir = join(repoRoot, '.kiln', 'bench-npm');
if (!existsSync(join(dir, 'node_modules', 'minhash', 'package.json'))) {
  execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', 'minhash@0.0.9'], { stdio: 'inherit' });
}
interface NpmMinhash {
  permA: number[];
  permB: number[];
  prime: number;
  hashvalues: number[];
  update(s: string): void;
  hash(s: string): number;
  jaccard(o: NpmMinhash): number;
}
const { Minhash } = createRequire(import.meta.url)(join(dir, 'node_modules', 'minhash', 'index.js')) as { Minhash: new (c: { numPerm: number; seed?: number }) => NpmMinhash };

const NON_ALPHA = /[^A-Za-z_0-9]/u;
function shingleStrings(text: string, n: number): Set<string> {
  const t = text.split(NON_ALPHA);
  const out = new Set<string>();
  for (let i = 0; i + n <= t.length; i++) out.add(t.slice(i, i + n).join(' '));
  return out;
}

// 1. Precision of (a * h + b) % p.
const m = new Minhash({ numPerm: 256, seed: 1 });
const p = BigInt(m.prime);
let wrong = 0;
let total = 0;
const floatValues = new Set<number>();
const exactValues = new Set<bigint>();
for (let j = 0; j < 20000; j++) {
  const h = m.hash(`shingle ${j} ${fmix32(j)}`); // the package's own string hash
  for (let i = 0; i < 8; i++) {
    const f = (m.permA[i]! * h + m.permB[i]!) % m.prime;
    const e = (BigInt(m.permA[i]!) * BigInt(h) + BigInt(m.permB[i]!)) % p;
    total++;
    if (BigInt(f) !== e) wrong++;
    if (i === 0) {
      floatValues.add(f);
      exactValues.add(e);
    }
  }
}
console.log(`1. precision: ${wrong} of ${total} values of (a*h+b) % p differ from exact integer math (${((100 * wrong) / total).toFixed(1)}%);`);
console.log(`   distinct values of permutation 0 over 20000 distinct inputs: float64 ${floatValues.size}, exact ${exactValues.size}`);

// String hash collisions: the package's 32-bit Java-style hash on real shingles, against the
// birthday bound of a random 32-bit hash.
{
  const { clean } = await preparedSample();
  const shingles = new Set<string>();
  for (const path of partitionPaths(clean).slice(0, 12)) {
    forEachContent(path, (b) => {
      if (b && shingles.size < 2_000_000) for (const x of shingleStrings(new TextDecoder().decode(b), 5)) shingles.add(x);
    });
  }
  const seen = new Set<number>();
  for (const x of shingles) seen.add(m.hash(x));
  const n = shingles.size;
  console.log(`   string hash: ${n - seen.size} collisions among ${n} distinct real shingles (a random 32-bit hash: ~${Math.round((n * n) / 2 / 2 ** 32)})`);
}

// 2. Jaccard estimates on edited files.
const words = ['value', 'count', 'index', 'result', 'items', 'config', 'parse', 'render'];
const file = (seed: number, lines: number) =>
  Array.from({ length: lines }, (_, i) => `    ${words[fmix32(seed * 977 + i) % 8]}_${fmix32(seed + i) % 100} = ${words[fmix32(i + seed * 3) % 8]}(${fmix32(i * 7 + seed) % 1000})`).join('\n');
const kiln = new MinHasher(256, 5, 1);
let seNpm = 0;
let seKiln = 0;
let pairs = 0;
for (let s = 0; s < 10; s++) {
  const base = file(s, 150);
  for (const changed of [5, 20, 45, 80]) {
    const lines = base.split('\n');
    for (let i = 0; i < changed; i++) lines[(i * 7) % lines.length] = `    changed_${i} = other(${i})`;
    const other = lines.join('\n');
    const exact = exactJaccard(new TextEncoder().encode(base), new TextEncoder().encode(other), 5);
    const a = new Minhash({ numPerm: 256, seed: 1 });
    const b = new Minhash({ numPerm: 256, seed: 1 });
    for (const x of shingleStrings(base, 5)) a.update(x);
    for (const x of shingleStrings(other, 5)) b.update(x);
    const sigs = new Int32Array(512);
    kiln.signInto(new TextEncoder().encode(base), sigs, 0);
    kiln.signInto(new TextEncoder().encode(other), sigs, 256);
    seNpm += (a.jaccard(b) - exact) ** 2;
    seKiln += (estimatedJaccard(sigs, 256, 0, 1) - exact) ** 2;
    pairs++;
  }
}
console.log(`2. Jaccard estimate RMSE over ${pairs} edited pairs (256 permutations): minhash ${Math.sqrt(seNpm / pairs).toFixed(3)}, kiln ${Math.sqrt(seKiln / pairs).toFixed(3)} (sampling error alone ~0.03)`);

// 3. Speed on real files (cleaned partitions of the sample, the first 3 MB).
const { clean } = await preparedSample();
const docs: Uint8Array[] = [];
let bytes = 0;
for (const path of partitionPaths(clean)) {
  if (bytes >= 3e6) break;
  forEachContent(path, (b) => {
    if (b && bytes < 3e6) {
      docs.push(b.slice());
      bytes += b.byteLength;
    }
  });
}
const texts = docs.map((d) => new TextDecoder().decode(d));
let t0 = performance.now();
for (const t of texts) {
  const h = new Minhash({ numPerm: 256, seed: 1 });
  for (const x of shingleStrings(t, 5)) h.update(x);
}
const npmSeconds = (performance.now() - t0) / 1000;
const out = new Int32Array(256);
t0 = performance.now();
for (const d of docs) kiln.signInto(d, out, 0);
const kilnSeconds = (performance.now() - t0) / 1000;
console.log(
  `3. speed on ${(bytes / 1e6).toFixed(1)} MB (${docs.length} files, 256 permutations, one core): minhash ${(bytes / 1e6 / npmSeconds).toFixed(2)} MB/s, kiln ${(bytes / 1e6 / kilnSeconds).toFixed(2)} MB/s (${(npmSeconds / kilnSeconds).toFixed(0)}x)`,
);
