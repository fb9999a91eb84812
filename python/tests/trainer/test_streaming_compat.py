"""Our shards are MosaicML Streaming's own: StreamingDataset (local only, no network) reads the
merged, zstd-compressed output of the shard tool and gets the same tokens as kiln's reader."""

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
from fixtures_native import corpus, train_tokenizer, write_parquet

from kiln_native import shard
from kiln_trainer.data import MDSDataset

SEQ = 32


@pytest.mark.parametrize("compression", [None, "zstd"])
def test_streaming_dataset_reads_the_same_tokens_as_our_reader(tmp_path, compression):
    from streaming import StreamingDataset
    from tokenizers import Tokenizer

    tokenizer = train_tokenizer(tmp_path)
    a = write_parquet(tmp_path / "in" / "a.parquet", corpus(40))
    b = write_parquet(tmp_path / "in" / "b.parquet", [t.upper() for t in corpus(30)])
    args = ["--input", a, b, "--tokenizer", tokenizer, "--out", tmp_path / "out", "--seq-len", SEQ,
            "--val-fraction", 0.1, "--fim-rate", 0.5, "--fim-spm-rate", 0.5, "--seed", 1, "--size-limit", 2048]
    args += ["--compression", compression] if compression else []
    with contextlib.redirect_stdout(io.StringIO()):
        assert shard.main([str(x) for x in args]) == 0
    vocab = Tokenizer.from_file(str(tokenizer)).get_vocab_size()
    for split in ("train", "val"):
        index = json.loads((tmp_path / "out" / split / "index.json").read_text())
        parts = {s["raw_data"]["basename"].split("/")[0] for s in index["shards"]}
        assert index["version"] == 2 and parts <= {"part-00000", "part-00001"} and len(parts) >= (split == "train") + 1
        assert all(s["column_names"] == sorted(s["column_names"]) and s["compression"] == compression
                   for s in index["shards"])
        # Each reader gets its own copy: both decompress zstd shards next to the originals.
        theirs_dir, ours_dir = tmp_path / f"{split}-streaming", tmp_path / f"{split}-ours"
        shutil.copytree(tmp_path / "out" / split, theirs_dir)
        shutil.copytree(tmp_path / "out" / split, ours_dir)
        theirs = StreamingDataset(remote=None, local=str(theirs_dir), shuffle=False, batch_size=1)
        ours = MDSDataset(str(ours_dir), SEQ, vocab)
        assert len(theirs) == len(ours) > 0
        for i in range(len(ours)):
            assert np.array_equal(np.asarray(theirs[i]["tokens"]), ours[i])
