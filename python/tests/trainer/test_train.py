"""End-to-end runs of `python -m kiln_trainer.train` (and torchrun) on CPU, reading the events."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from conftest import free_port, parse_events, run_trainer, tiny_config, trainer_env
from kiln_trainer.events import EXIT_FATAL, EXIT_OK, EXIT_STOPPED


def kinds(events):
    return [e["event"] for e in events]


def losses(events):
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


@pytest.fixture(scope="module")
def full_run(mds_data, tmp_path_factory):
    """An uninterrupted 8-step run: the reference for the other tests."""
    root = tmp_path_factory.mktemp("full")
    (root / "config.json").write_text(json.dumps(tiny_config(checkpointEvery=3)))
    code, events, err = run_trainer("--config", root / "config.json", "--data", mds_data, "--out", root / "out")
    assert code == EXIT_OK, err
    return root, events


def test_full_run_emits_the_protocol_and_keeps_two_checkpoints(full_run):
    root, events = full_run
    write = ["checkpoint_start", "checkpoint"]  # the start tells the launcher's watchdog a write is under way
    assert kinds(events) == ["start"] + ["step"] * 3 + write + ["step", "eval"] \
        + ["step"] * 2 + write + ["step"] * 2 + ["eval"] + write + ["done"]
    start, done = events[0], events[-1]
    assert start == {"event": "start", "step": 0, "world_size": 1, "device": "cpu", "dtype": "float32",
                     "params": 37792, "resumed_from": None, "parallelism": "none", "compile": False,
                     "device_name": "cpu", "peak_flops": None}
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 9))
    assert [e["tokens_seen"] for e in steps] == [i * 8 * 31 for i in range(1, 9)]  # mbs 4 x accum 2 x 31
    assert all(e["mfu"] is None and e["tokens_per_s"] > 0 and e["lr"] > 0 for e in steps)
    assert all(e["grad_norm"] > 0 and e["max_memory_bytes"] > 10 << 20 for e in steps)  # RSS of torch alone
    assert all(e["seconds"] >= 0 for e in events if e["event"] == "checkpoint")
    assert steps[-1]["loss"] < steps[0]["loss"]
    ckpt = str(root / "out" / "checkpoints" / "step_00000008")
    assert done == {"event": "done", "step": 8, "final_loss": steps[-1]["loss"], "checkpoint": ckpt}
    # checkpointEvery 3 -> steps 3, 6 and the final 8; only the newest two are kept
    assert sorted(os.listdir(root / "out" / "checkpoints")) == ["step_00000006", "step_00000008"]
    assert sorted(os.listdir(ckpt)) == ["_COMPLETE", "config.json", "model.safetensors", "optimizer.pt",
                                        "train_state.json"]
    state = json.loads(open(os.path.join(ckpt, "train_state.json")).read())
    assert state == {"step": 8, "tokens_seen": 1984, "loss": steps[-1]["loss"], "data": {"epoch": 0, "index": 64},
                     "seed": 7, "world_size": 1, "parallelism": "ddp"}
    assert json.loads(open(os.path.join(ckpt, "config.json")).read())["model"]["ffnHidden"] == 64


def test_stop_and_resume_is_bit_identical(full_run, mds_data, tmp_path):
    root, reference = full_run
    out = tmp_path / "out"
    args = ["--config", root / "config.json", "--data", mds_data, "--out", out]
    code, first, err = run_trainer(*args, "--max-steps-this-run", 4)
    assert code == EXIT_STOPPED, err
    ckpt = str(out / "checkpoints" / "step_00000004")
    assert first[-2]["event"] == "checkpoint" and first[-2]["path"] == ckpt
    assert first[-1] == {"event": "stopped", "step": 4, "reason": "max-steps", "checkpoint": ckpt}
    code, second, err = run_trainer(*args, "--resume", ckpt)
    assert code == EXIT_OK, err
    assert second[0]["step"] == 4 and second[0]["resumed_from"] == ckpt
    assert {**losses(first), **losses(second)} == losses(reference)  # exact float equality
    assert second[-1]["final_loss"] == reference[-1]["final_loss"]
    final = [load_file(d / "checkpoints" / "step_00000008" / "model.safetensors") for d in (out, root / "out")]
    assert all(final[0][k].equal(final[1][k]) for k in final[1])


def test_sigterm_checkpoints_and_exits_75_then_auto_resumes(mds_data, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(tiny_config(steps=10_000, checkpointEvery=10_000)))
    args = ["--config", tmp_path / "config.json", "--data", mds_data, "--out", tmp_path / "out"]
    proc = subprocess.Popen([sys.executable, "-m", "kiln_trainer.train", *map(str, args)], env=trainer_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "start"
        assert json.loads(proc.stdout.readline())["event"] == "step"
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_STOPPED, err
    events = parse_events(rest)
    assert kinds(events[-2:]) == ["checkpoint", "stopped"]
    stopped = events[-1]
    assert stopped["reason"] == "sigterm" and stopped["checkpoint"] == events[-2]["path"]
    assert os.path.isfile(os.path.join(stopped["checkpoint"], "train_state.json"))
    assert not [n for n in os.listdir(tmp_path / "out" / "checkpoints") if n.endswith(".tmp")]

    code, again, err = run_trainer(*args, "--resume", "auto", "--max-steps-this-run", 1)
    assert code == EXIT_STOPPED, err
    assert again[0]["resumed_from"] == stopped["checkpoint"] and again[0]["step"] == stopped["step"]
    assert again[1]["step"] == stopped["step"] + 1


def test_two_node_static_rendezvous_matches_one_process(full_run, mds_data, tmp_path):
    """Two torchrun "nodes" on localhost, micro-batch 2 each, see the same global batches as one
    process with micro-batch 4, so the losses agree (up to all-reduce rounding)."""
    _, reference = full_run
    (tmp_path / "config.json").write_text(json.dumps(tiny_config(steps=4, microBatchSize=2)))
    port = free_port()
    nodes = []
    for rank in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
               f"--node-rank={rank}", "--master-addr=127.0.0.1", f"--master-port={port}",
               "-m", "kiln_trainer.train", "--config", str(tmp_path / "config.json"),
               "--data", str(mds_data), "--out", str(tmp_path / f"node{rank}")]
        nodes.append(subprocess.Popen(cmd, env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outputs = []
    for proc in nodes:
        try:
            outputs.append(proc.communicate(timeout=150))
        finally:
            proc.kill()
    assert [p.returncode for p in nodes] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    events = parse_events(outputs[0][0])
    assert outputs[1][0] == ""  # rank 1 prints nothing on stdout
    assert events[0]["world_size"] == 2 and events[-1]["event"] == "done"
    assert kinds(events).count("step") == 4
    for step, loss in losses(events).items():
        assert loss == pytest.approx(losses(reference)[step], abs=1e-5)
    assert os.path.isdir(tmp_path / "node0" / "checkpoints" / "step_00000004")
    assert not os.path.exists(tmp_path / "node1" / "checkpoints")  # only rank 0 writes


def test_corrupt_data_is_a_fatal_error_event(mds_data, write_config, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(mds_data, data)
    shard = data / "train" / "shard.00001.mds"
    shard.write_bytes(shard.read_bytes()[:100])
    code, events, _ = run_trainer("--config", write_config(), "--data", data, "--out", tmp_path / "out")
    assert code == EXIT_FATAL
    assert kinds(events) == ["error"]
    assert "corrupt or unreadable MDS shard" in events[0]["message"] and "shard.00001.mds" in events[0]["message"]


def test_bad_config_is_a_fatal_error_event(mds_data, write_config, tmp_path):
    cfg = tiny_config()
    cfg["train"]["microBatch"] = 4
    code, events, _ = run_trainer("--config", write_config(cfg), "--data", mds_data, "--out", tmp_path / "out")
    assert code == EXIT_FATAL
    assert events == [{"event": "error", "message": events[0]["message"]}]
    assert events[0]["message"].startswith("unknown key train.microBatch in trainer config")


def test_trainer_dies_with_its_parent(mds_data, write_config, tmp_path):
    """torchrun SIGKILLed must not leave an orphan trainer holding the GPU (PR_SET_PDEATHSIG)."""
    pidfile = tmp_path / "pid"
    cmd = ["sh", "-c", '"$@" & echo $! > ' + str(pidfile) + "; wait", "sh", sys.executable, "-m", "kiln_trainer.train",
           "--config", str(write_config(steps=10_000)), "--data", str(mds_data), "--out", str(tmp_path / "out")]
    parent = subprocess.Popen(cmd, env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert json.loads(parent.stdout.readline())["event"] == "start"
        trainer = int(pidfile.read_text())
        parent.kill()
        parent.wait()
        for _ in range(100):
            try:
                with open(f"/proc/{trainer}/stat") as f:
                    if f.read().split(")")[-1].split()[0] in ("Z", "X"):
                        break  # dead, not yet reaped by init
            except FileNotFoundError:
                break
            time.sleep(0.1)
        else:
            os.kill(trainer, signal.SIGKILL)
            pytest.fail("the trainer outlived its parent")
    finally:
        parent.kill()


def test_diverged_loss_is_a_fatal_error_event(mds_data, write_config, tmp_path):
    code, events, _ = run_trainer("--config", write_config(lr=1e30, warmupSteps=0), "--data", mds_data,
                                  "--out", tmp_path / "out")
    assert code == EXIT_FATAL
    assert events[-1]["event"] == "error" and "training diverged" in events[-1]["message"]


def test_sigkill_after_the_step_10_checkpoint_then_resume_matches_20_straight_steps(mds_data, tmp_path):
    """The issue's exactness test: 20 steps straight, against 10 steps + SIGKILL of the trainer
    (no chance to save anything more) + a resume for the last 10: the same loss at step 20."""
    (tmp_path / "config.json").write_text(json.dumps(tiny_config(steps=20, checkpointEvery=10, evalEvery=100)))
    args = ["--config", tmp_path / "config.json", "--data", mds_data]
    code, straight, err = run_trainer(*args, "--out", tmp_path / "straight")
    assert code == EXIT_OK, err

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "kiln_trainer.train", *map(str, args), "--out", str(out)],
                            env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "checkpoint" and event["step"] == 10:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(os.listdir(out / "checkpoints")) == ["step_00000010"]

    code, resumed, err = run_trainer(*args, "--out", out, "--resume", "auto")
    assert code == EXIT_OK, err
    assert resumed[0]["resumed_from"] == str(out / "checkpoints" / "step_00000010")
    assert [e["step"] for e in resumed if e["event"] == "step"] == list(range(11, 21))
    assert losses(resumed)[20] == losses(straight)[20]  # exact float equality
    assert losses(resumed) == {s: x for s, x in losses(straight).items() if s > 10}


def test_compile_trains_like_eager_and_keeps_hf_names(full_run, mds_data, write_config, tmp_path):
    """train.compile on CPU (inductor needs a C compiler, which CI has): the same losses up to
    kernel rounding, and checkpoints under the same names (compile works in place)."""
    _, reference = full_run
    code, events, err = run_trainer("--config", write_config(steps=3, compile=True, checkpointEvery=100),
                                    "--data", mds_data, "--out", tmp_path / "out", timeout=300)
    assert code == EXIT_OK, err
    assert events[0]["compile"] is True
    for step, loss in losses(events).items():
        assert loss == pytest.approx(losses(reference)[step], abs=1e-4)
    names = set(load_file(tmp_path / "out" / "checkpoints" / "step_00000003" / "model.safetensors"))
    assert names == set(load_file(os.path.join(reference[-1]["checkpoint"], "model.safetensors")))


def test_keep_checkpoints_prunes_to_the_newest_n_and_ignores_unfinished_ones(tmp_path):
    import torch
    from kiln_trainer.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
    from kiln_trainer.config import parse_config
    from kiln_trainer.model import Llama
    from kiln_trainer.train import build_optimizer
    cfg = parse_config(tiny_config())
    model = Llama(cfg.model)
    optimizer, scheduler = build_optimizer(model, cfg, torch.device("cpu"))
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, step, model, optimizer, scheduler, {"step": step}, cfg.to_json(), keep=3)
    (tmp_path / "checkpoints" / "step_00000050.tmp").mkdir()  # a write cut short
    assert [os.path.basename(p) for p in list_checkpoints(tmp_path)] == \
        ["step_00000020", "step_00000030", "step_00000040"]
    latest = latest_checkpoint(tmp_path)
    assert json.loads(open(os.path.join(latest, "_COMPLETE")).read()) == {"step": 40}
    assert load_checkpoint(latest, Llama(cfg.model)) == {"step": 40}
