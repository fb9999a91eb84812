"""Tokenize documents and pack them into fixed-length samples in MosaicML Streaming (MDS) shards.

    python -m kiln_native.shard --input A.parquet [...] --tokenizer tokenizer.json --out DIR \
        --seq-len 2048 --val-fraction 0.01 --fim-rate 0.5 --fim-spm-rate 0.5 --seed 0 \
        --size-limit 67108864 [--compression zstd] [--jobs N] [--parts NAME ...] [--no-merge]
    python -m kiln_native.shard --merge --out DIR     (only merge the parts already in DIR)

Partitions. Every input file is one partition, tokenized and packed on its own into
DIR/{train,val}/<part>/ (index.json, shard.NNNNN.mds, provenance.parquet); <part> is
`part-NNNNN` by the file's position in the sorted inputs, or the name given in --parts (aligned
with --input, so an orchestrator that fans files out over workers keeps one global naming). The
output therefore depends on the inputs and the seed only, never on --jobs or on how files are
spread over workers. A merge then writes DIR/{train,val}/index.json listing every part's shards
with `<part>/shard...` basenames: streaming.base.util.merge_index's layout, which
StreamingDataset and kiln's own reader both read.

Documents (column `content`) go to val when a seeded hash of their text falls below
val-fraction (a document, and every copy of it, always lands in the same split). A seeded
per-document draw turns fim-rate of them into fill-in-the-middle examples cut at two uniform
character positions; fim-spm-rate of those use SPM, the rest PSM. The token layouts follow
bigcode's Megatron-LM (StarCoder) `permute`:
    PSM  <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
    SPM  <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle
(prefix, middle and suffix are tokenized separately). Each document's tokens are followed by
<|endoftext|>; a partition's split is cut into samples of exactly seq-len tokens and the
shorter tail is dropped (and counted). Document text is encoded with special tokens disabled,
so a file that contains "<|endoftext|>" cannot forge a control token.

MDS: one column `tokens` of encoding `ndarray:int32` (llm-foundry's convention for
pre-tokenized text), index version 2, optionally zstd: the bytes streaming's MDSWriter and
merge_index write, by kiln_native.mds, which spares every worker streaming's torch import.
Provenance: provenance.parquet beside a part's shards has one row per (sample, document piece):
sample (index within the part's split), token_start/token_end (the piece's span in the sample),
doc_token_start (where the piece starts in the document's token stream), repo, path, lang, fim.
kiln_trainer.provenance maps global sample ids back to it.

stdout: {"event":"progress","docs":n} every 5,000 documents, then
        {"event":"shards","train_samples":..,"val_samples":..,"train_tokens":..,"val_tokens":..,
         "docs":..,"val_docs":..,"fim_docs":..,"spm_docs":..,"skipped_docs":..,
         "dropped_tail_tokens":..,"seq_len":..,"parts":[...],"shards":["train/part-00000/shard.00000.mds", ...]}
"""

import argparse
import functools
import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np

from kiln_trainer.events import FatalError, log, run_tool
from kiln_trainer.provenance import PROVENANCE_FILE

from .mds import TokenShardWriter, merge_index
from .native_io import CONTENT_COLUMN, open_parquet, sorted_inputs
from .tokenizer_train import SPECIAL_TOKENS

EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = SPECIAL_TOKENS[:4]  # <|endoftext|>, <fim_prefix>, <fim_middle>, <fim_suffix>
SPLITS = ("train", "val")
BATCH_DOCS = 512
PROGRESS_EVERY = 5000
# The Stack's columns that say where a document comes from; absent columns read as "".
SOURCE_COLUMNS = {"repo": "max_stars_repo_name", "path": "max_stars_repo_path", "lang": "lang"}
COUNTERS = ("docs", "val_docs", "fim_docs", "spm_docs", "skipped_docs")


def document_draws(text: str, seed: int):
    """(u_split, fim_rng) from a seeded hash of the text: the same for every copy of a document."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16,
                             key=f"kiln-shard-{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0**64, random.Random(int.from_bytes(digest[8:], "little"))


def fim_split(text: str, rng: random.Random):
    """Character-level (prefix, middle, suffix) at two uniform cut points."""
    a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    return text[:a], text[a:b], text[b:]


def fim_layout(prefix: str, middle: str, suffix: str, spm: bool) -> list:
    """Pieces (text or special-token names) of one FIM example, bigcode Megatron-LM order."""
    if spm:
        return [FIM_PREFIX, FIM_SUFFIX, suffix, FIM_MIDDLE, prefix, middle, EOS]
    return [FIM_PREFIX, prefix, FIM_SUFFIX, suffix, FIM_MIDDLE, middle, EOS]


class Packer:
    """Concatenates documents' tokens, writes every full seq_len window as one sample, and
    records which document pieces each sample holds."""

    def __init__(self, writer, seq_len: int):
        self.writer, self.seq_len = writer, seq_len
        self.buffer = np.zeros(0, np.int32)
        self.pending = []  # [source, start in buffer, end in buffer, offset in the document]
        self.samples = 0
        self.provenance = {k: [] for k in ("sample", "token_start", "token_end", "doc_token_start",
                                           "repo", "path", "lang", "fim")}

    def add(self, pieces: list, source: dict) -> None:
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        self.pending.append([source, len(self.buffer), len(self.buffer) + len(tokens), 0])
        self.buffer = np.concatenate([self.buffer, tokens])
        full = len(self.buffer) // self.seq_len
        for i in range(full):
            self.writer.write(self.buffer[i * self.seq_len:(i + 1) * self.seq_len])
            self._record(self.samples + i, i * self.seq_len)
        self.samples += full
        cut = full * self.seq_len
        self.buffer = self.buffer[cut:]
        kept = []
        for piece in self.pending:  # shift what is left into the new buffer's coordinates
            source, start, end, offset = piece
            if end > cut:
                kept.append([source, max(start, cut) - cut, end - cut, offset + max(0, cut - start)])
        self.pending = kept

    def _record(self, sample: int, lo: int) -> None:
        hi = lo + self.seq_len
        for source, start, end, offset in self.pending:
            if start < hi and end > lo:
                p = self.provenance
                p["sample"].append(sample)
                p["token_start"].append(max(start, lo) - lo)
                p["token_end"].append(min(end, hi) - lo)
                p["doc_token_start"].append(offset + max(0, lo - start))
                for key in ("repo", "path", "lang", "fim"):
                    p[key].append(source[key])

    def write_provenance(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = self.provenance
        table = pa.table({
            "sample": pa.array(p["sample"], pa.int64()),
            "token_start": pa.array(p["token_start"], pa.int32()),
            "token_end": pa.array(p["token_end"], pa.int32()),
            "doc_token_start": pa.array(p["doc_token_start"], pa.int64()),
            **{k: pa.array(p[k], pa.string()) for k in ("repo", "path", "lang", "fim")},
        })
        pq.write_table(table, path, compression="zstd")


class Sharder:
    def __init__(self, tokenizer, seq_len, val_fraction, fim_rate, seed, fim_spm_rate=0.0):
        self.tokenizer, self.seq_len = tokenizer, seq_len
        self.val_fraction, self.fim_rate, self.fim_spm_rate, self.seed = val_fraction, fim_rate, fim_spm_rate, seed
        ids = {t: tokenizer.token_to_id(t) for t in (EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)}
        needed = [EOS] + ([FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX] if fim_rate > 0 else [])
        missing = [t for t in needed if ids[t] is None]
        if missing:
            raise FatalError(f"the tokenizer has no special token(s) {', '.join(missing)}")
        self.special = {t: np.array([i if i is not None else -1], np.int32) for t, i in ids.items()}
        self.stats = dict.fromkeys(COUNTERS, 0)

    def plan(self, text: str):
        """(split, pieces: text or special-token names, fim mode or None) for one document."""
        u, rng = document_draws(text, self.seed)
        split = "val" if u < self.val_fraction else "train"
        if self.fim_rate > 0 and rng.random() < self.fim_rate:
            prefix, middle, suffix = fim_split(text, rng)
            spm = self.fim_spm_rate > 0 and rng.random() < self.fim_spm_rate
            self.stats["fim_docs"] += 1
            self.stats["spm_docs"] += spm
            return split, fim_layout(prefix, middle, suffix, spm), "spm" if spm else "psm"
        return split, [text, EOS], None

    def process(self, docs: list, packers: dict) -> None:
        """docs: (text, source) pairs; source holds repo, path and lang."""
        plans = []
        for text, source in docs:
            if not text:
                self.stats["skipped_docs"] += 1
                continue
            split, parts, fim = self.plan(text)
            self.stats["docs"] += 1
            self.stats["val_docs"] += split == "val"
            plans.append((split, parts, {**source, "fim": fim}))
        to_encode = [p for _, parts, _ in plans for p in parts if p not in self.special]
        # encode_batch_fast: the same ids as encode_batch without computing character offsets.
        encoded = iter(self.tokenizer.encode_batch_fast(to_encode, add_special_tokens=False))
        for split, parts, source in plans:
            pieces = [self.special[p] if p in self.special else np.asarray(next(encoded).ids, np.int32) for p in parts]
            packers[split].add(pieces, source)


def load_tokenizer(path: str):
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as error:  # noqa: BLE001 - tokenizers raises a bare Exception
        raise FatalError(f"{path}: not a readable tokenizer.json ({error})") from None
    tokenizer.encode_special_tokens = True  # text never turns into control tokens
    return tokenizer


def cached_tokenizer(path: str):
    """One load per worker process, not per partition (~0.1 CPU-s each for a 32k vocabulary);
    encoding keeps no state that changes ids. Keyed by the file's mtime and size too."""
    st = os.stat(path)
    return _load_tokenizer_once(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=1)
def _load_tokenizer_once(path: str, mtime_ns: int, size: int):
    return load_tokenizer(path)


def iter_documents(path: str):
    """Batches of (content, {repo, path, lang}) from one Parquet file, in row order."""
    pf = open_parquet(path)
    names = pf.schema_arrow.names
    columns = [CONTENT_COLUMN] + [c for c in SOURCE_COLUMNS.values() if c in names]
    for g in range(pf.num_row_groups):
        table = pf.read_row_group(g, columns=columns)
        values = {c: table.column(c).to_pylist() for c in columns}
        n = table.num_rows
        sources = [{k: str(values[c][i]) if c in values and values[c][i] is not None else ""
                    for k, c in SOURCE_COLUMNS.items()} for i in range(n)]
        yield list(zip(values[CONTENT_COLUMN], sources))


def part_dirs(out: Path, part: str) -> dict:
    return {split: out / split / part for split in SPLITS}


def shard_part(path, part, tokenizer_path, out: Path, seq_len, val_fraction, fim_rate, fim_spm_rate, seed,
               size_limit, compression=None, progress=None) -> dict:
    """Tokenize, FIM and pack one partition (one Parquet file) into out/{train,val}/<part>/."""
    dirs = part_dirs(out, part)
    for d in dirs.values():
        if d.exists() and any(d.iterdir()):
            raise FatalError(f"output directory {d} exists and is not empty")
    sharder = Sharder(cached_tokenizer(tokenizer_path), seq_len, val_fraction, fim_rate, seed, fim_spm_rate)
    writers = {s: TokenShardWriter(d, size_limit, compression) for s, d in dirs.items()}
    packers = {s: Packer(w, seq_len) for s, w in writers.items()}
    batch, reported = [], 0
    for docs in iter_documents(path):
        for doc in docs:
            batch.append(doc)
            if len(batch) == BATCH_DOCS:
                sharder.process(batch, packers)
                batch = []
        if progress and sharder.stats["docs"] - reported >= PROGRESS_EVERY:
            progress(sharder.stats["docs"] - reported)
            reported = sharder.stats["docs"]
    sharder.process(batch, packers)
    for split, writer in writers.items():
        writer.finish()
        packers[split].write_provenance(dirs[split] / PROVENANCE_FILE)
    return {
        **sharder.stats,
        "train_samples": packers["train"].samples, "val_samples": packers["val"].samples,
        "dropped_tail_tokens": len(packers["train"].buffer) + len(packers["val"].buffer),
    }


def _shard_part_job(args):
    return shard_part(*args)


def merge_parts(out: Path) -> list:
    """out/<split>/index.json over every out/<split>/part.../index.json (streaming's merge_index
    layout). Returns the part names, in order."""
    parts = set()
    for split in SPLITS:
        indexes = sorted((out / split).glob("*/index.json"))
        if not indexes:
            raise FatalError(f"no partitions to merge under {out / split} (expected <part>/index.json)")
        merge_index(indexes, out / split)
        parts.update(p.parent.name for p in indexes)
    return sorted(parts)


def listed_shards(out: Path) -> list:
    shards = []
    for split in SPLITS:
        index = json.loads((out / split / "index.json").read_text())
        for info in index["shards"]:
            data = info.get("zip_data") or info["raw_data"]
            shards.append(f"{split}/{data['basename']}")
    return shards


def shard(files, tokenizer_path, out: Path, seq_len, val_fraction, fim_rate, seed, size_limit, events,
          fim_spm_rate=0.0, compression=None, jobs=1, parts=None, merge=True):
    parts = parts or [f"part-{i:05d}" for i in range(len(files))]
    load_tokenizer(tokenizer_path)  # a bad tokenizer fails here, before any worker starts
    common = (tokenizer_path, out, seq_len, val_fraction, fim_rate, fim_spm_rate, seed, size_limit, compression)
    done = {"docs": 0}

    def progress(n):
        done["docs"] += n
        events.emit("progress", docs=done["docs"])

    if jobs <= 1 or len(files) <= 1:
        results = [shard_part(f, p, *common, progress=progress) for f, p in zip(files, parts)]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a forked child would inherit the tokenizers thread pool in an unknown state.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = []
            for stats in pool.map(_shard_part_job, [(f, p, *common) for f, p in zip(files, parts)]):
                results.append(stats)
                progress(stats["docs"])
    stats = {k: sum(r[k] for r in results) for k in results[0]}
    if stats["docs"] == 0:
        raise FatalError(f"no documents: the `content` of {len(files)} input file(s) is empty")
    if merge:
        merge_parts(out)
    shards = listed_shards(out) if merge else sorted(str(p.relative_to(out)) for p in out.glob("*/*/shard.*"))
    stats.update(train_tokens=stats["train_samples"] * seq_len, val_tokens=stats["val_samples"] * seq_len,
                 seq_len=seq_len, parts=parts, shards=shards)
    log(f"shard: {stats['docs']} documents -> {stats['train_samples']} train / {stats['val_samples']} val samples "
        f"of {seq_len} tokens in {len(shards)} shard(s), {len(parts)} partition(s)")
    return stats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Tokenize Parquet `content` and pack it into MDS shards.")
    parser.add_argument("--input", nargs="+")
    parser.add_argument("--tokenizer", help="tokenizer.json")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seq-len", type=int, default=2048, help="tokens per sample")
    parser.add_argument("--val-fraction", type=float, default=0.01)
    parser.add_argument("--fim-rate", type=float, default=0.5)
    parser.add_argument("--fim-spm-rate", type=float, default=0.0,
                        help="share of FIM documents in SPM order (the rest PSM)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size-limit", type=int, default=1 << 26, help="max bytes per shard file")
    parser.add_argument("--compression", choices=["zstd"], default=None)
    parser.add_argument("--jobs", type=int, default=1, help="partitions tokenized at once (processes)")
    parser.add_argument("--parts", nargs="+", help="partition names, one per --input, in the same order")
    parser.add_argument("--no-merge", action="store_true", help="write the partitions only")
    parser.add_argument("--merge", action="store_true", help="only merge the partitions already in --out")
    return parser.parse_args(argv)


def check_args(args) -> None:
    if args.merge:
        return
    if not args.input or not args.tokenizer:
        raise FatalError("--input and --tokenizer are required (or --merge)")
    if args.seq_len < 2:
        raise FatalError(f"--seq-len must be at least 2, got {args.seq_len}")
    if not 0 <= args.val_fraction < 1:
        raise FatalError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    for name in ("fim_rate", "fim_spm_rate"):
        if not 0 <= getattr(args, name) <= 1:
            raise FatalError(f"--{name.replace('_', '-')} must be in [0, 1], got {getattr(args, name)}")
    if args.size_limit < 1024:
        raise FatalError(f"--size-limit must be at least 1024 bytes, got {args.size_limit}")
    if args.jobs < 1:
        raise FatalError(f"--jobs must be at least 1, got {args.jobs}")
    if args.parts is not None:
        if len(args.parts) != len(args.input) or len(set(args.parts)) != len(args.parts):
            raise FatalError(f"--parts needs one distinct name per --input ({len(args.input)}), got {len(args.parts)}")
        bad = [p for p in args.parts if not p or "/" in p or p.startswith(".")]
        if bad:
            raise FatalError(f"--parts: invalid partition name(s) {bad}")


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        check_args(args)
        out = Path(args.out)
        if args.merge:
            parts = merge_parts(out)
            events.emit("merged", parts=parts, shards=listed_shards(out))
            return
        if args.parts is not None:  # the caller's order and names are the partitioning
            files = [str(Path(p)) for p in args.input]
            missing = [f for f in files if not Path(f).is_file()]
            if missing:
                raise FatalError(f"input file not found: {missing[0]}")
        else:
            files = sorted_inputs(args.input)
        stats = shard(files, args.tokenizer, out, args.seq_len, args.val_fraction, args.fim_rate, args.seed,
                      args.size_limit, events, fim_spm_rate=args.fim_spm_rate, compression=args.compression,
                      jobs=min(args.jobs, os.cpu_count() or 1), parts=args.parts, merge=not args.no_merge)
        events.emit("shards", **stats)

    return run_tool("shard", run)


if __name__ == "__main__":
    raise SystemExit(main())
