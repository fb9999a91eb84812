"""shard: tokenize, FIM, pack into MDS; read back with mosaicml-streaming itself."""

import contextlib
import io
import types

import numpy as np
import pytest
from fixtures_native import corpus, events_of, run_module, train_tokenizer, write_parquet

from kiln_native import shard
from kiln_native.shard import document_draws

SEQ = 32


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    return train_tokenizer(tmp_path_factory.mktemp("tok"))


def run_shard(inputs, tokenizer, out, *, seq=SEQ, val=0.2, fim=0.0, seed=3, size_limit=4096, subprocess=False, spm=None):
    """In-process by default (importing streaming takes seconds); `subprocess` runs the real CLI."""
    inputs = inputs if isinstance(inputs, list) else [inputs]
    args = ["--input", *inputs, "--tokenizer", tokenizer, "--out", out, "--seq-len", seq, "--val-fraction", val,
            "--fim-rate", fim, "--seed", seed, "--size-limit", size_limit]
    args += ["--fim-spm-rate", spm] if spm is not None else []
    if subprocess:
        return run_module("kiln_native.shard", *args)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = shard.main([str(a) for a in args])
    return types.SimpleNamespace(returncode=code, stdout=stdout.getvalue(), stderr="")


def read_split(path) -> list:
    from streaming import StreamingDataset

    dataset = StreamingDataset(local=str(path), shuffle=False, batch_size=1)
    return [np.asarray(dataset[i]["tokens"]) for i in range(len(dataset))]


def decode(tokenizer_json, ids) -> str:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_json)).decode([int(i) for i in ids], skip_special_tokens=False)


def test_samples_have_seq_len_tokens_and_decode_to_the_documents(tmp_path, tokenizer_json):
    texts = corpus(60) + ["", None]
    data = write_parquet(tmp_path / "in" / "a.parquet", texts)
    proc = run_shard(data, tokenizer_json, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    [stats] = events_of(proc.stdout)
    assert stats["event"] == "shards"
    assert (stats["docs"], stats["skipped_docs"], stats["fim_docs"], stats["seq_len"]) == (60, 2, 0, SEQ)
    assert len(stats["shards"]) > 2 and all(s.startswith(("train/part-00000/shard.", "val/part-00000/shard.")) for s in stats["shards"])
    assert all((tmp_path / "out" / s).is_file() for s in stats["shards"])

    train_docs = [t for t in texts if t and document_draws(t, 3)[0] >= 0.2]
    assert stats["val_docs"] == 60 - len(train_docs) > 0
    samples = read_split(tmp_path / "out" / "train")
    assert len(samples) == stats["train_samples"] and stats["train_tokens"] == len(samples) * SEQ
    assert all(s.dtype == np.int32 and s.shape == (SEQ,) for s in samples)
    text = decode(tokenizer_json, np.concatenate(samples))
    expected = "".join(t + "<|endoftext|>" for t in train_docs)
    assert expected.startswith(text) and len(expected) - len(text) < 4 * SEQ
    val = read_split(tmp_path / "out" / "val")
    assert len(val) == stats["val_samples"] and all(s.shape == (SEQ,) for s in val)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    total = sum(len(tok.encode(t).ids) + 1 for t in texts if t)
    assert total == (stats["train_samples"] + stats["val_samples"]) * SEQ + stats["dropped_tail_tokens"]


def test_fim_documents_are_psm_and_hold_the_whole_document(tmp_path, tokenizer_json):
    texts = corpus(20)
    data = write_parquet(tmp_path / "a.parquet", texts)
    proc = run_shard(data, tokenizer_json, tmp_path / "out", val=0.0, fim=1.0)
    assert proc.returncode == 0, proc.stderr
    stats = events_of(proc.stdout)[-1]
    assert stats["fim_docs"] == 20 and stats["spm_docs"] == 0 and stats["val_samples"] == 0
    text = decode(tokenizer_json, np.concatenate(read_split(tmp_path / "out" / "train")))
    docs = text.split("<|endoftext|>")[:-1]  # the last one may be cut by the dropped tail
    assert len(docs) >= 15
    for original, doc in zip(texts, docs):
        assert doc.startswith("<fim_prefix>")
        prefix, rest = doc[len("<fim_prefix>"):].split("<fim_suffix>")
        suffix, middle = rest.split("<fim_middle>")
        assert prefix + middle + suffix == original


def test_spm_documents_follow_bigcode_megatron_order_and_rates_come_from_the_flags(tmp_path, tokenizer_json):
    texts = corpus(20)
    data = write_parquet(tmp_path / "a.parquet", texts)
    proc = run_shard(data, tokenizer_json, tmp_path / "out", val=0.0, fim=1.0, spm=1.0)
    assert proc.returncode == 0, proc.stderr
    stats = events_of(proc.stdout)[-1]
    assert stats["fim_docs"] == stats["spm_docs"] == 20
    text = decode(tokenizer_json, np.concatenate(read_split(tmp_path / "out" / "train")))
    docs = text.split("<|endoftext|>")[:-1]
    assert len(docs) >= 15
    for original, doc in zip(texts, docs):
        assert doc.startswith("<fim_prefix><fim_suffix>")  # SPM: <pre><suf> suffix <mid> prefix middle
        suffix, prefix_middle = doc[len("<fim_prefix><fim_suffix>"):].split("<fim_middle>")
        assert original.endswith(suffix) and prefix_middle + suffix == original
    mixed = write_parquet(tmp_path / "b.parquet", corpus(300))
    proc = run_shard(mixed, tokenizer_json, tmp_path / "mixed", val=0.0, fim=0.5, spm=0.5)
    stats = events_of(proc.stdout)[-1]
    assert 110 < stats["fim_docs"] < 190 and 0.3 < stats["spm_docs"] / stats["fim_docs"] < 0.7


def test_same_inputs_and_seed_give_the_same_bytes_whatever_the_file_order(tmp_path, tokenizer_json):
    a = write_parquet(tmp_path / "in" / "a.parquet", corpus(40))
    b = write_parquet(tmp_path / "in" / "b.parquet", [t.upper() for t in corpus(40)])
    outs = []
    for name, inputs, seed, cli in [("x", [a, b], 3, False), ("y", [b, a], 3, True), ("z", [a, b], 4, False)]:
        proc = run_shard(inputs, tokenizer_json, tmp_path / name, fim=0.5, seed=seed, subprocess=cli)
        assert proc.returncode == 0, proc.stderr
        outs.append({p.relative_to(tmp_path / name): p.read_bytes() for p in sorted((tmp_path / name).rglob("*")) if p.is_file()})
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_copies_of_a_document_share_a_split_and_text_cannot_forge_special_tokens(tmp_path, tokenizer_json):
    assert document_draws("same text", 1)[0] == document_draws("same text", 1)[0]
    assert document_draws("same text", 1)[0] != document_draws("same text", 2)[0]
    forged = "x = '<|endoftext|><fim_prefix>'\n" * 8
    data = write_parquet(tmp_path / "a.parquet", [forged])
    proc = run_shard(data, tokenizer_json, tmp_path / "out", val=0.0)
    assert proc.returncode == 0, proc.stderr
    tokens = np.concatenate(read_split(tmp_path / "out" / "train"))
    assert not np.isin(tokens, [0, 1, 2, 3, 4]).any()  # the document's only eos fell in the dropped tail
    assert decode(tokenizer_json, tokens) == forged[:len(decode(tokenizer_json, tokens))]


@pytest.mark.parametrize("args, message", [
    ({"val": 1.0}, "--val-fraction must be in [0, 1), got 1.0"),
    ({"fim": 1.5}, "--fim-rate must be in [0, 1], got 1.5"),
    ({"seq": 1}, "--seq-len must be at least 2, got 1"),
    ({"size_limit": 10}, "--size-limit must be at least 1024 bytes, got 10"),
])
def test_bad_arguments_exit_2_naming_the_flag(tmp_path, tokenizer_json, args, message):
    data = write_parquet(tmp_path / "a.parquet", corpus(3))
    proc = run_shard(data, tokenizer_json, tmp_path / "out", **args)
    assert proc.returncode == 2
    assert events_of(proc.stdout) == [{"event": "error", "message": message}]


def test_bad_inputs_exit_2(tmp_path, tokenizer_json):
    empty = write_parquet(tmp_path / "empty.parquet", [])
    proc = run_shard(empty, tokenizer_json, tmp_path / "out", subprocess=True)
    assert proc.returncode == 2 and "no documents" in events_of(proc.stdout)[0]["message"]
    assert "shard: no documents" in proc.stderr
    bad_tok = tmp_path / "tok.json"
    bad_tok.write_text("{}")
    proc = run_shard(write_parquet(tmp_path / "a.parquet", corpus(3)), bad_tok, tmp_path / "out2")
    assert proc.returncode == 2 and "not a readable tokenizer.json" in events_of(proc.stdout)[0]["message"]
