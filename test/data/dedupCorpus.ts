// A crafted Stack-schema corpus for the dedup tests: families of near-duplicate source files
// (exact copies, one-line edits, heavier rewrites) spread over several Parquet partitions,
// with licences and stars that decide which copy is kept.
import { join } from 'node:path';
import { fmix32 } from '../../activities/dedup/minhash.js';
import type { StageResult } from '../../lib/manifest.js';
import type { StackRow } from '../../lib/stackSchema.js';
import { fileUri } from '../../lib/storage/index.js';
import { stackRow, writeRows } from './fixtures.js';

const WORDS = ['value', 'count', 'index', 'result', 'items', 'config', 'parse', 'render', 'buffer', 'stream', 'token', 'node', 'cache', 'queue'];

/** A deterministic pseudo-random "source file" of `n` lines. */
export function fakeFile(seed: number, n: number): string {
  let x = seed;
  const next = () => (x = fmix32(x + 0x9e3779b9));
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = WORDS[next() % WORDS.length]!;
    const b = WORDS[next() % WORDS.length]!;
    lines.push(`    ${a}_${next() % 100} = ${b}(${next() % 1000}, ${a})`);
  }
  return lines.join('\n') + '\n';
}

/** `text` with `k` of its lines (spread evenly) rewritten. */
export function editLines(text: string, k: number, tag: number): string {
  const lines = text.split('\n');
  const step = Math.max(1, Math.floor(lines.length / Math.max(1, k)));
  for (let j = 0, i = 0; j < k && i < lines.length; j++, i += step) lines[i] = `    edited_${tag}_${j} = changed(${j * 31 + tag})`;
  return lines.join('\n');
}

export interface DedupCorpus {
  dir: string;
  input: StageResult;
  rows: StackRow[][];
}

/**
 * `families` groups of related files over `partitions` files: in each family an original, an
 * exact copy, a one-line edit, a 30% rewrite, and an unrelated file; licences and stars vary.
 */
export function writeDedupCorpus(dir: string, families: number, partitions: number): DedupCorpus {
  const parts: StackRow[][] = Array.from({ length: partitions }, () => []);
  let slot = 0;
  const put = (row: StackRow) => parts[slot++ % partitions]!.push(row);
  for (let f = 0; f < families; f++) {
    const base = fakeFile(1000 + f, 60 + (f % 5) * 10);
    const repo = (v: string) => ({ max_stars_repo_name: `org${f}/${v}`, max_stars_repo_path: `src/f${f}_${v}.py` });
    put(stackRow(base, { ...repo('orig'), max_stars_count: f % 3 }));
    put(stackRow(base, { ...repo('copy'), max_stars_count: 10, max_stars_repo_licenses: f % 2 ? ['GPL-3.0'] : ['MIT'] }));
    put(stackRow(editLines(base, 1, f), { ...repo('edit1'), max_stars_count: 5 }));
    put(stackRow(editLines(base, Math.ceil((60 + (f % 5) * 10) * 0.3), f), { ...repo('edit30') }));
    put(stackRow(fakeFile(5000 + f, 40), { ...repo('other') }));
    if (f % 4 === 0) put(stackRow('x = 1\n', { ...repo('short') })); // fewer than 5 tokens: exact dedup only
  }
  const outputs = parts.map((rows, p) => {
    const path = join(dir, 'lang=python', `part-${String(p).padStart(5, '0')}.parquet`);
    writeRows(path, rows);
    return fileUri(path);
  });
  const uri = fileUri(dir);
  return {
    dir,
    rows: parts,
    input: { stage: 'clean', fingerprint: 'c'.repeat(64), dir: uri, manifestUri: `${uri}/_MANIFEST.json`, outputs, stats: { kept: parts.flat().length }, reused: true },
  };
}
