"""scripts/gpu-check.py in its CPU smoke mode: the real trainer through torchrun on shards made on
the spot, a SIGTERM mid-run and the resume compared loss for loss, and the loader benchmark. The
GPU steps run the same code with other sizes, so a lent GPU's minutes go to measuring."""

import json
import subprocess
import sys

from conftest import PYTHON_DIR, trainer_env

SCRIPT = PYTHON_DIR.parent / "scripts" / "gpu-check.py"


def test_gpu_check_smoke_trains_stops_resumes_exactly_and_benches_the_loader(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out), "--only", "train,resume,loader"],
                          env=trainer_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    steps = json.loads((out / "summary.json").read_text())["steps"]
    assert list(steps) == ["train", "resume", "loader"]
    train, resume, loader = steps["train"], steps["resume"], steps["loader"]
    assert train["steps"] == 12 and train["loss_went_down"]
    # SIGTERM -> the trainer checkpoints at the next step boundary; the resume continues to the end
    assert 7 <= resume["sigterm_at_step"] < 12 and resume["resumed_steps"] == 12 - resume["sigterm_at_step"]
    assert resume["compared_steps"] == resume["resumed_steps"] and resume["bitwise_equal"] is True
    assert loader["headroom"] > 1 and loader["loader"]["samples_per_s"] > 0
    assert (out / "train.log").is_file() and (out / "resume-first.log").is_file()


def test_gpu_check_refuses_a_run_without_data_or_with_an_unknown_step(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], env=trainer_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--shards and --tokenizer are required" in proc.stderr
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path), "--only", "nope"],
                          env=trainer_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown step" in proc.stderr
