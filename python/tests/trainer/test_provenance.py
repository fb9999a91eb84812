"""Provenance: every sample maps back to its documents' repo/path/lang and token spans; partitions
sharded apart and merged give the same bytes as one run; explain_step answers per rank."""

import contextlib
import io
import json

import numpy as np
import pytest
from fixtures_native import corpus, events_of, run_module, train_tokenizer

from kiln_native import shard
from kiln_trainer.data import MDSDataset, TrainLoader
from kiln_trainer.provenance import batch_sources

SEQ = 32


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    return train_tokenizer(tmp_path_factory.mktemp("tok"))


def write_stack_parquet(path, texts, repo):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(texts)
    pq.write_table(pa.table({
        "content": pa.array(texts, pa.string()),
        "lang": pa.array(["Python" if i % 2 else "Go" for i in range(n)], pa.string()),
        "max_stars_repo_name": pa.array([repo] * n, pa.string()),
        "max_stars_repo_path": pa.array([f"src/file_{i}.py" for i in range(n)], pa.string()),
    }), path, row_group_size=16)
    return path


def run_shard(*args) -> list:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = shard.main([str(a) for a in args])
    assert code == 0, stdout.getvalue()
    return events_of(stdout.getvalue())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("in")
    a = write_stack_parquet(root / "a.parquet", corpus(50), "org/alpha")
    b = write_stack_parquet(root / "b.parquet", [t.replace("def", "fn") + "// b\n" for t in corpus(40)], "org/beta")
    return a, b


def common(tokenizer_json, fim):
    return ["--tokenizer", tokenizer_json, "--seq-len", SEQ, "--val-fraction", 0.2, "--fim-rate", fim,
            "--fim-spm-rate", 0.5, "--seed", 5, "--size-limit", 2048]


def files_of(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_sample_maps_back_to_document_tokens(tmp_path, tokenizer_json, inputs):
    from tokenizers import Tokenizer

    out = tmp_path / "out"
    run_shard("--input", *inputs, "--out", out, *common(tokenizer_json, 0.0))
    tok = Tokenizer.from_file(str(tokenizer_json))
    docs = {}
    for path, repo in zip(inputs, ("org/alpha", "org/beta")):
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        for text, p, lang in zip(*(t.column(c).to_pylist() for c in ("content", "max_stars_repo_path", "lang"))):
            docs[(repo, p)] = (lang, tok.encode(text, add_special_tokens=False).ids + [0])
    for split in ("train", "val"):
        dataset = MDSDataset(str(out / split), SEQ, tok.get_vocab_size())
        ids = list(range(len(dataset)))
        assert len(ids) > 3
        seen_repos = set()
        for entry, sample in zip(batch_sources(str(out), split, ids), ids):
            assert entry["sample"] == sample and entry["sources"]
            tokens = dataset[sample]
            position = 0
            for s in entry["sources"]:
                assert s["token_start"] == position < s["token_end"]  # contiguous pieces
                position = s["token_end"]
                lang, doc = docs[(s["repo"], s["path"])]
                assert s["lang"] == lang and s["fim"] is None
                piece = doc[s["doc_token_start"]:s["doc_token_start"] + s["token_end"] - s["token_start"]]
                assert tokens[s["token_start"]:s["token_end"]].tolist() == piece
                seen_repos.add(s["repo"])
            assert position == SEQ
        assert seen_repos == {"org/alpha", "org/beta"}  # both partitions behind one merged index
    with pytest.raises(ValueError, match="out of range"):
        batch_sources(str(out), "train", [10**6])


def test_output_depends_on_inputs_not_on_parallelism_or_fan_out(tmp_path, tokenizer_json, inputs):
    a, b = inputs
    one = run_shard("--input", b, a, "--out", tmp_path / "one", *common(tokenizer_json, 0.5))[-1]
    assert one["fim_docs"] > one["spm_docs"] > 0 and one["parts"] == ["part-00000", "part-00001"]
    run_shard("--input", a, b, "--out", tmp_path / "jobs", "--jobs", 2, *common(tokenizer_json, 0.5))
    # What the pipeline does: one worker per file, names given by the workflow, then a merge.
    run_shard("--input", b, "--parts", "part-00001", "--no-merge", "--out", tmp_path / "fan", *common(tokenizer_json, 0.5))
    run_shard("--input", a, "--parts", "part-00000", "--no-merge", "--out", tmp_path / "fan", *common(tokenizer_json, 0.5))
    merged = run_shard("--merge", "--out", tmp_path / "fan")[-1]
    assert merged["parts"] == ["part-00000", "part-00001"] and merged["shards"] == one["shards"]
    reference = files_of(tmp_path / "one")
    assert files_of(tmp_path / "jobs") == reference
    assert files_of(tmp_path / "fan") == reference
    index = json.loads((tmp_path / "one" / "train" / "index.json").read_text())
    assert index["version"] == 2 and {s["raw_data"]["basename"].split("/")[0] for s in index["shards"]} == set(one["parts"])


def test_explain_step_names_the_files_of_each_ranks_batch(tmp_path, tokenizer_json, inputs):
    from tokenizers import Tokenizer

    out = tmp_path / "out"
    run_shard("--input", *inputs, "--out", out, *common(tokenizer_json, 0.5))
    vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab_size()
    config = tmp_path / "trainer.json"
    config.write_text(json.dumps({"seed": 9, "vocabSize": vocab, "seqLen": SEQ, "eosTokenId": 0,
                                  "model": {"nLayer": 1, "nHead": 2, "dModel": 16},
                                  "train": {"nodes": 2, "microBatchSize": 2, "gradAccum": 2}}))
    proc = run_module("kiln_trainer.explain_step", "--data", out, "--config", config, "--step", 3)
    assert proc.returncode == 0, proc.stderr
    [event] = events_of(proc.stdout)
    assert (event["step"], event["world_size"], event["grad_accum"]) == (3, 2, 2)
    dataset = MDSDataset(str(out / "train"), SEQ, vocab)
    for rank, entry in enumerate(event["ranks"]):
        loader = TrainLoader(dataset, 9, 2, rank, 2)
        for _ in range(4):  # steps 1 and 2, two micro-batches each
            loader.next_ids()
        expected = [int(i) for _ in range(2) for i in loader.next_ids()]
        assert [s["sample"] for s in entry["samples"]] == expected
        assert all(src["repo"] in ("org/alpha", "org/beta") and src["path"].startswith("src/file_")
                   for s in entry["samples"] for src in s["sources"])
    proc = run_module("kiln_trainer.explain_step", "--data", out, "--config", config, "--step", 0)
    assert proc.returncode == 2 and "--step must be at least 1" in proc.stderr
