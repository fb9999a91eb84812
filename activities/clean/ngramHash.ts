/**
 * Decontamination's n-gram hashing: whitespace tokens of a text, ASCII lower-cased, hashed to
 * 53-bit keys (two rolling 32-bit hashes over the window's token hashes). BenchmarkIndex.match
 * (decontaminate.ts) inlines forEachNgramKey's loop with these same pieces.
 */

export const MASK21 = 0x1fffff;
export const TWO32 = 0x100000000;
/** Bases of the two rolling polynomial hashes over token hashes (odd, so invertible mod 2^32). */
export const B1 = 0x01000193;
export const B2 = 0x5bd1e995;
/** Bloom-style bitset on the first hash: skips the Map lookup for nearly every n-gram. */
export const BLOOM_BITS = 24;

export function powImul(base: number, exp: number): number {
  let r = 1;
  for (let i = 0; i < exp; i++) r = Math.imul(r, base);
  return r;
}

/** murmur3's finaliser: spreads the bits of a rolling hash. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The token's second hash, derived from its FNV-1a hash and its length (one multiply per
 * character instead of two): the two rolling n-gram hashes differ by base and finaliser.
 */
export function tokenHash2(fnv: number, length: number): number {
  return fmix(fnv ^ Math.imul(length, 0x9e3779b1));
}

/** Whitespace as Python's str.split() sees it (the common ones; a rare one only splits fewer tokens). */
export function isSpace(c: number): boolean {
  return c <= 0x20 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f) : c === 0xa0 || c === 0x85 || c === 0x2028 || c === 0x2029 || c === 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

/**
 * The n-gram keys of `text`: whitespace tokens, ASCII lower-cased, each token hashed (FNV-1a,
 * and a second hash from that and the length), each window of n tokens hashed by two rolling
 * polynomial hashes. Calls
 * `onKey(h1, h2)` with the finalised 32-bit pair of every window, in order; stops when it returns
 * true. BenchmarkIndex.match inlines the same loop (tested to agree).
 */
export function forEachNgramKey(text: string, n: number, onKey: (h1: number, h2: number) => boolean | void): void {
  const ring1 = new Int32Array(n);
  const ring2 = new Int32Array(n);
  const pn1 = powImul(B1, n);
  const pn2 = powImul(B2, n);
  let r1 = 0;
  let r2 = 0;
  let tokens = 0;
  let t1 = 0;
  let t2 = 0;
  let inToken = false;
  const len = text.length;
  for (let i = 0; i <= len; i++) {
    const c = i < len ? text.charCodeAt(i) : 0x20;
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
    if (tokens >= n && onKey(fmix(r1), fmix(r2 ^ 0x5f356495)) === true) return;
  }
}

/** The 53-bit key of an n-gram from its two finalised hashes. */
export const keyOf = (h1: number, h2: number) => (h1 & MASK21) * TWO32 + (h2 >>> 0);
