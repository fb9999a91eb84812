/**
 * The intermediate files of dedup's map-reduce, under `<dedup stage dir>/_work/r<reducers>/`:
 * per partition a signature file, a metadata file and one band-bucket file per reducer; per
 * reducer a candidate-edge file; per partition a verified-edge file and a drop list. Each step
 * writes its files, then a `<step>.done.json` marker holding its summary: a retry or a re-run
 * finds the marker and returns the summary. The stage folder is content-addressed (input
 * fingerprint, params, seed, code version), so a marker can only describe these same inputs.
 * Binary files are little-endian typed arrays (every host kiln runs on is little-endian).
 */
import { joinUri } from '../../lib/manifest.js';

export const workFiles = (work: string) => ({
  signatures: (p: number) => joinUri(work, `sig-${p}.bin`),
  meta: (p: number) => joinUri(work, `meta-${p}.json`),
  bands: (p: number, k: number) => joinUri(work, `bands-${p}-${k}.bin`),
  edges: (k: number) => joinUri(work, `edges-${k}.bin`),
  /** Reducer k's near candidates whose first document is in partition p: what verify(p) reads. */
  nearEdges: (p: number, k: number) => joinUri(work, `near-edges/p-${p}/k-${k}.bin`),
  nearEdgesOf: (p: number) => joinUri(work, `near-edges/p-${p}/`),
  verified: (p: number) => joinUri(work, `verified-${p}.bin`),
  drops: (p: number) => joinUri(work, `drop-${p}.json`),
  done: (step: string) => joinUri(work, `${step}.done.json`),
});

export function bytesOf(a: Uint32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A Uint32Array view of a file's bytes (copied when unaligned). */
export function u32Of(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`corrupt dedup work file: ${bytes.byteLength} bytes is not a multiple of 4`);
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** A growable array of uint32 records. */
export class U32Builder {
  data: Uint32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Uint32Array(capacity);
  }
  push4(a: number, b: number, c: number, d: number): void {
    if (this.length + 4 > this.data.length) this.grow(this.length + 4);
    const x = this.data;
    const n = this.length;
    x[n] = a;
    x[n + 1] = b;
    x[n + 2] = c;
    x[n + 3] = d;
    this.length = n + 4;
  }
  push(...values: number[]): void {
    if (this.length + values.length > this.data.length) this.grow(this.length + values.length);
    for (const v of values) this.data[this.length++] = v;
  }
  private grow(min: number): void {
    let len = this.data.length * 2;
    while (len < min) len *= 2;
    const next = new Uint32Array(len);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Signature file: [rows, numPerm, hasSignature x rows, signature x rows*numPerm] as int32. */
export function encodeSignatures(rows: number, numPerm: number, has: Uint8Array, sigs: Int32Array): Uint8Array {
  const out = new Int32Array(2 + rows + rows * numPerm);
  out[0] = rows;
  out[1] = numPerm;
  for (let i = 0; i < rows; i++) out[2 + i] = has[i]!;
  out.set(sigs.subarray(0, rows * numPerm), 2 + rows);
  return bytesOf(out);
}

export interface SignatureFile {
  rows: number;
  numPerm: number;
  has: Int32Array;
  sigs: Int32Array;
}

export function decodeSignatures(bytes: Uint8Array): SignatureFile {
  const a = u32Of(bytes);
  const all = new Int32Array(a.buffer, a.byteOffset, a.length);
  const rows = all[0]!;
  const numPerm = all[1]!;
  if (all.length !== 2 + rows + rows * numPerm) throw new Error('corrupt dedup signature file');
  return { rows, numPerm, has: all.subarray(2, 2 + rows), sigs: all.subarray(2 + rows) };
}

/** Per-row metadata that clustering needs to rank a cluster's members. */
export interface PartitionMeta {
  uri: string;
  licence: (0 | 1)[];
  stars: number[];
  path: string[];
  repo: string[];
  /** First 16 bytes of the content's SHA-256, hex. */
  hash: string[];
}
