"""Tokenization throughput: kiln's shard path next to plain Python `tokenizers` encode_batch,
on the same files, in the same run. Prints tokens/s and tokens/s per core.

    npm run bench:tokenize -- --tokenizer DIR_OR_JSON [--input PARQUET_DIR_OR_FILES ...] [--jobs N]

Default input: ../shared/data/stack-sample/data (every *.parquet below it).
  - encode_batch: all documents' `content` already in memory, one Tokenizer.encode_batch call per
    512 documents, in a fresh process with RAYON_NUM_THREADS=1 (one core) and =N (N cores); also
    encode_batch_fast on one core (the same ids without character offsets: what kiln calls).
  - kiln shard: kiln_native.shard end to end (read Parquet, FIM, encode, pack, write MDS and
    provenance), one process per partition (input file), N at a time, each with one Rust thread.
Per core = tokens/s divided by the cores the path was given; tokens/CPU-s divides by the CPU time
actually used (robust when other work shares the machine; kiln's includes its workers' imports).
The last lines print kiln's ratio to one-thread encode_batch (the target: >= 1.0) and _fast.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

BASELINE = r"""
import json, sys, time
import pyarrow.parquet as pq
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
tok.encode_special_tokens = True
encode = getattr(tok, sys.argv[2])
docs = [t for f in sys.argv[3:] for t in pq.read_table(f, columns=["content"]).column(0).to_pylist() if t]
start, cpu = time.perf_counter(), time.process_time()
tokens = 0
for i in range(0, len(docs), 512):
    tokens += sum(len(e.ids) for e in encode(docs[i:i + 512], add_special_tokens=False))
print(json.dumps({"docs": len(docs), "tokens": tokens, "seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu}))
"""


def parquet_files(paths) -> list:
    files = set()
    for p in map(Path, paths):
        files.update(str(f) for f in (p.rglob("*.parquet") if p.is_dir() else [p]))
    return sorted(files)


def baseline(tokenizer: str, files: list, threads: int, method: str = "encode_batch") -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", BASELINE, tokenizer, method, *files], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def kiln_path(tokenizer: str, files: list, jobs: int) -> dict:
    import resource

    def cpu_now():
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    os.environ["RAYON_NUM_THREADS"] = "1"  # inherited by the spawned partition workers
    with tempfile.TemporaryDirectory(prefix="kiln-bench-tok-") as out, open(os.devnull, "w") as null:
        start, cpu = time.perf_counter(), cpu_now()
        from kiln_native import shard  # kiln's imports count too
        from kiln_trainer.events import Events

        stats = shard.shard(files, tokenizer, Path(out), 2048, 0.01, 0.5, 0, 1 << 26, Events(null),
                            fim_spm_rate=0.5, jobs=jobs)
        seconds, cpu_seconds = time.perf_counter() - start, cpu_now() - cpu
    tokens = stats["train_tokens"] + stats["val_tokens"] + stats["dropped_tail_tokens"]
    return {"docs": stats["docs"], "tokens": tokens, "seconds": seconds, "cpu_seconds": cpu_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json or its folder")
    parser.add_argument("--input", nargs="+", default=[str(REPO.parent / "shared" / "data" / "stack-sample" / "data")])
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    tokenizer = str(Path(args.tokenizer) / "tokenizer.json") if Path(args.tokenizer).is_dir() else args.tokenizer
    files = parquet_files(args.input)
    print(f"{len(files)} Parquet file(s), {args.jobs} core(s) for the parallel paths "
          f"({len(os.sched_getaffinity(0))} available)", flush=True)
    rows = [("tokenizers encode_batch, 1 thread", 1, baseline(tokenizer, files, 1)),
            ("tokenizers encode_batch_fast, 1 thread", 1, baseline(tokenizer, files, 1, "encode_batch_fast")),
            (f"tokenizers encode_batch, {args.jobs} threads", args.jobs, baseline(tokenizer, files, args.jobs)),
            (f"kiln shard, {args.jobs} partition workers", args.jobs, kiln_path(tokenizer, files, args.jobs))]
    print(f"{'path':<40} {'docs':>7} {'tokens':>11} {'seconds':>8} {'tokens/s':>11} {'tokens/s/core':>14} "
          f"{'CPU s':>8} {'tokens/CPU-s':>13}")
    for name, cores, r in rows:
        rate = r["tokens"] / r["seconds"]
        print(f"{name:<40} {r['docs']:>7} {r['tokens']:>11} {r['seconds']:>8.2f} {rate:>11.0f} {rate / cores:>14.0f} "
              f"{r['cpu_seconds']:>8.2f} {r['tokens'] / r['cpu_seconds']:>13.0f}")
    def per_core(row):
        return row[2]["tokens"] / row[2]["seconds"] / row[1]

    def per_cpu(row):
        return row[2]["tokens"] / row[2]["cpu_seconds"]

    kiln = rows[-1]
    for base in rows[:2]:
        print(f"kiln / {base[0]}: {per_core(kiln) / per_core(base):.2f}x per core, "
              f"{per_cpu(kiln) / per_cpu(base):.2f}x per CPU-s")
    print("kiln shard includes reading Parquet, FIM, packing and writing MDS + provenance, and counts its "
          "end-of-text/FIM tokens; encode_batch is encoding alone, on documents already in memory.")


if __name__ == "__main__":
    main()
