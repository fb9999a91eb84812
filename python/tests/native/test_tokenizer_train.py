"""tokenizer_train: seeded sample, StarCoder special tokens, byte-identical output."""

import json
import subprocess
import sys

from fixtures_native import STACK_SAMPLE, corpus, events_of, native_env, run_module, write_parquet

from kiln_native.tokenizer_train import SPECIAL_TOKENS, sample_documents

STACK_FILES = sorted(str(p) for p in (STACK_SAMPLE / "python").glob("*.parquet"))


def train(inputs, out, *extra, vocab=600, docs=300, seed=1, env=None, heldout=50):
    args = ["--input", *inputs, "--out", out, "--vocab-size", vocab, "--sample-docs", docs,
            "--min-frequency", 2, "--seed", seed, "--heldout-docs", heldout, *extra]
    if env is None:
        return run_module("kiln_native.tokenizer_train", *args)
    return subprocess.run([sys.executable, "-m", "kiln_native.tokenizer_train", *map(str, args)],
                          env=native_env(**env), capture_output=True, text=True, timeout=300)


def test_trains_a_byte_level_bpe_with_the_special_tokens_first(tmp_path):
    proc = train(STACK_FILES, tmp_path / "tok")
    assert proc.returncode == 0, proc.stderr
    [event] = events_of(proc.stdout)
    path = tmp_path / "tok" / "tokenizer.json"
    cpt = event.pop("chars_per_token")
    assert event == {"event": "tokenizer", "path": str(path), "vocab_size": 600, "docs": 300, "heldout_docs": 50}
    assert list(cpt) == ["Python"] and 1.5 < cpt["Python"] < 10
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    spec = json.loads(path.read_text())
    assert spec["pre_tokenizer"]["type"] == "ByteLevel" and spec["pre_tokenizer"]["add_prefix_space"] is False
    assert spec["decoder"]["type"] == "ByteLevel" and spec["model"]["type"] == "BPE"
    assert all(a["special"] for a in spec["added_tokens"])
    text = "def héllo(x):\n    return x  # ünïcode ✓ 🚀\n"
    ids = tok.encode(text).ids
    assert tok.decode(ids) == text  # byte-level: lossless on any text
    assert tok.encode("<|endoftext|><fim_prefix>a").ids[:2] == [0, 1]


def test_same_inputs_and_seed_give_the_same_bytes_whatever_the_order_and_threads(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    files = sorted(str(p) for p in (STACK_SAMPLE / "rust").glob("*.parquet")) + STACK_FILES
    assert train(files, a, seed=5).returncode == 0
    proc = train(list(reversed(files)), b, seed=5, env={"RAYON_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    c = tmp_path / "c"
    assert train(files, c, seed=6).returncode == 0
    assert (a / "tokenizer.json").read_bytes() != (c / "tokenizer.json").read_bytes()


def test_the_sample_is_seeded_and_skips_empty_documents(tmp_path):
    texts = corpus(50) + ["", None]
    path = write_parquet(tmp_path / "d.parquet", texts)
    first = sample_documents([str(path)], 10, seed=3)
    assert first == sample_documents([str(path)], 10, seed=3)
    assert first != sample_documents([str(path)], 10, seed=4)
    assert len(first) <= 10 and all(first)
    everything = sample_documents([str(path)], 1000, seed=3)
    assert everything == corpus(50)  # all rows, in file order, empties dropped


def test_empty_input_exits_2_with_an_error_event(tmp_path):
    path = write_parquet(tmp_path / "empty.parquet", [])
    proc = train([path], tmp_path / "out")
    assert proc.returncode == 2
    [event] = events_of(proc.stdout)
    assert event["event"] == "error"
    assert event["message"].startswith("no documents to train on")
    assert "tokenizer_train: no documents to train on" in proc.stderr
    assert not (tmp_path / "out" / "tokenizer.json").exists()


def test_a_file_without_content_column_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nocontent.parquet"
    pq.write_table(pa.table({"text": ["a"]}), path)
    proc = train([path], tmp_path / "out")
    assert proc.returncode == 2
    assert events_of(proc.stdout)[0]["message"] == f"{path}: no `content` column (columns: text)"
    proc = train([tmp_path / "missing.parquet"], tmp_path / "out")
    assert proc.returncode == 2 and "input file not found" in proc.stderr
    proc = train([path], tmp_path / "out", vocab=100)
    assert proc.returncode == 2 and "--vocab-size must be at least 261" in proc.stderr


def test_transformers_loads_the_folder_unchanged_and_encodes_like_tokenizers(tmp_path):
    proc = train(STACK_FILES, tmp_path / "tok", heldout=0)
    assert proc.returncode == 0, proc.stderr
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    auto = AutoTokenizer.from_pretrained(str(tmp_path / "tok"), local_files_only=True)
    fast = PreTrainedTokenizerFast.from_pretrained(str(tmp_path / "tok"), local_files_only=True)
    raw = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    text = "def f(x):\n    return x  # ✓\n"
    for tok in (auto, fast):
        assert tok.encode(text) == raw.encode(text).ids  # no bos/eos added
        assert tok.eos_token == "<|endoftext|>" and tok.eos_token_id == 0 and tok.pad_token_id == 0
        assert tok.convert_tokens_to_ids(SPECIAL_TOKENS) == [0, 1, 2, 3, 4]
        assert tok.decode(tok.encode(text)) == text
        assert set(SPECIAL_TOKENS) <= set(tok.all_special_tokens)


def test_heldout_chars_per_token_are_per_language_and_skip_the_training_sample(tmp_path):
    from kiln_native.tokenizer_train import heldout_documents, sample_rows

    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = corpus(60)
    path = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"content": texts, "lang": ["Go" if i % 3 else "Rust" for i in range(60)]}), path)
    training = set(sample_rows(60, 20, 7))
    heldout = heldout_documents([str(path)], 20, 25, 7)
    assert len(heldout) == 25 and {lang for _, lang in heldout} == {"Go", "Rust"}
    assert not {texts[r] for r in training} & {t for t, _ in heldout}
    proc = train([path], tmp_path / "tok", vocab=400, docs=20, seed=7, heldout=1000)
    assert proc.returncode == 0, proc.stderr
    [event] = events_of(proc.stdout)
    assert event["heldout_docs"] == 40 and set(event["chars_per_token"]) == {"Go", "Rust"}
