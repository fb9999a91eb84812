"""Reference MinHash implementations on the same documents as kiln, for the curation benchmark
and the dedup quality check. Reads the Parquet partitions given (in kiln's order: partitions
sorted by URI, rows in order) and prints one JSON object.

  signatures: times datasketch's and datatrove's signature computation (256 permutations,
              5-gram shingles of BigCode's split) over every document, in this one process.
  dedup:      datasketch MinHashLSH near-dedup (its own bands/rows for the threshold) plus exact
              dedup by SHA-256, union-find, one document kept per cluster by kiln's rank order.
"""
import argparse
import hashlib
import json
import re
import sys
import time

import numpy as np
import pyarrow.parquet as pq

NON_ALPHA = re.compile("[^A-Za-z_0-9]")  # BigCode near_deduplication/minhash_deduplication.py


def read_docs(paths):
    docs = []
    for p in paths:
        docs.extend(x if x is not None else "" for x in pq.read_table(p, columns=["content"]).column(0).to_pylist())
    return docs


def shingles(content, n):
    tokens = NON_ALPHA.split(content)
    if len(tokens) < n:
        return set()
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def bench_datasketch(docs, num_perm, ngram, seed):
    from datasketch import MinHash

    start = time.perf_counter()
    cpu = time.process_time()
    for d in docs:
        s = shingles(d, ngram)
        if s:
            m = MinHash(num_perm=num_perm, seed=seed)
            m.update_batch([x.encode("utf-8") for x in s])
    return time.perf_counter() - start, time.process_time() - cpu


def bench_datatrove(docs, num_buckets, hashes_per_bucket, ngram, seed):
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class BigcodeSplit(WordTokenizer):
        """BigCode's split instead of a natural-language word tokenizer: the same shingles as kiln."""

        def word_tokenize(self, text):
            return NON_ALPHA.split(text)

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            return [(0, len(text))]

    norm = TextNormConfig(lowercase=False, norm_whitespace=False, remove_punctuation=False, norm_unicode_diacritics=False,
                          norm_numbers=False, norm_weekdays=False, norm_monthnames=False)
    config = MinhashConfig(n_grams=ngram, num_buckets=num_buckets, hashes_per_bucket=hashes_per_bucket, seed=seed, norm_config=norm)
    step = MinhashDedupSignature(output_folder="/tmp/kiln-bench-datatrove-unused", config=config, language=BigcodeSplit())
    start = time.perf_counter()
    cpu = time.process_time()
    for d in docs:
        sh = step.get_shingles(d)
        if sh.shape[0] > 0:
            step.get_signature(sh)
    return time.perf_counter() - start, time.process_time() - cpu


def dedup_datasketch(docs, ranks, num_perm, ngram, threshold, seed):
    from datasketch import MinHash, MinHashLSH

    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first = {}
    for i, d in enumerate(docs):
        h = hashlib.sha256(d.encode("utf-8")).digest()
        if h in first:
            union(first[h], i)
        else:
            first[h] = i
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sigs = {}
    for i, d in enumerate(docs):
        s = shingles(d, ngram)
        if not s:
            continue
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([x.encode("utf-8") for x in s])
        sigs[i] = m
        lsh.insert(i, m)
    edges = set()
    for i, m in sigs.items():
        for j in lsh.query(m):
            if j != i:
                edges.add((min(i, j), max(i, j)))
    for a, b in edges:
        union(a, b)
    clusters = {}
    for i in range(len(docs)):
        clusters.setdefault(find(i), []).append(i)
    removed = []
    for members in clusters.values():
        if len(members) > 1:
            members.sort(key=lambda i: ranks[i])
            removed.extend(members[1:])
    return {"bands": lsh.b, "rows": lsh.r, "removed": sorted(removed), "edges": sorted(edges)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["signatures", "dedup"])
    ap.add_argument("--paths", required=True, help="JSON file: list of Parquet paths in kiln's order")
    ap.add_argument("--ranks", help="JSON file: rank position of every document (dedup)")
    ap.add_argument("--num-perm", type=int, default=256)
    ap.add_argument("--bands", type=int, default=25)
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default="datasketch,datatrove")
    a = ap.parse_args()
    docs = read_docs(json.load(open(a.paths)))
    out = {"docs": len(docs), "bytes": sum(len(d.encode("utf-8")) for d in docs)}
    if a.mode == "signatures":
        only = a.only.split(",")
        if "datasketch" in only:
            out["datasketch"] = dict(zip(["wall", "cpu"], bench_datasketch(docs, a.num_perm, a.ngram, a.seed)))
        if "datatrove" in only:
            out["datatrove"] = dict(zip(["wall", "cpu"], bench_datatrove(docs, a.bands, a.rows, a.ngram, a.seed)))
    else:
        ranks = json.load(open(a.ranks))
        out.update(dedup_datasketch(docs, ranks, a.num_perm, a.ngram, a.threshold, a.seed))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
