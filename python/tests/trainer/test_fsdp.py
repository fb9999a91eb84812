"""FSDP2 (torch.distributed.fsdp.fully_shard) on CPU: 2 ranks over gloo through torchrun.

One reference run in a single process; a 2-rank FSDP run must see the same losses (same global
batches, same initial weights), write a full checkpoint that export reads, and that checkpoint
must resume both under FSDP with 2 ranks and in a single process (another world size).
"""

import json
import subprocess
import sys

import pytest
from safetensors import safe_open

from conftest import free_port, parse_events, run_trainer, tiny_config, trainer_env
from kiln_trainer.events import EXIT_OK


def losses(events):
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


def torchrun(nproc: int, *args, timeout=150):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={nproc}",
           "--master-addr=127.0.0.1", f"--master-port={free_port()}", "-m", "kiln_trainer.train", *map(str, args)]
    proc = subprocess.run(cmd, env=trainer_env(), capture_output=True, text=True, timeout=timeout)
    return proc.returncode, parse_events(proc.stdout), proc.stderr


@pytest.fixture(scope="module")
def runs(mds_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("fsdp")
    one = dict(steps=6, checkpointEvery=3, evalEvery=100)
    (root / "single.json").write_text(json.dumps(tiny_config(**one)))
    (root / "fsdp.json").write_text(json.dumps(tiny_config(**one, microBatchSize=2, parallelism="fsdp")))
    code, reference, err = run_trainer("--config", root / "single.json", "--data", mds_data, "--out", root / "ref")
    assert code == EXIT_OK, err
    code, first, err = torchrun(2, "--config", root / "fsdp.json", "--data", mds_data, "--out", root / "fsdp",
                                "--max-steps-this-run", 3)
    # torchrun exits 1 when its workers exit 75 (stopped after a checkpoint): read the events.
    assert first and first[-1]["event"] == "stopped", err[-3000:]
    assert "exitcode  : 75" in err
    return root, reference, first


def test_fsdp_on_two_ranks_matches_one_process(runs):
    _, reference, first = runs
    assert first[0]["world_size"] == 2 and first[0]["parallelism"] == "fsdp"
    assert first[0]["params"] == reference[0]["params"]
    assert sorted(losses(first)) == [1, 2, 3]
    for step, loss in losses(first).items():
        assert loss == pytest.approx(losses(reference)[step], abs=1e-5)
    grad_norms = {e["step"]: e["grad_norm"] for e in reference if e["event"] == "step"}
    for e in first:
        if e["event"] == "step":  # the global norm, not one shard's
            assert e["grad_norm"] == pytest.approx(grad_norms[e["step"]], rel=1e-4)
    assert first[-1]["event"] == "stopped" and first[-1]["step"] == 3


def test_fsdp_checkpoint_holds_full_tensors_under_hf_names(runs, mds_data):
    root, _, first = runs
    ckpt = first[-1]["checkpoint"]
    with safe_open(f"{ckpt}/model.safetensors", "pt") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    with safe_open(str(root / "ref" / "checkpoints" / "step_00000006" / "model.safetensors"), "pt") as f:
        assert shapes == {k: f.get_slice(k).get_shape() for k in f.keys()}
    assert shapes["model.embed_tokens.weight"] == [300, 32]
    assert json.loads(open(f"{ckpt}/train_state.json").read())["parallelism"] == "fsdp"


def test_fsdp_checkpoint_resumes_in_one_process_under_ddp_and_under_fsdp(runs, mds_data):
    root, reference, first = runs
    ckpt = first[-1]["checkpoint"]
    want = {s: x for s, x in losses(reference).items() if s > 3}
    code, single, err = run_trainer("--config", root / "single.json", "--data", mds_data, "--out", root / "r1",
                                    "--resume", ckpt)
    assert code == EXIT_OK, err
    assert single[0]["resumed_from"] == ckpt and sorted(losses(single)) == [4, 5, 6]
    code, sharded, err = torchrun(2, "--config", root / "fsdp.json", "--data", mds_data, "--out", root / "r2",
                                  "--resume", ckpt)
    assert code == 0, err[-3000:]
    assert sharded[-1]["event"] == "done"
    (root / "ddp.json").write_text(json.dumps(tiny_config(steps=6, checkpointEvery=3, evalEvery=100, microBatchSize=2)))
    code, ddp, err = torchrun(2, "--config", root / "ddp.json", "--data", mds_data, "--out", root / "r3",
                              "--resume", ckpt)
    assert code == 0, err[-3000:]
    assert ddp[0]["parallelism"] == "ddp" and ddp[-1]["event"] == "done"
    for got in (losses(single), losses(sharded), losses(ddp)):
        for step, loss in got.items():
            assert loss == pytest.approx(want[step], abs=1e-5)
