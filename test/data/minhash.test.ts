import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optimalBandsRows } from '../../activities/dedup/lshParams.js';
import { estimatedJaccard, exactJaccard, MinHasher, permutationSeeds, shingleSet, tokenHashes } from '../../activities/dedup/minhash.js';
import { resolveDedupParams } from '../../activities/dedup/params.js';
import { compareRank, licenceClass, type RankKey } from '../../activities/dedup/rank.js';
import { editLines, fakeFile } from './dedupCorpus.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** BigCode's tokens, `re.split("[^A-Za-z_0-9]", s)`, each hashed alone (a token has no separator). */
function bigcodeTokens(s: string): number[] {
  return s.split(/[^A-Za-z_0-9]/u).map((t) => tokenHashes(enc(t))[0]!);
}

describe('tokens and shingles (BigCode near-dedup split)', () => {
  it('splits on every character outside [A-Za-z0-9_], one separator per code point, empty tokens kept', () => {
    for (const s of ['a = b', 'foo_bar(x1, "héllo")', '  x\n\n\ty', 'aéb', 'a😀b', 'é', '', 'ab', '__init__.py', 'x+=1;;', 'ü-ñ 中文 z']) {
      assert.deepEqual([...tokenHashes(enc(s))], bigcodeTokens(s), JSON.stringify(s));
    }
    assert.equal(tokenHashes(enc('a = b')).length, 4); // 'a', '', '', 'b'
    assert.equal(tokenHashes(enc('aéb')).length, 2); // é is one separator, not two bytes
    assert.equal(tokenHashes(enc('a😀b')).length, 2);
    assert.notDeepEqual([...tokenHashes(enc('foo bar'))], [...tokenHashes(enc('foo  bar'))]);
  });

  it('makes one shingle per window of ngram tokens, none below ngram tokens, distinct and sorted', () => {
    assert.equal(shingleSet(enc('a b c d e f g'), 5).length, 3);
    assert.equal(shingleSet(enc('a b c d'), 5).length, 0); // BigCode: fewer than 5 tokens give nothing
    assert.equal(shingleSet(enc('a b c d e'), 5).length, 1);
    assert.equal(shingleSet(enc('x y x y x y x y'), 2).length, 2); // "x y" and "y x"
    const s = shingleSet(enc(fakeFile(1, 50)), 5);
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

  it('is null for a document with fewer tokens than the shingle size', () => {
    assert.equal(new MinHasher(64, 5, 1).signature(enc('x = 1')), null);
    assert.notEqual(new MinHasher(64, 5, 1).signature(enc('x = 1 + 2')), null);
  });

  it('does not depend on the documents signed before (reused buffers)', () => {
    const hasher = new MinHasher(64, 5, 3);
    const small = enc(fakeFile(1, 5));
    const first = hasher.signature(small);
    hasher.signature(enc(fakeFile(2, 400)));
    assert.deepEqual(hasher.signature(small), first);
  });

  it('estimates Jaccard similarity within a few points of the exact value', () => {
    const hasher = new MinHasher(256, 5, 1234);
    const base = fakeFile(3, 200);
    let sumSq = 0;
    let n = 0;
    for (const changed of [2, 10, 20, 40, 60, 90, 120]) {
      for (let tag = 0; tag < 4; tag++) {
        const a = enc(base);
        const b = enc(editLines(base, changed, tag));
        const sigs = new Int32Array(512);
        assert.ok(hasher.signInto(a, sigs, 0));
        assert.ok(hasher.signInto(b, sigs, 256));
        const exact = exactJaccard(a, b, 5);
        const estimate = estimatedJaccard(sigs, 256, 0, 1);
        // one estimate's standard error is at most 0.5 / 16 = 0.031
        assert.ok(Math.abs(estimate - exact) < 0.12, `changed ${changed}: exact ${exact}, estimate ${estimate}`);
        sumSq += (estimate - exact) ** 2;
        n++;
      }
    }
    assert.ok(Math.sqrt(sumSq / n) < 0.045, `RMSE ${Math.sqrt(sumSq / n)}`);
  });
});

describe('LSH parameters', () => {
  it("match datasketch's _optimal_param (weights 0.5/0.5)", () => {
    // Values printed by datasketch 2.0.0: datasketch.lsh._optimal_param(t, n, 0.5, 0.5)
    const datasketch: [number, number, number, number][] = [
      [0.7, 256, 25, 10],
      [0.85, 256, 13, 19],
      [0.5, 128, 25, 5],
      [0.9, 64, 3, 21],
      [0.7, 128, 14, 9],
      [0.8, 112, 9, 12],
      [0.3, 256, 64, 4],
      [0.75, 200, 16, 12],
    ];
    for (const [t, n, b, r] of datasketch) assert.deepEqual(optimalBandsRows(t, n), { bands: b, rows: r }, `threshold ${t}, numPerm ${n}`);
  });

  it('are the defaults, and explicit ones are checked, naming the field', () => {
    const p = resolveDedupParams({});
    assert.deepEqual([p.numPerm, p.ngram, p.threshold, p.bands, p.rows, p.verify], [256, 5, 0.7, 25, 10, true]);
    assert.deepEqual([resolveDedupParams({ threshold: 0.85 }).bands, resolveDedupParams({ threshold: 0.85 }).rows], [13, 19]);
    assert.throws(() => resolveDedupParams({ bands: 30, rows: 10 }), /dedup\.bands \* dedup\.rows must be at most dedup\.numPerm.*30 \* 10 = 300/);
    assert.throws(() => resolveDedupParams({ bands: 30 }), /dedup\.bands and dedup\.rows/);
    assert.throws(() => resolveDedupParams({ threshold: 1 }), /dedup\.threshold/);
    assert.throws(() => resolveDedupParams({ ngram: 0 }), /dedup\.ngram/);
  });
});

describe('which copy is kept', () => {
  const key = (k: Partial<RankKey>): RankKey => ({ licence: 0, stars: 0, path: 'a.py', repo: 'o/r', partition: 0, row: 0, ...k });

  it('classifies licences: all permissive, or not', () => {
    assert.equal(licenceClass(['MIT']), 0);
    assert.equal(licenceClass(['MIT', 'apache-2.0']), 0);
    assert.equal(licenceClass(['MIT', 'GPL-3.0']), 1);
    assert.equal(licenceClass([]), 1);
    assert.equal(licenceClass(null), 1);
  });

  it('ranks permissive licence first, then stars, then path, then position', () => {
    const ranked = [
      key({ licence: 1, stars: 100, path: 'a' }),
      key({ stars: 5, path: 'z' }),
      key({ stars: 5, path: 'b', row: 2 }),
      key({ stars: 5, path: 'b', row: 1 }),
      key({ stars: -1, path: 'a' }),
    ].sort(compareRank);
    assert.deepEqual(
      ranked.map((k) => `${k.licence}/${k.stars}/${k.path}/${k.row}`),
      ['0/5/b/1', '0/5/b/2', '0/5/z/0', '0/-1/a/0', '1/100/a/0'],
    );
  });
});
