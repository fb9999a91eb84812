"""Tokenize documents and pack them into fixed-length samples in MosaicML Streaming (MDS) shards.

    python -m kiln_trainer.shard --input A.parquet [...] --tokenizer tokenizer.json --out DIR \
        --seq-len 2048 --val-fraction 0.01 --fim-rate 0.5 --seed 0 --size-limit 67108864

Documents (column `content`; input files sorted, rows in file order) go to val when a seeded
hash of their text falls below val-fraction (stable: a document, and every copy of it, always
lands in the same split). A seeded per-document draw turns fim-rate of them into
fill-in-the-middle examples at character level, in PSM order:
`<fim_prefix>prefix<fim_suffix>suffix<fim_middle>middle`. Each document's tokens are followed by
<|endoftext|>; a split's token stream is cut into samples of exactly seq-len tokens and the
shorter tail is dropped (and counted). Document text is encoded with special tokens disabled, so
a file that contains "<|endoftext|>" cannot forge a control token.

Output: DIR/train and DIR/val, each an MDS dataset (index.json + shard.NNNNN.mds) with one column
`tokens` of encoding `ndarray:int32` (llm-foundry's convention for pre-tokenized text).
Same bytes for the same inputs, tokenizer and seed.

stdout: {"event":"progress","docs":n} every 5,000 documents, then
        {"event":"shards","train_samples":..,"val_samples":..,"train_tokens":..,"val_tokens":..,
         "docs":..,"val_docs":..,"fim_docs":..,"skipped_docs":..,"dropped_tail_tokens":..,
         "seq_len":..,"shards":["train/shard.00000.mds", ...]}
"""

import argparse
import hashlib
import random
from pathlib import Path

import numpy as np

from .events import FatalError, log
from .native_io import iter_row_groups, run_tool, sorted_inputs

EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"
BATCH_DOCS = 512
PROGRESS_EVERY = 5000


def document_draws(text: str, seed: int):
    """(u_split, fim_rng) from a seeded hash of the text: the same for every copy of a document."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16,
                             key=f"kiln-shard-{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0**64, random.Random(int.from_bytes(digest[8:], "little"))


def fim_split(text: str, rng: random.Random):
    """Character-level (prefix, middle, suffix) at two uniform cut points."""
    a, b = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    return text[:a], text[a:b], text[b:]


class Packer:
    """Concatenates documents' tokens and writes every full seq_len window as one sample."""

    def __init__(self, writer, seq_len: int):
        self.writer, self.seq_len = writer, seq_len
        self.buffer = np.zeros(0, np.int32)
        self.samples = 0

    def add(self, pieces: list) -> None:
        self.buffer = np.concatenate([self.buffer, *pieces]) if pieces else self.buffer
        full = len(self.buffer) // self.seq_len
        for i in range(full):
            self.writer.write({"tokens": self.buffer[i * self.seq_len:(i + 1) * self.seq_len]})
        self.samples += full
        self.buffer = self.buffer[full * self.seq_len:]


class Sharder:
    def __init__(self, tokenizer, seq_len, val_fraction, fim_rate, seed):
        self.tokenizer, self.seq_len = tokenizer, seq_len
        self.val_fraction, self.fim_rate, self.seed = val_fraction, fim_rate, seed
        ids = {t: tokenizer.token_to_id(t) for t in (EOS, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX)}
        needed = [EOS] + ([FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX] if fim_rate > 0 else [])
        missing = [t for t in needed if ids[t] is None]
        if missing:
            raise FatalError(f"the tokenizer has no special token(s) {', '.join(missing)}")
        self.special = {t: np.array([i if i is not None else -1], np.int32) for t, i in ids.items()}
        self.stats = {"docs": 0, "val_docs": 0, "fim_docs": 0, "skipped_docs": 0}

    def plan(self, text: str):
        """(split, list of text pieces or special-token names) for one document."""
        u, rng = document_draws(text, self.seed)
        split = "val" if u < self.val_fraction else "train"
        if self.fim_rate > 0 and rng.random() < self.fim_rate:
            prefix, middle, suffix = fim_split(text, rng)
            self.stats["fim_docs"] += 1
            return split, [FIM_PREFIX, prefix, FIM_SUFFIX, suffix, FIM_MIDDLE, middle, EOS]
        return split, [text, EOS]

    def process(self, texts: list, packers: dict) -> None:
        plans = []
        for text in texts:
            if not text:
                self.stats["skipped_docs"] += 1
                continue
            split, parts = self.plan(text)
            self.stats["docs"] += 1
            self.stats["val_docs"] += split == "val"
            plans.append((split, parts))
        to_encode = [p for _, parts in plans for p in parts if p not in self.special]
        encoded = iter(self.tokenizer.encode_batch(to_encode, add_special_tokens=False))
        for split, parts in plans:
            pieces = [self.special[p] if p in self.special else np.asarray(next(encoded).ids, np.int32) for p in parts]
            packers[split].add(pieces)


def load_tokenizer(path: str):
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as error:  # noqa: BLE001 - tokenizers raises a bare Exception
        raise FatalError(f"{path}: not a readable tokenizer.json ({error})") from None
    tokenizer.encode_special_tokens = True  # text never turns into control tokens
    return tokenizer


def shard(files, tokenizer_path, out: Path, seq_len, val_fraction, fim_rate, seed, size_limit, events):
    from streaming import MDSWriter

    for split in ("train", "val"):
        if (out / split).exists() and any((out / split).iterdir()):
            raise FatalError(f"output directory {out / split} exists and is not empty")
    sharder = Sharder(load_tokenizer(tokenizer_path), seq_len, val_fraction, fim_rate, seed)
    columns = {"tokens": "ndarray:int32"}
    with MDSWriter(out=str(out / "train"), columns=columns, size_limit=size_limit, compression=None) as train_w, \
            MDSWriter(out=str(out / "val"), columns=columns, size_limit=size_limit, compression=None) as val_w:
        packers = {"train": Packer(train_w, seq_len), "val": Packer(val_w, seq_len)}
        batch, reported = [], 0
        for _, _, values in iter_row_groups(files):
            for text in values:
                batch.append(text)
                if len(batch) == BATCH_DOCS:
                    sharder.process(batch, packers)
                    batch = []
            if sharder.stats["docs"] - reported >= PROGRESS_EVERY:
                reported = sharder.stats["docs"]
                events.emit("progress", docs=reported)
        sharder.process(batch, packers)
    if sharder.stats["docs"] == 0:
        raise FatalError(f"no documents: the `content` of {len(files)} input file(s) is empty")
    shards = sorted(str(p.relative_to(out)) for p in out.glob("*/shard.*"))
    stats = {
        "train_samples": packers["train"].samples, "val_samples": packers["val"].samples,
        "train_tokens": packers["train"].samples * seq_len, "val_tokens": packers["val"].samples * seq_len,
        **sharder.stats,
        "dropped_tail_tokens": len(packers["train"].buffer) + len(packers["val"].buffer),
        "seq_len": seq_len, "shards": shards,
    }
    log(f"shard: {stats['docs']} documents -> {stats['train_samples']} train / {stats['val_samples']} val samples "
        f"of {seq_len} tokens in {len(shards)} shard(s)")
    return stats


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Tokenize Parquet `content` and pack it into MDS shards.")
    parser.add_argument("--input", nargs="+", required=True)
    parser.add_argument("--tokenizer", required=True, help="tokenizer.json")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seq-len", type=int, default=2048, help="tokens per sample")
    parser.add_argument("--val-fraction", type=float, default=0.01)
    parser.add_argument("--fim-rate", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size-limit", type=int, default=1 << 26, help="max bytes per shard file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        if args.seq_len < 2:
            raise FatalError(f"--seq-len must be at least 2, got {args.seq_len}")
        if not 0 <= args.val_fraction < 1:
            raise FatalError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
        if not 0 <= args.fim_rate <= 1:
            raise FatalError(f"--fim-rate must be in [0, 1], got {args.fim_rate}")
        if args.size_limit < 1024:
            raise FatalError(f"--size-limit must be at least 1024 bytes, got {args.size_limit}")
        files = sorted_inputs(args.input)
        stats = shard(files, args.tokenizer, Path(args.out), args.seq_len, args.val_fraction, args.fim_rate,
                      args.seed, args.size_limit, events)
        events.emit("shards", **stats)

    return run_tool("shard", run)


if __name__ == "__main__":
    raise SystemExit(main())
