import assert from 'node:assert/strict';
import { test } from 'node:test';
import { meanPassAtK, passAtK } from '../../activities/eval/passAtK.js';

/** 1 - C(n-c, k) / C(n, k) computed exactly with BigInt, then rounded once. */
function exact(n: number, c: number, k: number): number {
  const comb = (a: number, b: number): bigint => {
    if (b < 0 || b > a) return 0n;
    let r = 1n;
    for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1);
    return r;
  };
  const scale = 10n ** 30n;
  return 1 - Number((comb(n - c, k) * scale) / comb(n, k)) / 1e30;
}

test('pass@1 is the fraction of correct samples', () => {
  assert.ok(Math.abs(passAtK(10, 3, 1) - 0.3) < 1e-15);
  assert.ok(Math.abs(passAtK(200, 37, 1) - 37 / 200) < 1e-15);
});

test('matches the exact binomial form, also where the binomials are astronomically large', () => {
  for (const [n, c, k] of [[5, 2, 2], [10, 3, 5], [20, 1, 10], [200, 37, 10], [200, 37, 100], [1000, 3, 500]] as const) {
    assert.ok(Math.abs(passAtK(n, c, k) - exact(n, c, k)) < 1e-12, `n=${n} c=${c} k=${k}: ${passAtK(n, c, k)} vs ${exact(n, c, k)}`);
  }
});

test('boundaries: no correct sample is 0, too few wrong samples to fill k is 1', () => {
  assert.equal(passAtK(10, 0, 5), 0);
  assert.equal(passAtK(10, 10, 1), 1);
  assert.equal(passAtK(10, 6, 5), 1);
  assert.equal(passAtK(1, 1, 1), 1);
});

test('refuses impossible arguments with a message naming the argument', () => {
  assert.throws(() => passAtK(5, 6, 1), { message: 'Expected `c` (6) to be at most `n` (5).' });
  assert.throws(() => passAtK(5, 1, 6), { message: 'Expected `k` (6) to be at most `n` (5): pass@k needs at least k samples.' });
  assert.throws(() => passAtK(5, 1.5, 1), { message: 'Expected `c` to be a non-negative integer, got `1.5`.' });
  assert.throws(() => passAtK(5, 1, 0), { message: 'Expected `k` to be at least 1, got `0`.' });
});

test('the mean over problems skips a k above some problem\'s sample count, with a note', () => {
  const summary = meanPassAtK([{ n: 2, c: 1 }, { n: 2, c: 0 }, { n: 3, c: 3 }], [10, 1, 2]);
  assert.deepEqual(Object.keys(summary.passAtK), ['pass@1', 'pass@2']);
  assert.ok(Math.abs(summary.passAtK['pass@1']! - (0.5 + 0 + 1) / 3) < 1e-15);
  assert.ok(Math.abs(summary.passAtK['pass@2']! - (1 + 0 + 1) / 3) < 1e-15);
  assert.deepEqual(summary.notes, ['pass@10 skipped: some problems have only 2 sample(s), fewer than k = 10']);
  assert.deepEqual(meanPassAtK([], [1]), { passAtK: {}, notes: ['no problems had samples: no pass@k'] });
});
