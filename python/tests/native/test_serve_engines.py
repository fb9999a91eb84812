"""engines: the interface in-process (ct2 against the transformers reference, token for token;
batching; the text layer), the deploy's prepare tool (conversion + check, a mismatch named), and
vllm's clear refusal where it is not installed."""

import json
import shutil
import subprocess
import sys

import pytest
from fixtures_native import events_of, native_env, shared_tiny_model

from kiln_native.engines.base import Job, Sampling, generate_ids
from kiln_native.engines.prepare import compare
from kiln_native.engines.api import Sequence


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from kiln_native.engines.ct2 import CT2Engine, convert
    from kiln_native.engines.hf import HFEngine

    ct2_dir = convert(str(shared_tiny_model()), str(tmp_path_factory.mktemp("ct2") / "ct2"))
    hf = HFEngine(str(shared_tiny_model()), threads=1).start()
    ct2 = CT2Engine(str(shared_tiny_model()), ct2_dir=str(ct2_dir), device="cpu", threads=1)  # started by the tests
    yield hf, ct2, ct2_dir
    hf.close()
    ct2.close()


def test_ct2_float32_greedy_equals_transformers_token_for_token(engines):
    hf, ct2, _ = engines
    if not ct2.thread.is_alive():
        ct2.start()
    rows = compare(hf, ct2, 24)
    assert len(rows) == 9 and any(r["prompt"].startswith("FIM") for r in rows)
    assert [r["first_mismatch"] for r in rows] == [None] * len(rows)
    assert all(r["tokens"] > 0 and r["candidate"] == r["reference"] for r in rows)


def test_waiting_requests_share_one_batch_and_get_what_they_would_alone(engines):
    from kiln_native.engines.ct2 import CT2Engine

    hf, _, ct2_dir = engines
    tok = hf.tokenizer
    prompts = [tok.encode(p) for p in ("def add(a, b):\n", "x", "class Stack:\n    def push(self, x):\n")]
    fresh = CT2Engine(str(shared_tiny_model()), ct2_dir=str(ct2_dir), device="cpu", threads=1)
    # Submitted before the scheduler starts: it finds all three waiting and runs them as one batch.
    jobs = [fresh.submit(Job(ids, 6 + 3 * k, Sampling())) for k, ids in enumerate(prompts)]
    fresh.start()
    batched = []
    for job in jobs:
        out = []
        while (event := job.events.get())[1] is not None:
            out.append(event[1])
        batched.append(out)
    assert fresh.stats == {"batches": 1, "jobs": 3, "max_jobs_per_batch": 3}
    alone = [generate_ids(fresh, ids, 6 + 3 * k) for k, ids in enumerate(prompts)]
    fresh.close()
    assert batched == alone
    assert [len(b) for b in batched] == [6, 9, 12] or any(tok.eos in b for b in batched)
    assert alone == [generate_ids(hf, ids, 6 + 3 * k) for k, ids in enumerate(prompts)]


def test_sampled_jobs_with_a_seed_never_share_a_batch():
    greedy, sampled, seeded = Sampling(), Sampling(0.8, 0.9), Sampling(0.8, 0.9, seed=1)
    assert greedy.batch_key(1) == greedy.batch_key(2) == Sampling(0, 0.5).batch_key(3)
    assert sampled.batch_key(1) == sampled.batch_key(2) != greedy.batch_key(1)
    assert seeded.batch_key(1) != seeded.batch_key(2)


def test_stop_strings_never_reach_a_stream(engines):
    hf, _, _ = engines
    tok = hf.tokenizer
    ids = tok.encode("x = 1\ndef f():\n    return 2\n")
    seq = Sequence(tok, ["\ndef"])
    pieces = [seq.add(t) for t in ids]
    assert "".join(pieces) == "x = 1" == seq.text and seq.reason == "stop"
    assert seq.add(ids[0]) == ""  # nothing after the stop
    plain = Sequence(tok, [])
    assert "".join(plain.add(t) for t in ids) + plain.flush() == "x = 1\ndef f():\n    return 2\n"
    eos = Sequence(tok, [])
    assert "".join(eos.add(t) for t in [*tok.encode("ab"), tok.eos, *tok.encode("cd")]) == "ab" and eos.reason == "stop"


def test_fim_prompt_is_the_psm_layout_of_training(engines):
    hf, _, _ = engines
    tok = hf.tokenizer
    p, s, m = (tok.tok.token_to_id(t) for t in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"))
    assert tok.fim_prompt("def f(", "):\n") == [p, *tok.encode("def f("), s, *tok.encode("):\n"), m]
    assert tok.encode("<fim_prefix>") != [p]  # text never turns into a control token


def test_prepare_converts_checks_and_names_a_prompt_that_disagrees(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    from kiln_native.engines import prepare
    from kiln_native.engines.ct2 import convert

    out = tmp_path / "ct2"
    assert prepare.main(["--model", str(shared_tiny_model()), "--out", str(out), "--max-new-tokens", "8"]) == 0
    events = events_of(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["converted", "prepared"]
    check = json.loads((out / "_CHECK.json").read_text())
    assert check == events[-1]["check"] and check["match"] is True and check["prompts"] == 9

    # A conversion of another model (the same one with its output layer negated) in place of the
    # right one: every greedy token differs, and the tool names the first prompt.
    other = tmp_path / "other"
    shutil.copytree(shared_tiny_model(), other, ignore=shutil.ignore_patterns("ct2"))
    weights = load_file(other / "model.safetensors")
    key = "lm_head.weight" if "lm_head.weight" in weights else "model.embed_tokens.weight"
    weights[key] = -weights[key]
    save_file({k: v.contiguous() for k, v in weights.items()}, other / "model.safetensors", metadata={"format": "pt"})
    wrong = convert(str(other), str(tmp_path / "wrong"))
    assert prepare.main(["--model", str(shared_tiny_model()), "--out", str(wrong), "--max-new-tokens", "4"]) == 2
    [error] = [e for e in events_of(capsys.readouterr().out) if e["event"] == "error"]
    assert error["message"].startswith("CTranslate2 (float32) and transformers disagree on check prompt "
                                       "'def fibonacci(n):\\n': greedy token 0 is ")
    assert not (wrong / "_CHECK.json").exists()


def test_vllm_without_vllm_fails_at_once_saying_what_to_do():
    proc = subprocess.run([sys.executable, "-m", "kiln_native.serve", "--engine", "vllm", "--model",
                           str(shared_tiny_model())], env=native_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    [event] = events_of(proc.stdout)
    assert event["event"] == "error"
    assert event["message"].startswith("engine vllm: the vllm package is not installed in this worker's Python "
                                       "environment (.venv)") and "deploy.engine" in event["message"]
