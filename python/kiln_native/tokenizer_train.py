"""Train a byte-level BPE tokenizer (Hugging Face tokenizer.json) on a seeded document sample.

    python -m kiln_native.tokenizer_train --input A.parquet [B.parquet ...] --out DIR \
        --vocab-size 32768 --sample-docs 100000 --min-frequency 2 --seed 0 --heldout-docs 2000

Reads column `content`; picks `sample-docs` documents uniformly at random (seeded; the same for
the same files whatever their order on the command line) reading only the row groups it needs.
Special tokens, StarCoder's convention: 0 <|endoftext|>, 1 <fim_prefix>, 2 <fim_middle>,
3 <fim_suffix>, 4 <fim_pad>. Output: DIR/tokenizer.json (same bytes for the same input and seed)
with tokenizer_config.json and special_tokens_map.json beside it, so that
transformers.AutoTokenizer.from_pretrained(DIR) loads the folder as it is.

Held out: another seeded sample of `heldout-docs` rows that are NOT in the training sample is
encoded, and characters per token (Unicode code points / tokens, special tokens never counted)
are reported per language (column `lang`, "unknown" without it).

stdout: {"event":"tokenizer","path":"DIR/tokenizer.json","vocab_size":N,"docs":N,
         "heldout_docs":N,"chars_per_token":{"<lang>":x, ...}}
        {"event":"error","message":...} and exit 2 on bad input (no documents, no `content`).
"""

import argparse
import json
import random
from pathlib import Path

from kiln_trainer.events import FatalError, log, run_tool

from .native_io import CONTENT_COLUMN, open_parquet, sorted_inputs

SPECIAL_TOKENS = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)


LANG_COLUMN = "lang"
HELDOUT_SALT = 0x5EED  # the held-out sample's seed is derived from, never equal to, the training seed


def sample_rows(total: int, sample_docs: int, seed: int) -> list:
    """Seeded uniform sample of row numbers, sorted."""
    return sorted(random.Random(seed).sample(range(total), min(sample_docs, total)))


def read_rows(parquet: list, chosen: list, lang: bool = False) -> list:
    """Values of `content` (or (content, lang) pairs) at sorted global row numbers, empty and null
    documents dropped, in file/row order. Only the row groups holding a chosen row are read."""
    docs, start, k = [], 0, 0
    for pf in parquet:
        has_lang = lang and LANG_COLUMN in pf.schema_arrow.names
        for g in range(pf.num_row_groups):
            rows = pf.metadata.row_group(g).num_rows
            picked = []
            while k < len(chosen) and chosen[k] < start + rows:
                picked.append(chosen[k] - start)
                k += 1
            if picked:
                table = pf.read_row_group(g, columns=[CONTENT_COLUMN] + ([LANG_COLUMN] if has_lang else []))
                values = table.column(CONTENT_COLUMN)
                langs = table.column(LANG_COLUMN) if has_lang else None
                for i in picked:
                    text = values[i].as_py()
                    if text:
                        docs.append((text, (langs[i].as_py() if langs is not None else None) or "unknown")
                                    if lang else text)
            start += rows
    return docs


def sample_documents(files, sample_docs: int, seed: int) -> list:
    """A seeded uniform sample of rows (empty and null documents then dropped), in file/row order."""
    parquet = [open_parquet(f) for f in files]
    total = sum(pf.metadata.num_rows for pf in parquet)
    return read_rows(parquet, sample_rows(total, sample_docs, seed))


def heldout_documents(files, sample_docs: int, heldout_docs: int, seed: int) -> list:
    """(content, lang) of a seeded sample of the rows that the training sample left out."""
    parquet = [open_parquet(f) for f in files]
    total = sum(pf.metadata.num_rows for pf in parquet)
    training = set(sample_rows(total, sample_docs, seed))
    rest = [r for r in range(total) if r not in training]
    picked = sorted(random.Random(seed ^ HELDOUT_SALT).sample(rest, min(heldout_docs, len(rest))))
    return read_rows(parquet, picked, lang=True)


def chars_per_token(tokenizer, docs: list) -> dict:
    """{lang: characters / tokens} over (content, lang) pairs; text is never read as specials."""
    tokenizer.encode_special_tokens = True
    encoded = tokenizer.encode_batch([text for text, _ in docs], add_special_tokens=False)
    chars, tokens = {}, {}
    for (text, lang), enc in zip(docs, encoded):
        chars[lang] = chars.get(lang, 0) + len(text)
        tokens[lang] = tokens.get(lang, 0) + len(enc.ids)
    tokenizer.encode_special_tokens = False
    return {lang: round(chars[lang] / tokens[lang], 4) for lang in sorted(chars) if tokens[lang]}


def transformers_files(vocab_size: int) -> dict:
    """tokenizer_config.json and special_tokens_map.json: what AutoTokenizer needs besides
    tokenizer.json (no bos/eos added on encode, as the shards are built)."""
    special = {"bos_token": SPECIAL_TOKENS[0], "eos_token": SPECIAL_TOKENS[0], "pad_token": SPECIAL_TOKENS[0],
               "additional_special_tokens": SPECIAL_TOKENS[1:]}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **special, "unk_token": None,
              "clean_up_tokenization_spaces": False, "add_bos_token": False, "add_eos_token": False,
              "model_max_length": 1 << 30, "vocab_size": vocab_size}
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def train(files, out_dir: Path, vocab_size: int, sample_docs: int, min_frequency: int, seed: int,
          heldout_docs: int = 0):
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
    for name, content in transformers_files(tokenizer.get_vocab_size()).items():
        (out_dir / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)  # last: a folder with tokenizer.json is complete
    heldout = heldout_documents(files, sample_docs, heldout_docs, seed) if heldout_docs else []
    report = {"heldout_docs": len(heldout), "chars_per_token": chars_per_token(tokenizer, heldout)}
    return path, tokenizer.get_vocab_size(), len(docs), report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a byte-level BPE tokenizer on Parquet `content`.")
    parser.add_argument("--input", nargs="+", required=True, help="Parquet files with a `content` column")
    parser.add_argument("--out", required=True, help="output directory (tokenizer.json)")
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--sample-docs", type=int, default=100000, help="documents in the seeded sample")
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout-docs", type=int, default=2000,
                        help="documents outside the training sample for chars/token per language (0: none)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        if args.vocab_size < MIN_VOCAB:
            raise FatalError(f"--vocab-size must be at least {MIN_VOCAB} (256 bytes + 5 special tokens), got {args.vocab_size}")
        if args.sample_docs < 1 or args.min_frequency < 1:
            raise FatalError("--sample-docs and --min-frequency must be at least 1")
        if args.heldout_docs < 0:
            raise FatalError(f"--heldout-docs must be at least 0, got {args.heldout_docs}")
        files = sorted_inputs(args.input)
        path, vocab_size, docs, report = train(files, Path(args.out), args.vocab_size, args.sample_docs,
                                               args.min_frequency, args.seed, args.heldout_docs)
        events.emit("tokenizer", path=str(path.resolve()), vocab_size=vocab_size, docs=docs, **report)

    return run_tool("tokenizer_train", run)


if __name__ == "__main__":
    raise SystemExit(main())
