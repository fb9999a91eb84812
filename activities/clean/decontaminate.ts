/**
 * Decontamination: drop training files that contain an evaluation benchmark's prompts or
 * canonical solutions. BigCode (bigcode-dataset decontamination/find_substrings.py) drops a file
 * when it contains a HumanEval docstring or canonical solution as an exact, case-insensitive
 * substring. We compare word n-grams instead, so re-indented, re-wrapped or partly copied
 * problems are caught too: both sides are split on whitespace and lower-cased, and a file is
 * contaminated when it holds at least `minOverlap` of the distinct n-grams of one benchmark text
 * (the whole prompt, its docstring, or the canonical solution). Texts shorter than n tokens (a
 * one-line `return sorted(l)`) would match ordinary code and are left out, counted.
 *
 * N-grams are hashed to 53-bit keys (two rolling 32-bit hashes over the window's token hashes),
 * and a bitset on the first one skips the key lookup for nearly every n-gram, so the scan of a
 * file allocates nothing until it meets a benchmark n-gram (hashing: ngramHash.ts).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { parseProblems, type Problem } from '../eval/problems.js';
import { resolveUri } from '../prepareRun.js';
import { B1, B2, BLOOM_BITS, fmix, forEachNgramKey, isSpace, keyOf, powImul, tokenHash2 } from './ngramHash.js';

export { forEachNgramKey } from './ngramHash.js';

/** Names of benchmarks shipped in the repository. */
export const BUNDLED_BENCHMARKS: Readonly<Record<string, string>> = {
  humaneval: join(repoRoot, 'data/humaneval/HumanEval.jsonl.gz'),
};

export type BenchmarkTextKind = 'prompt' | 'docstring' | 'solution';

export interface BenchmarkText {
  benchmark: string;
  taskId: string;
  kind: BenchmarkTextKind;
  text: string;
}

export interface BenchmarkMatch {
  benchmark: string;
  taskId: string;
  kind: BenchmarkTextKind;
  /** Share of the text's distinct n-grams found in the file. */
  overlap: number;
}

/** BigCode's docstring extraction: the text inside the prompt's (last) triple-quoted block. */
export function extractDocstring(prompt: string): string | null {
  for (const quote of ['"""', "'''"]) {
    const parts = prompt.split(quote);
    if (parts.length >= 3) return parts[parts.length - 2]!.trim();
  }
  return null;
}

/** The texts of HumanEval-format problems that training data must not contain. */
export function benchmarkTexts(benchmark: string, problems: Problem[]): BenchmarkText[] {
  const out: BenchmarkText[] = [];
  for (const p of problems) {
    out.push({ benchmark, taskId: p.task_id, kind: 'prompt', text: p.prompt });
    const doc = extractDocstring(p.prompt);
    if (doc) out.push({ benchmark, taskId: p.task_id, kind: 'docstring', text: doc });
    if (p.canonical_solution) out.push({ benchmark, taskId: p.task_id, kind: 'solution', text: p.canonical_solution });
  }
  return out;
}

export class BenchmarkIndex {
  /** n-gram key -> indexes of the texts holding it. */
  private readonly postings = new Map<number, number[]>();
  private readonly bloom = new Uint32Array(1 << (BLOOM_BITS - 5));
  private readonly ring1: Int32Array;
  private readonly ring2: Int32Array;
  private readonly pn1: number;
  private readonly pn2: number;
  private readonly sizes: number[] = [];
  private readonly texts: BenchmarkText[] = [];
  /** Texts left out because they have fewer than n tokens. */
  readonly skippedShortTexts: number = 0;
  /** Files dropped, per benchmark. */
  readonly dropped: Record<string, number> = {};
  /** The match behind the last drop (for the samples). */
  lastMatch: BenchmarkMatch | null = null;

  constructor(
    texts: readonly BenchmarkText[],
    readonly n: number,
    readonly minOverlap: number,
  ) {
    this.ring1 = new Int32Array(n);
    this.ring2 = new Int32Array(n);
    this.pn1 = powImul(B1, n);
    this.pn2 = powImul(B2, n);
    let skipped = 0;
    for (const t of texts) {
      const keys = new Set<number>();
      forEachNgramKey(t.text, n, (h1, h2) => {
        keys.add(keyOf(h1, h2));
        const bit = h1 >>> (32 - BLOOM_BITS);
        this.bloom[bit >>> 5]! |= 1 << (bit & 31);
      });
      if (keys.size === 0) {
        skipped++;
        continue;
      }
      const index = this.texts.length;
      this.texts.push(t);
      this.sizes.push(keys.size);
      for (const k of keys) {
        const list = this.postings.get(k);
        if (list) list.push(index);
        else this.postings.set(k, [index]);
      }
      this.dropped[t.benchmark] ??= 0;
    }
    this.skippedShortTexts = skipped;
  }

  get indexedTexts(): number {
    return this.texts.length;
  }

  /** The first benchmark text whose n-gram overlap with `content` reaches minOverlap, or null. */
  match(content: string): BenchmarkMatch | null {
    // forEachNgramKey's loop, inlined: no closure call and no heap number per n-gram.
    const { n, ring1, ring2, pn1, pn2, bloom } = this;
    ring1.fill(0);
    ring2.fill(0);
    let r1 = 0;
    let r2 = 0;
    let tokens = 0;
    let t1 = 0;
    let t2 = 0;
    let inToken = false;
    let seen: Set<number> | undefined;
    let hits: Map<number, number> | undefined;
    const len = content.length;
    for (let i = 0; i <= len; i++) {
      const c = i < len ? content.charCodeAt(i) : 0x20;
      if (c > 0x20 && c < 0x7f ? true : !isSpace(c)) {
        const lc = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
        if (!inToken) {
          t1 = 0x811c9dc5 | 0;
          t2 = 0;
          inToken = true;
        }
        t1 = Math.imul(t1 ^ lc, 0x01000193);
        t2++;
        continue;
      }
      if (!inToken) continue;
      inToken = false;
      const slot = tokens % n;
      const u2 = tokenHash2(t1, t2);
      r1 = (Math.imul(r1, B1) + t1 - Math.imul(ring1[slot]!, pn1)) | 0;
      r2 = (Math.imul(r2, B2) + u2 - Math.imul(ring2[slot]!, pn2)) | 0;
      ring1[slot] = t1;
      ring2[slot] = u2;
      tokens++;
      if (tokens < n) continue;
      const h1 = fmix(r1);
      const bit = h1 >>> (32 - BLOOM_BITS);
      if ((bloom[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
      const key = keyOf(h1, fmix(r2 ^ 0x5f356495));
      const list = this.postings.get(key);
      if (list === undefined) continue;
      seen ??= new Set();
      if (seen.has(key)) continue;
      seen.add(key);
      hits ??= new Map();
      for (const t of list) {
        const h = (hits.get(t) ?? 0) + 1;
        hits.set(t, h);
        if (h >= this.minOverlap * this.sizes[t]!) {
          const text = this.texts[t]!;
          this.lastMatch = { benchmark: text.benchmark, taskId: text.taskId, kind: text.kind, overlap: h / this.sizes[t]! };
          this.dropped[text.benchmark] = (this.dropped[text.benchmark] ?? 0) + 1;
          return this.lastMatch;
        }
      }
    }
    return null;
  }
}

export interface LoadedBenchmark {
  name: string;
  source: string;
  problems: Problem[];
  /** sha256 of the file, so a changed benchmark changes the stage fingerprint. */
  sha256: string;
}

/** Reads `humaneval` (bundled) or a jsonl/jsonl.gz URI; relative `file://./x` is taken from the working directory. */
export async function loadBenchmark(spec: string, store: ArtifactStore): Promise<LoadedBenchmark> {
  let bytes: Uint8Array;
  let source: string;
  let name: string;
  const bundled = BUNDLED_BENCHMARKS[spec];
  if (bundled) {
    source = bundled;
    name = spec;
    try {
      bytes = await readFile(bundled);
    } catch (error) {
      throw fatal(ErrorType.NotFound, `clean.decontaminationBenchmarks: cannot read the bundled benchmark ${spec} at ${bundled}: ${(error as Error).message}`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    source = resolveUri(spec);
    name = basename(source).replace(/\.jsonl(\.gz)?$/i, '');
    bytes = await store.readBytes(source);
  } else {
    throw fatal(
      ErrorType.InvalidConfig,
      `clean.decontaminationBenchmarks: ${JSON.stringify(spec)} is neither a bundled benchmark (${Object.keys(BUNDLED_BENCHMARKS).join(', ')}) nor a file://, s3:// or https:// URI.`,
    );
  }
  return { name, source, problems: parseProblems(bytes, source), sha256: createHash('sha256').update(bytes).digest('hex') };
}

export function buildBenchmarkIndex(benchmarks: readonly LoadedBenchmark[], n: number, minOverlap: number): BenchmarkIndex {
  return new BenchmarkIndex(benchmarks.flatMap((b) => benchmarkTexts(b.name, b.problems)), n, minOverlap);
}
