"""Train a byte-level BPE tokenizer (Hugging Face tokenizer.json) on a seeded document sample.

    python -m kiln_trainer.tokenizer_train --input A.parquet [B.parquet ...] --out DIR \
        --vocab-size 49152 --sample-docs 100000 --min-frequency 2 --seed 0

Reads column `content`; picks `sample-docs` documents uniformly at random (seeded; the same for
the same files whatever their order on the command line) reading only the row groups it needs.
Special tokens, StarCoder's convention: 0 <|endoftext|>, 1 <fim_prefix>, 2 <fim_middle>,
3 <fim_suffix>, 4 <fim_pad>. Output: DIR/tokenizer.json (same bytes for the same input and seed).

stdout: {"event":"tokenizer","path":"DIR/tokenizer.json","vocab_size":N,"docs":N}
        {"event":"error","message":...} and exit 2 on bad input (no documents, no `content`).
"""

import argparse
import random
from pathlib import Path

from .events import FatalError, log
from .native_io import CONTENT_COLUMN, open_parquet, run_tool, sorted_inputs

SPECIAL_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)


def sample_documents(files, sample_docs: int, seed: int) -> list:
    """A seeded uniform sample of rows (empty and null documents then dropped), in file/row order.

    Only the row groups holding a chosen row are read."""
    parquet = [open_parquet(f) for f in files]
    total = sum(pf.metadata.num_rows for pf in parquet)
    chosen = sorted(random.Random(seed).sample(range(total), min(sample_docs, total)))
    docs, start, k = [], 0, 0
    for pf in parquet:
        for g in range(pf.num_row_groups):
            rows = pf.metadata.row_group(g).num_rows
            picked = []
            while k < len(chosen) and chosen[k] < start + rows:
                picked.append(chosen[k] - start)
                k += 1
            if picked:
                values = pf.read_row_group(g, columns=[CONTENT_COLUMN]).column(0)
                docs.extend(v for v in (values[i].as_py() for i in picked) if v)
            start += rows
    return docs


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def train(files, out_dir: Path, vocab_size: int, sample_docs: int, min_frequency: int, seed: int):
    from tokenizers import pre_tokenizers, trainers

    docs = sample_documents(files, sample_docs, seed)
    if not docs:
        raise FatalError(f"no documents to train on: the `content` of {len(files)} input file(s) is empty")
    log(f"tokenizer: training a {vocab_size}-token byte-level BPE on {len(docs)} documents")
    tokenizer = build_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(docs, trainer=trainer, length=len(docs))
    for expected_id, token in enumerate(SPECIAL_TOKENS):
        assert tokenizer.token_to_id(token) == expected_id, (token, tokenizer.token_to_id(token))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "tokenizer.json"
    tmp = path.with_suffix(".json.tmp")
    tokenizer.save(str(tmp), pretty=True)
    tmp.replace(path)
    return path, tokenizer.get_vocab_size(), len(docs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a byte-level BPE tokenizer on Parquet `content`.")
    parser.add_argument("--input", nargs="+", required=True, help="Parquet files with a `content` column")
    parser.add_argument("--out", required=True, help="output directory (tokenizer.json)")
    parser.add_argument("--vocab-size", type=int, default=49152)
    parser.add_argument("--sample-docs", type=int, default=100000, help="documents in the seeded sample")
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        if args.vocab_size < MIN_VOCAB:
            raise FatalError(f"--vocab-size must be at least {MIN_VOCAB} (256 bytes + 5 special tokens), got {args.vocab_size}")
        if args.sample_docs < 1 or args.min_frequency < 1:
            raise FatalError("--sample-docs and --min-frequency must be at least 1")
        files = sorted_inputs(args.input)
        path, vocab_size, docs = train(files, Path(args.out), args.vocab_size, args.sample_docs,
                                       args.min_frequency, args.seed)
        events.emit("tokenizer", path=str(path.resolve()), vocab_size=vocab_size, docs=docs)

    return run_tool("tokenizer_train", run)


if __name__ == "__main__":
    raise SystemExit(main())
