import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterSignatures, MinRootUnionFind } from '../../activities/dedup/lsh.js';
import { estimatedJaccard, exactJaccard, fmix32, MinHasher, permutationSeeds, shingleHashes, tokenHashes } from '../../activities/dedup/minhash.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** A deterministic pseudo-random "source file" of `n` lines. */
function fakeFile(seed: number, n: number): string {
  const words = ['value', 'count', 'index', 'result', 'items', 'config', 'parse', 'render', 'buffer', 'stream', 'token', 'node'];
  let x = seed;
  const next = () => (x = fmix32(x + 0x9e3779b9));
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = words[next() % words.length]!;
    const b = words[next() % words.length]!;
    lines.push(`    ${a}_${next() % 100} = ${b}(${next() % 1000}, ${a})`);
  }
  return lines.join('\n') + '\n';
}

describe('tokens and shingles', () => {
  it('splits on punctuation and whitespace, keeps identifiers and non-ASCII words whole', () => {
    const same = tokenHashes(enc('foo_bar(x1, "héllo")'));
    assert.equal(same.length, 3);
    assert.deepEqual(tokenHashes(enc('foo_bar x1 héllo')), same);
    assert.notDeepEqual(tokenHashes(enc('foo bar x1 héllo')), same);
  });

  it('makes one shingle per window of ngram tokens, distinct and sorted', () => {
    assert.equal(shingleHashes(enc('a b c d e f g'), 5).length, 3);
    assert.equal(shingleHashes(enc('a b'), 5).length, 1); // short document: one shingle of all tokens
    assert.equal(shingleHashes(enc('{} () ;;'), 5).length, 0);
    assert.equal(shingleHashes(enc('x y x y x y x y'), 2).length, 2); // "x y" and "y x"
    const s = shingleHashes(enc(fakeFile(1, 50)), 5);
    for (let i = 1; i < s.length; i++) assert.ok(s[i]! > s[i - 1]!);
  });
});

describe('MinHash signatures', () => {
  it('are deterministic for a seed and change with the seed', () => {
    const doc = enc(fakeFile(7, 40));
    assert.deepEqual(new MinHasher(128, 5, 1).signature(doc), new MinHasher(128, 5, 1).signature(doc));
    assert.notDeepEqual(new MinHasher(128, 5, 1).signature(doc), new MinHasher(128, 5, 2).signature(doc));
    assert.notDeepEqual(permutationSeeds(8, 1), permutationSeeds(8, 2));
  });

  it('is null for a document without tokens', () => {
    assert.equal(new MinHasher(64, 5, 1).signature(enc('  {}\n;;\n')), null);
  });

  it('estimates Jaccard similarity within a few points of the exact value', () => {
    const hasher = new MinHasher(256, 5, 1234);
    const base = fakeFile(3, 200).split('\n');
    for (const changed of [2, 20, 60, 120]) {
      const other = base.map((line, i) => (i < changed ? `    mutated_${i} = other(${i})` : line)).join('\n');
      const a = enc(base.join('\n'));
      const b = enc(other);
      const sigs = new Int32Array(512);
      assert.ok(hasher.signInto(a, sigs, 0));
      assert.ok(hasher.signInto(b, sigs, 256));
      const exact = exactJaccard(a, b, 5);
      const estimate = estimatedJaccard(sigs, 256, 0, 1);
      // standard error of a 256-permutation estimate is at most 0.5 / 16 = 0.031
      assert.ok(Math.abs(estimate - exact) < 0.1, `changed ${changed}: exact ${exact}, estimate ${estimate}`);
    }
  });
});

describe('LSH clustering', () => {
  it('union-find keeps the smallest index as root', () => {
    const uf = new MinRootUnionFind(6);
    uf.union(4, 2);
    uf.union(5, 4);
    uf.union(3, 1);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => uf.find(i)), [0, 1, 2, 1, 2, 2]);
  });

  it('clusters near-duplicates, keeps different files apart, roots at the first one', () => {
    const hasher = new MinHasher(256, 5, 1234);
    const base = fakeFile(11, 100);
    const docs = [
      fakeFile(99, 100), // 0: unrelated
      base, // 1
      base.replace(/\n[^\n]*\n/, '\n    changed_line = 1\n'), // 2: one line changed
      fakeFile(12, 100), // 3: unrelated
      base + '    extra = 1\n', // 4: one line added
      '', // 5: no tokens
    ].map(enc);
    const sigs = new Int32Array(docs.length * 256);
    const has = new Uint8Array(docs.length);
    docs.forEach((d, i) => (has[i] = hasher.signInto(d, sigs, i * 256) ? 1 : 0));
    const { roots } = clusterSignatures(sigs, has, docs.length, { numPerm: 256, bands: 32, rows: 8, threshold: 0.85 });
    assert.deepEqual([...roots], [0, 1, 1, 3, 1, 5]);
  });
});
