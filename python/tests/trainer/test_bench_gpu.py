"""The GPU benchmark script's CPU smoke mode, so that it runs when a GPU session calls it."""

import json
import subprocess
import sys

from conftest import PYTHON_DIR, trainer_env

SCRIPT = PYTHON_DIR.parent / "scripts" / "bench-gpu.py"


def test_bench_gpu_smoke_on_cpu_prints_one_result_per_configuration():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--batch-sizes", "1,2",
                           "--steps", "2"], env=trainer_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    head, results = lines[0], lines[1:]
    assert head["event"] == "bench" and head["data"] == "synthetic" and head["peak_flops"] is None
    assert head["params"] > 0 and head["flops_per_token"] > 6 * 0.5 * head["params"]
    assert [(r["micro_batch"], r["compile"], r["ac"]) for r in results] == [(1, False, False), (2, False, False)]
    assert all(r["tokens_per_s"] > 0 and r["mfu"] is None and r["seq_len"] == 128 for r in results)
    assert "tokens/s" in proc.stderr and "MFU" in proc.stderr


def test_bench_gpu_refuses_cuda_without_a_gpu_with_advice():
    import torch
    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, str(SCRIPT)], env=trainer_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "--device cpu --tiny" in proc.stderr


def test_bench_gpu_activation_checkpointing_axis_and_profile_on_cpu():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--batch-sizes", "1",
                           "--steps", "1", "--warmup", "0", "--ac", "both", "--profile", "--top-kernels", "4"],
                          env=trainer_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = [x for x in lines if x["event"] == "result"]
    assert [r["ac"] for r in results] == [False, True]
    # recomputing blocks in backward must not change the loss of the same step from the same weights
    assert abs(results[0]["loss"] - results[1]["loss"]) < 1e-5
    profile = next(x for x in lines if x["event"] == "profile")
    assert 1 <= len(profile["kernels"]) <= 4 and all(0 < k["share"] <= 1 for k in profile["kernels"])
    assert "top" in proc.stderr and "kernels" in proc.stderr
