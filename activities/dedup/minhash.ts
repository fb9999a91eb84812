/**
 * MinHash signatures over token shingles, computed straight from UTF-8 bytes, with BigCode's
 * tokenization (bigcode-dataset near_deduplication/minhash_deduplication.py):
 *
 *   tokens = re.split("[^A-Za-z_0-9]", content)      # Python str: one separator per code point
 *   shingles = {" ".join(t) for t in ngrams(tokens, 5)}   # none when fewer than 5 tokens
 *
 * Every character outside [A-Za-z0-9_] (a space, a bracket, an "é", an emoji) is one separator,
 * and consecutive separators give empty tokens, which take part in shingles like any other
 * (so indentation and punctuation runs count). Over UTF-8 bytes that is: bytes of [A-Za-z0-9_]
 * build tokens, every other byte ends one, except UTF-8 continuation bytes (0x80-0xBF), which
 * belong to the separator their lead byte already counted.
 *
 * Hashing: each token once (FNV-1a, then murmur3's finalizer), each shingle once (its 5 token
 * hashes mixed to 32 bits, like datasketch's sha1_hash32 gives 32 bits), then the permutations on
 * that one 32-bit value: x -> a_i * x + b_i (mod 2^32) with odd a_i, a bijection of the 32-bit
 * space, a_i and b_i drawn from the run's seed. Repeated shingles are dropped (a reused
 * open-addressing set) before the permutations, which cost numPerm operations per shingle.
 * Buffers are reused across documents: no allocation per token or shingle.
 */

/** murmur3's 32-bit finalizer: a well-mixed bijection of 32-bit integers. */
export function fmix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** splitmix32-style generator: the permutation seeds of a given pipeline seed. */
export function permutationSeeds(numPerm: number, seed: number): Uint32Array {
  const out = new Uint32Array(numPerm);
  let state = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < numPerm; i++) {
    state = (state + 0x9e3779b9) >>> 0;
    out[i] = fmix32(state ^ fmix32(i + 1));
  }
  return out;
}

/** Byte classes: 1 token byte [A-Za-z0-9_], 0 separator, 2 UTF-8 continuation byte (ignored). */
const BYTE_CLASS = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f) t[b] = 1;
    else if (b >= 0x80 && b <= 0xbf) t[b] = 2;
  }
  return t;
})();

const FNV_OFFSET = 0x811c9dc5;
const EMPTY_TOKEN = fmix32(FNV_OFFSET);

/**
 * Reusable scratch buffers for tokens and shingles: one per hasher, grown when a document needs
 * more, so signing allocates nothing per document in the steady state.
 */
export class ShingleBuffer {
  tokens = new Uint32Array(1 << 12);
  shingles = new Uint32Array(1 << 12);

  /** Hashes of `bytes`' tokens (BigCode's split) into `this.tokens`; returns their count. */
  tokenize(bytes: Uint8Array): number {
    // At most one token per byte, plus one.
    if (this.tokens.length < bytes.length + 1) this.tokens = new Uint32Array(Math.max(bytes.length + 1, this.tokens.length * 2));
    const out = this.tokens;
    let n = 0;
    let h = FNV_OFFSET;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const c = BYTE_CLASS[b]!;
      if (c === 1) h = Math.imul(h ^ b, 0x01000193);
      else if (c === 0) {
        out[n++] = h === FNV_OFFSET ? EMPTY_TOKEN : fmix32(h);
        h = FNV_OFFSET;
      }
    }
    out[n++] = h === FNV_OFFSET ? EMPTY_TOKEN : fmix32(h);
    return n;
  }

  /** Open-addressing set of this document's shingle hashes; a slot is live when its stamp is the document's. */
  private slots = new Uint32Array(1 << 13);
  private stamps = new Uint32Array(1 << 13);
  private stamp = 0;

  /**
   * Distinct hashes of the document's `ngram`-token shingles into `this.shingles` (in first-seen
   * order); returns their count. Real code repeats many shingles (about half on The Stack
   * sample: indentation, punctuation runs), and each distinct one costs numPerm operations.
   */
  shingle(bytes: Uint8Array, ngram: number): number {
    const nt = this.tokenize(bytes);
    if (nt < ngram) return 0; // BigCode: fewer tokens than the n-gram size give no shingle
    const count = nt - ngram + 1;
    if (this.shingles.length < count) this.shingles = new Uint32Array(Math.max(count, this.shingles.length * 2));
    let size = this.slots.length;
    while (size < 2 * count) size *= 2;
    if (size > this.slots.length) {
      this.slots = new Uint32Array(size);
      this.stamps = new Uint32Array(size);
      this.stamp = 0;
    }
    if (++this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    const stamp = this.stamp;
    const slots = this.slots;
    const stamps = this.stamps;
    const mask = size - 1;
    const t = this.tokens;
    const out = this.shingles;
    let n = 0;
    for (let s = 0; s < count; s++) {
      let h = 0x2545f491 ^ ngram;
      for (let k = 0; k < ngram; k++) h = Math.imul((h ^ t[s + k]!) >>> 0, 0x9e3779b1) ^ (h >>> 15);
      h = fmix32(h);
      for (let i = h & mask; ; i = (i + 1) & mask) {
        if (stamps[i] !== stamp) {
          stamps[i] = stamp;
          slots[i] = h;
          out[n++] = h;
          break;
        }
        if (slots[i] === h) break;
      }
    }
    return n;
  }
}

/** Distinct shingle hashes of a document, sorted (exact Jaccard, tests, diagnostics). */
export function shingleSet(bytes: Uint8Array, ngram: number, buffer = new ShingleBuffer()): Uint32Array {
  return buffer.shingles.slice(0, buffer.shingle(bytes, ngram)).sort();
}

/** Token hashes of a document, in order (tests). */
export function tokenHashes(bytes: Uint8Array): Uint32Array {
  const buffer = new ShingleBuffer();
  return buffer.tokens.slice(0, buffer.tokenize(bytes));
}

export class MinHasher {
  /** Multipliers (odd) and offsets of the permutations x -> a_i * x + b_i (mod 2^32). */
  readonly a: Int32Array;
  readonly b: Int32Array;
  private readonly buffer = new ShingleBuffer();

  constructor(
    readonly numPerm: number,
    readonly ngram: number,
    seed: number,
  ) {
    const seeds = new Int32Array(permutationSeeds(2 * numPerm, seed).buffer);
    this.a = new Int32Array(numPerm);
    this.b = new Int32Array(numPerm);
    for (let i = 0; i < numPerm; i++) {
      this.a[i] = seeds[2 * i]! | 1;
      this.b[i] = seeds[2 * i + 1]!;
    }
  }

  /**
   * Writes the signature of `bytes` into `out[offset .. offset + numPerm)`; returns false (and
   * writes nothing) for a document with fewer tokens than the shingle size.
   */
  signInto(bytes: Uint8Array, out: Int32Array, offset: number): boolean {
    const n = this.buffer.shingle(bytes, this.ngram);
    if (n === 0) return false;
    const shingles = new Int32Array(this.buffer.shingles.buffer, 0, n);
    const P = this.numPerm;
    const A = this.a;
    const B = this.b;
    // Four permutations per pass over the shingles, their running minimums in registers.
    let i = 0;
    for (; i + 4 <= P; i += 4) {
      const a0 = A[i]!, a1 = A[i + 1]!, a2 = A[i + 2]!, a3 = A[i + 3]!;
      const b0 = B[i]!, b1 = B[i + 1]!, b2 = B[i + 2]!, b3 = B[i + 3]!;
      let m0 = 0x7fffffff, m1 = 0x7fffffff, m2 = 0x7fffffff, m3 = 0x7fffffff;
      for (let s = 0; s < n; s++) {
        const x = shingles[s]!;
        const h0 = (Math.imul(x, a0) + b0) | 0;
        const h1 = (Math.imul(x, a1) + b1) | 0;
        const h2 = (Math.imul(x, a2) + b2) | 0;
        const h3 = (Math.imul(x, a3) + b3) | 0;
        if (h0 < m0) m0 = h0;
        if (h1 < m1) m1 = h1;
        if (h2 < m2) m2 = h2;
        if (h3 < m3) m3 = h3;
      }
      out[offset + i] = m0;
      out[offset + i + 1] = m1;
      out[offset + i + 2] = m2;
      out[offset + i + 3] = m3;
    }
    for (; i < P; i++) {
      const a = A[i]!;
      const b = B[i]!;
      let min = 0x7fffffff;
      for (let s = 0; s < n; s++) {
        const h = (Math.imul(shingles[s]!, a) + b) | 0;
        if (h < min) min = h;
      }
      out[offset + i] = min;
    }
    return true;
  }

  signature(bytes: Uint8Array): Int32Array | null {
    const out = new Int32Array(this.numPerm);
    return this.signInto(bytes, out, 0) ? out : null;
  }
}

/** Share of equal positions among the first `used` of two signatures (at offsets oa, ob of their arrays). */
export function signatureAgreement(sa: Int32Array, oa: number, sb: Int32Array, ob: number, used: number): number {
  let same = 0;
  for (let i = 0; i < used; i++) if (sa[oa + i] === sb[ob + i]) same++;
  return same / used;
}

/** Share of equal positions of two signatures stored in `sigs` at docs a and b. */
export function estimatedJaccard(sigs: Int32Array, numPerm: number, a: number, b: number): number {
  return signatureAgreement(sigs, a * numPerm, sigs, b * numPerm, numPerm);
}

/** Jaccard similarity of two sorted distinct hash sets. */
export function jaccardOfSets(sa: Uint32Array, sb: Uint32Array): number {
  if (sa.length === 0 && sb.length === 0) return 1;
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < sa.length && j < sb.length) {
    if (sa[i] === sb[j]) {
      inter++;
      i++;
      j++;
    } else if (sa[i]! < sb[j]!) i++;
    else j++;
  }
  return inter / (sa.length + sb.length - inter);
}

/** Exact Jaccard similarity of two documents' shingle sets (tests, diagnostics). */
export function exactJaccard(a: Uint8Array, b: Uint8Array, ngram: number): number {
  return jaccardOfSets(shingleSet(a, ngram), shingleSet(b, ngram));
}
