"""Tokenization throughput: kiln's shard path next to plain Python `tokenizers` encode_batch,
on the same files, in the same run. Prints tokens/s per core and tokens per CPU-second.

    npm run bench:tokenize -- --tokenizer DIR_OR_JSON [--input PARQUET_DIR_OR_FILES ...] [--jobs N] [--repeats R]

Default input: ../shared/data/stack-sample/data (every *.parquet below it).
Paths, each in a fresh process so that start-up (imports, tokenizer load) counts for both sides:
  - encode_batch: the documents' `content` read into memory first (not timed), then one
    Tokenizer.encode_batch call per 512 documents with RAYON_NUM_THREADS=1 (one core); also
    encode_batch_fast (the same ids without character offsets: what kiln calls).
  - kiln shard: kiln_native.shard end to end (read Parquet, FIM, encode, pack, write MDS and
    provenance), timed from the process's first line, imports included.
Both are run on one core (the per-core comparison the target is about: >= 1.0x) and on N cores
(N threads for encode_batch, N partition processes for kiln). Rounds interleave the paths and the
median of --repeats rounds is reported, so that other work on the machine hits both sides alike.
tokens/CPU-s divides by the CPU time the path used (all its threads and processes): the figure
least moved by other load. The load average is printed before and after.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Each probe prints one JSON line: docs, tokens, seconds (wall), cpu_seconds (self + children).
BASELINE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import pyarrow.parquet as pq
from tokenizers import Tokenizer
docs = [t for f in sys.argv[3:] for t in pq.read_table(f, columns=["content"]).column(0).to_pylist() if t]
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
read_cpu, read_s = cpu(), time.perf_counter() - t0   # reading the files is not encode_batch's work
start = time.perf_counter()
tok = Tokenizer.from_file(sys.argv[1])
tok.encode_special_tokens = True
encode = getattr(tok, sys.argv[2])
tokens = 0
for i in range(0, len(docs), 512):
    tokens += sum(len(e.ids) for e in encode(docs[i:i + 512], add_special_tokens=False))
print(json.dumps({"docs": len(docs), "tokens": tokens, "seconds": time.perf_counter() - start,
                  "cpu_seconds": cpu() - read_cpu}))
"""

KILN = r"""
import json, os, resource, sys, tempfile, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from kiln_native import shard
from kiln_trainer.events import Events
jobs, tokenizer, files = int(sys.argv[2]), sys.argv[3], sys.argv[4:]
with tempfile.TemporaryDirectory(prefix="kiln-bench-tok-") as out, open(os.devnull, "w") as null:
    stats = shard.shard(files, tokenizer, Path(out), 2048, 0.01, 0.5, 0, 1 << 26, Events(null),
                        fim_spm_rate=0.5, jobs=jobs)
seconds = time.perf_counter() - t0
s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
tokens = stats["train_tokens"] + stats["val_tokens"] + stats["dropped_tail_tokens"]
print(json.dumps({"docs": stats["docs"], "tokens": tokens, "seconds": seconds,
                  "cpu_seconds": s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime}))
"""


def parquet_files(paths) -> list:
    files = set()
    for p in map(Path, paths):
        files.update(str(f) for f in (p.rglob("*.parquet") if p.is_dir() else [p]))
    return sorted(files)


def probe(code: str, args: list, threads: int) -> dict:
    # RAYON_NUM_THREADS is inherited by kiln's spawned partition workers: one Rust thread each.
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def paths(tokenizer: str, files: list, jobs: int) -> list:
    """(name, cores, kind, thunk) for every path measured."""
    base = lambda method, threads: lambda: probe(BASELINE, [tokenizer, method, *files], threads)  # noqa: E731
    kiln = lambda n: lambda: probe(KILN, [str(REPO / "python"), str(n), tokenizer, *files], 1)  # noqa: E731
    rows = [("tokenizers encode_batch, 1 thread", 1, "base", base("encode_batch", 1)),
            ("tokenizers encode_batch_fast, 1 thread", 1, "fast", base("encode_batch_fast", 1)),
            ("kiln shard, 1 process", 1, "kiln", kiln(1))]
    if jobs > 1:
        rows += [(f"tokenizers encode_batch, {jobs} threads", jobs, "base", base("encode_batch", jobs)),
                 (f"kiln shard, {jobs} processes", jobs, "kiln", kiln(jobs))]
    return rows


def median_run(runs: list) -> dict:
    return {"docs": runs[0]["docs"], "tokens": runs[0]["tokens"],
            "seconds": statistics.median(r["seconds"] for r in runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs)}


def per_core(row) -> float:
    return row["tokens"] / row["seconds"] / row["cores"]


def per_cpu(row) -> float:
    return row["tokens"] / row["cpu_seconds"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json or its folder")
    parser.add_argument("--input", nargs="+", default=[str(REPO.parent / "shared" / "data" / "stack-sample" / "data")])
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="cores for the parallel paths (1: only the one-core paths)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object last")
    args = parser.parse_args(argv)
    tokenizer = str(Path(args.tokenizer) / "tokenizer.json") if Path(args.tokenizer).is_dir() else args.tokenizer
    files = parquet_files(args.input)
    if not files:
        parser.error(f"no Parquet files under {args.input}")
    load_before = os.getloadavg()
    print(f"{len(files)} Parquet file(s); {args.jobs} core(s) for the parallel paths "
          f"({len(os.sched_getaffinity(0))} available); {args.repeats} interleaved round(s); "
          f"load average {load_before[0]:.1f}", flush=True)
    measured = paths(tokenizer, files, args.jobs)
    runs = {name: [] for name, *_ in measured}
    for round_ in range(args.repeats):
        for name, _, _, thunk in measured:
            runs[name].append(thunk())
        print(f"  round {round_ + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    rows = [{"path": name, "cores": cores, "kind": kind, **median_run(runs[name])} for name, cores, kind, _ in measured]

    print(f"{'path':<40} {'docs':>7} {'tokens':>11} {'seconds':>8} {'tokens/s/core':>14} {'CPU s':>8} {'tokens/CPU-s':>13}")
    for r in rows:
        print(f"{r['path']:<40} {r['docs']:>7} {r['tokens']:>11} {r['seconds']:>8.2f} {per_core(r):>14.0f} "
              f"{r['cpu_seconds']:>8.2f} {per_cpu(r):>13.0f}")
    ratios = {}
    for cores in sorted({r["cores"] for r in rows}):
        kiln = next(r for r in rows if r["cores"] == cores and r["kind"] == "kiln")
        for base in (r for r in rows if r["cores"] == cores and r["kind"] != "kiln"):
            key = f"kiln/{base['kind']}@{cores}"
            ratios[key] = {"per_core": per_core(kiln) / per_core(base), "per_cpu_s": per_cpu(kiln) / per_cpu(base)}
            print(f"{kiln['path']} / {base['path']}: {ratios[key]['per_core']:.2f}x per core, "
                  f"{ratios[key]['per_cpu_s']:.2f}x per CPU-s")
    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. kiln's figures include its start-up, "
          "reading Parquet, FIM, packing and writing MDS + provenance, and count its end-of-text/FIM tokens; "
          "encode_batch's are encoding alone, on documents already in memory.")
    target = ratios["kiln/base@1"]["per_core"]
    print(f"target (kiln shard >= 1.0x encode_batch per core, one core each): {target:.2f}x "
          f"{'met' if target >= 1.0 else 'NOT met'}")
    if args.json:
        print(json.dumps({"rows": rows, "ratios": ratios, "load": [load_before[0], load_after[0]]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
